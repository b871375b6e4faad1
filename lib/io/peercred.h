/* peercred.h - who is at the other end of a UNIX socket (SO_PEERCRED: the credentials the
 * peer had when it connected) and the trust rule of Posthorn's private sockets: the peer
 * runs as root, as our own uid or as one of a few allowed uids (mail_owner); doc/ipc.md.
 * Thread-safe; does not log. */
#ifndef POSTHORN_PEERCRED_H
#define POSTHORN_PEERCRED_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct peercred {
    pid_t pid;
    uid_t uid;
    gid_t gid;
};

/* 0, or -1 (errno) when sock is not a connected UNIX socket. */
int peercred_get(int sock, struct peercred *out);
/* True when uid is 0, getuid() or one of the n uids in allowed (allowed may be NULL). */
bool peercred_uid_trusted(uid_t uid, const uid_t *allowed, size_t n);

#endif
