/* fdpass.h - a message with one descriptor over a UNIX stream socket (SCM_RIGHTS), the one
 * implementation behind lib/ipc (doc/ipc.md) and the login handoff (doc/pop3d.md,
 * "Handoff protocol").
 *
 * The descriptor travels as ancillary data on the first byte of the message; the rest of
 * the message may follow in later sends. The receiving side is strict: a message carries
 * exactly one descriptor or none. Descriptors beyond the first (in one read or across the
 * reads of one message) are closed at once and reported, so a peer can neither leak
 * descriptors into us nor swap the one we check; received descriptors are close-on-exec.
 * Functions are thread-safe (they keep no state) and do not log. */
#ifndef POSTHORN_FDPASS_H
#define POSTHORN_FDPASS_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Send up to len bytes of data with fd attached to the first byte (fd < 0: none). flags
 * are send flags (e.g. MSG_DONTWAIT); MSG_NOSIGNAL is always added. Returns the bytes sent,
 * which may be fewer than len on a stream socket (send the rest with fd -1), or -1 (errno). */
ssize_t fdpass_send(int sock, const void *data, size_t len, int fd, int flags);

/* Receive up to size bytes. A descriptor that came with them is stored in *fd when *fd is
 * -1; any other descriptor (a second one in this read, or one while *fd is already held)
 * is closed and *extra set. flags are recv flags (MSG_DONTWAIT ...). Returns the bytes
 * read (0 at end of file) or -1 (errno); descriptors are handled in every case. */
ssize_t fdpass_recv(int sock, void *data, size_t size, int flags, int *fd, bool *extra);

/* For a complete message: NULL when exactly one descriptor came (fd >= 0, no extra),
 * otherwise why not. */
const char *fdpass_check_one(int fd, bool extra);

#endif
