/* unixsock.h - connecting to a local service's UNIX stream socket (SPOOL/private/NAME and
 * the like). One place builds the sockaddr (refusing a path that does not fit instead of
 * truncating it) and keeps errno meaningful on failure. */
#ifndef POSTHORN_UNIXSOCK_H
#define POSTHORN_UNIXSOCK_H
#include <stdbool.h>

/* A connected, close-on-exec socket (non-blocking when nonblock), or -1 with errno
 * (ENAMETOOLONG for a path longer than sun_path holds). */
int unix_connect(const char *path, bool nonblock);

#endif
