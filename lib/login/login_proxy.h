/* login_proxy.h - the TLS proxy a login process keeps after handing a TLS session to a
 * post-login process (doc/pop3d.md, "Process model"; as Dovecot does): TLS state cannot
 * travel with a descriptor, so the login process passes one end of a socketpair and relays bytes
 * between the client's TLS connection and the other end, in both directions, until
 * either side closes. Output is bounded: reading from one side pauses while the other
 * side has LOGIN_PROXY_HIGH bytes unsent. When one side ends, what it sent is still
 * delivered to the other side (within LOGIN_PROXY_CLOSE_MS), then both are closed. */
#ifndef POSTHORN_LOGIN_PROXY_H
#define POSTHORN_LOGIN_PROXY_H
#include "conn.h"
#include "event.h"

#define LOGIN_PROXY_HIGH (128 * 1024)
#define LOGIN_PROXY_CLOSE_MS 10000

struct login_proxy;
/* Take over client (its callbacks now go to the proxy) and pair_fd (the login process's
 * end of the socketpair, non-blocking). Input already buffered in client is relayed at
 * once. closed() runs once when both connections are gone (never from inside this call); the proxy
 * is freed after it. */
struct login_proxy *login_proxy_new(struct event_loop *loop, struct conn *client, int pair_fd,
                                    void (*closed)(void *ctx, const char *why), void *ctx);
/* Close both sides now (SIGTERM, drain deadline). closed() is called. */
void login_proxy_kill(struct login_proxy *p, const char *why);
/* Bytes relayed so far: client to server and server to client. */
void login_proxy_counts(const struct login_proxy *p, unsigned long long *in,
                        unsigned long long *out);

#endif
