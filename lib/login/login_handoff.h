/* login_handoff.h - handing an authenticated client connection from a login process
 * (mail_owner, no mailbox access) to a post-login process (vmail_owner) over a UNIX socket
 * in SPOOL/private, Dovecot-style (doc/pop3d.md, "Process model"). Both ends are
 * non-blocking and run on the event loop.
 *
 * Protocol (doc/pop3d.md, "Handoff"): the post-login side announces
 * "protocol=login version=1"; the login side sends one request with the client descriptor
 * attached (SCM_RIGHTS):
 *   request=login, service=pop3, user=ADDR, session=ID, method=PLAIN|LOGIN|USER,
 *   rip=, rport=, lip=, lport=, tls=yes|no, fd_id=DEV:INO [, input=BASE64]
 * and waits for "status=ok" or "status=fail, reason=TEXT". The check that the right
 * socket arrived: the receiver requires exactly one descriptor, a socket whose device and
 * inode equal fd_id; a TCP socket must have rip/rport as its peer, and a UNIX socket (the
 * plaintext end of a TLS proxy pair) must be held at its other end by the very process
 * that sent the request (SO_PEERCRED pids agree). The sender's uid must be root, the
 * receiver's own uid or one of the allowed uids (mail_owner). */
#ifndef POSTHORN_LOGIN_HANDOFF_H
#define POSTHORN_LOGIN_HANDOFF_H
#include "event.h"
#include "ipc.h"
#include <stdbool.h>
#include <sys/types.h>

#define HANDOFF_PROTOCOL "login"

/* A handoff's session id: 1 to 23 ASCII letters and digits (what the login skeleton makes). */
bool handoff_session_id_valid(const char *id);

/* "DEV:INO" of an open descriptor into out (at least 48 bytes); false on fstat failure. */
bool handoff_fd_id(int fd, char *out, size_t outsize);

/* --- login side --- */
struct handoff;
/* ok: the receiver took the descriptor (the caller may close its own copy now). */
typedef void (*handoff_fn)(void *ctx, bool ok, const char *err);
/* Connect to path and hand over fd with req (fd_id is added here). fn runs once, from the
 * loop, unless handoff_cancel() came first. */
struct handoff *handoff_start(struct event_loop *loop, const char *path, const struct attrs *req,
                              int fd, long timeout_ms, handoff_fn fn, void *ctx);
void handoff_cancel(struct handoff *h);

/* --- post-login side --- */
struct handoff_in;
/* req is NULL and fd -1 when the request failed (err says why; already logged by nobody).
 * Otherwise the callee owns fd and must answer with handoff_in_finish(). */
typedef void (*handoff_in_fn)(void *ctx, struct handoff_in *h, const struct attrs *req, int fd,
                              const char *err);
/* Serve one accepted connection: check the peer, announce, receive the request. */
struct handoff_in *handoff_in_start(struct event_loop *loop, int fd, uid_t allowed_uid,
                                    long timeout_ms, handoff_in_fn fn, void *ctx);
/* Send status=ok or status=fail with reason, close and free h. */
void handoff_in_finish(struct handoff_in *h, bool ok, const char *reason);

#endif
