/* anvil_client.h - asking the anvil service (SPOOL/private/anvil, doc/anvil.md) about a client
 * address before serving it: how many connections it has open with this service across every
 * process, how many it opened in the last anvil_rate_time_unit, and whether a login from it may
 * be checked now (and after which delay); and, for submission, whether an authenticated user
 * may send one more message or recipient (lib/global/send_limit.h).
 *
 * One client per process, one persistent non-blocking connection, requests answered in order.
 * Replies come back through callbacks on the event loop, never from inside the call that
 * made the request. When anvil cannot be reached, does not answer within anvil_timeout, or
 * says it is full, every waiting request is answered ANVIL_UNAVAILABLE and the caller falls
 * back to its own per-process limits (doc/anvil.md, "When anvil is gone": connections are
 * served, logins are slowed, never opened). A new connection is tried at most once a second.
 *
 * Counts held by a process (open connections, logins being checked) belong to its
 * connection to anvil: anvil forgets them when that connection closes. A reply carries the
 * generation of the connection that counted it; give it back when releasing, so nothing is
 * released twice or on a newer connection. Event loop thread only. */
#ifndef POSTHORN_ANVIL_CLIENT_H
#define POSTHORN_ANVIL_CLIENT_H
#include "config.h"
#include "event.h"
#include "send_limit.h"
#include <stdbool.h>

#define ANVIL_SOCKET "private/anvil"

enum anvil_status {
    ANVIL_OK,
    ANVIL_REFUSE,     /* a login: the address has reached max_failures; do not check.
                       * send: over the user's limit (not counted as sent) */
    ANVIL_WAIT,       /* a login: all of the address's attempts are being checked; ask
                       * again after delay_ms (nothing was reserved) */
    ANVIL_UNAVAILABLE /* no answer: use the process's own limits */
};

struct anvil_reply {
    enum anvil_status status;
    unsigned count;       /* connect: open connections of the address with this service */
    unsigned rate;        /* connect: connections in the current rate time unit */
    unsigned failures;    /* login: failed logins of the address within login_penalty_time */
    bool amnesic;         /* login: anvil restarted without its predecessor's counts less
                           * than login_penalty_time ago: failures may be too low */
    long delay_ms;        /* login: wait this long before checking the password */
    unsigned messages, recipients; /* send: the user's in the current unit */
    bool held, tripped;   /* send: the user's mail is held; this request went past a hard
                           * limit (send_limit.h) */
    unsigned generation;  /* of the anvil connection that counted it (0 when unavailable) */
};

typedef void (*anvil_fn)(void *ctx, const struct anvil_reply *r);

struct anvil_client;
struct anvil_req;

/* service: how this process's connections are counted ("smtpd", "pop3"). Reads
 * anvil_timeout from cfg. Nothing is connected before the first request. */
struct anvil_client *anvil_client_new(struct event_loop *loop, struct config *cfg,
                                      const char *spool, const char *service);
void anvil_client_free(struct anvil_client *ac);
/* fn runs each time a connection to anvil is made, before any request is sent on it; with
 * it set, a connection that breaks is made again (after the retry pause) without waiting
 * for a request, so that fn reaches a restarted anvil soon. */
void anvil_client_on_connect(struct anvil_client *ac, void (*fn)(void *ctx), void *ctx);
/* Tell anvil of failed logins this process counted for addr (the last age_ms ago): a
 * restarted anvil that lacks its predecessor's counts takes the higher count (state.c,
 * "amnesic"); any other ignores it. No answer is awaited. */
void anvil_login_seed(struct anvil_client *ac, const char *addr, unsigned failures,
                      long long age_ms);

/* A new connection from addr: count it. */
struct anvil_req *anvil_connect(struct anvil_client *ac, const char *addr, anvil_fn fn, void *ctx);
/* The connection counted by a reply of that generation has ended. */
void anvil_disconnect(struct anvil_client *ac, const char *addr, unsigned generation);

/* A login from addr for user (the normalised name, or NULL when it is not a valid one) is
 * about to be checked: ANVIL_REFUSE, or ANVIL_OK with the delay to wait first. An OK reserves
 * one of the address's max_failures attempts until anvil_login_done(). */
struct login_limits {
    unsigned max_failures; /* login_max_failures */
    long delay_ms;         /* login_failure_delay: the delay after the first failure */
    long delay_limit_ms;   /* login_failure_delay_limit: the cap as it doubles */
};
struct anvil_req *anvil_login(struct anvil_client *ac, const char *addr, const char *user,
                              const struct login_limits *lim, anvil_fn fn, void *ctx);
enum anvil_login_result { ANVIL_LOGIN_OK, ANVIL_LOGIN_FAILED, ANVIL_LOGIN_NOT_CHECKED };
/* The check reserved by a reply of that generation is over (or never started: NOT_CHECKED).
 * A failure is counted for the address, the account and the pair; a success forgets the
 * failures of this pair only. fn (may be NULL: fire and forget) runs once anvil has recorded
 * it, or with ANVIL_UNAVAILABLE when it could not be told. */
struct anvil_req *anvil_login_done(struct anvil_client *ac, const char *addr, const char *user,
                                   enum anvil_login_result result, unsigned generation,
                                   anvil_fn fn, void *ctx);

/* An authenticated user is about to send messages (MAIL: 1) or recipients (RCPT: 1) under
 * lim: ANVIL_OK (counted), ANVIL_REFUSE (over a limit), with held and tripped. */
struct anvil_req *anvil_send(struct anvil_client *ac, const char *user, unsigned messages,
                             unsigned recipients, const struct send_limits *lim, anvil_fn fn,
                             void *ctx);

/* The caller no longer wants the answer (its session went away); fn is not called. */
void anvil_cancel(struct anvil_req *req);

#endif
