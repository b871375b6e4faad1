/* login_session.h - the pre-authentication login skeleton POP3 and IMAP share (see
 * doc/pop3d.md, "Process model"): everything a login process does before and around the
 * protocol's own command table.
 *
 *   - accepting: the per-process session limit and the failed-login penalty of the client
 *     address (refused with the protocol's reply, or silently in TLS wrapper mode), then
 *     the greeting or, in wrapper mode, the TLS handshake first;
 *   - the pre-login timeout (counted from the connect), line reading against line_limit,
 *     the error limit, and STARTTLS (STLS in POP3) with the pipelining rule of RFC 2595 sec 4;
 *   - the plaintext-auth policy (login_may_auth);
 *   - the login limits: before a password is checked the anvil service (anvil_client.h)
 *     says whether the client address may try now and after which delay, so that
 *     login_max_failures holds across sessions and processes; without anvil the process's
 *     own count decides and every login waits login_failure_delay (slowed, never opened);
 *   - the password check in the worker (lib/auth/auth_check.h), and the failure delay;
 *   - the handoff to the post-login process (login_handoff.h) and, for a TLS session, the
 *     TLS proxy that stays in this process after it (login_proxy.h).
 *
 * The protocol supplies a struct login_protocol: its command lines, and every reply text.
 * A session's life cycle is the shared session skeleton of lib/io/session.h.
 *
 * Ownership: login_server_new() keeps pointers to the loop, the TLS context and the auth
 * worker (the caller's) and owns the sessions; each session owns its connection and its
 * protocol state (proto, state_size bytes, zeroed). Threading: the event loop thread only.
 * Failure: like the service skeleton (lib/global/server.h) this is daemon code and logs
 * what happens to a session (connect, Login:, authentication failed, refusals) under the
 * program's log name. */
#ifndef POSTHORN_LOGIN_SESSION_H
#define POSTHORN_LOGIN_SESSION_H
#include "buf.h"
#include "ipc.h"
#include "conn.h"
#include "event.h"
#include "anvil_client.h"
#include "auth_attempt.h"
#include "auth_check.h"
#include "session.h"
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#define LOGIN_HANDOFF_TIMEOUT_MS 10000

struct login_client;

struct login_protocol {
    const char *service;   /* the handoff's "service" attribute: "pop3", "imap" */
    const char *starttls;  /* the STARTTLS command's name, for the log: "STLS", "STARTTLS" */
    size_t state_size;     /* bytes of per-session protocol state (login_client.proto) */
    /* One input line (without its line end; line->len bytes, may hold NUL). The caller
     * wipes it afterwards (it may hold a password). */
    void (*line)(struct login_client *c, struct buf *line);
    /* A line longer than line_limit was discarded. */
    void (*line_too_long)(struct login_client *c, size_t limit);
    void (*greet)(struct login_client *c);
    /* Connect refused (never called in wrapper mode: nothing can be said before TLS). */
    void (*refuse_busy)(struct login_client *c);
    void (*refuse_penalty)(struct login_client *c);
    /* The last reply before the skeleton closes the session. */
    void (*too_many_errors)(struct login_client *c);
    void (*timeout)(struct login_client *c, long long seconds);
    /* A failed login; last: the address reached login_max_failures and the session closes
     * (after the failure delay). Replies are held back during the delay. */
    void (*auth_failed)(struct login_client *c, bool last);
    void (*auth_tempfail)(struct login_client *c);
    /* The post-login process refused the session: reason is its text, made safe for one
     * line ("[IN-USE] ..."), or NULL for an internal failure. The session stays logged out. */
    void (*handoff_refused)(struct login_client *c, const char *reason);
    /* Forget the protocol's pre-login state (wipe pending names): TLS just started, or the
     * session ends. */
    void (*forget)(struct login_client *c);
    /* Attributes of its own for the handoff request (IMAP: the login command's tag).
     * NULL: none. */
    void (*handoff_attrs)(struct login_client *c, struct attrs *a);
};

struct login_params {
    bool wrapper;                 /* TLS from the first byte */
    bool allow_plaintext;         /* authentication allowed without TLS */
    const char *greeting;         /* login_greeting, for the protocol's greet() */
    const char *default_domain;   /* appended to a name without '@'; "" or NULL: none */
    long long failure_delay_ms;
    long long failure_delay_limit_ms; /* login_failure_delay_limit */
    long long penalty_time_ms;    /* login_penalty_time */
    unsigned max_failures;        /* per client address (anvil; auth_penalty without it) */
    struct anvil_client *anvil;   /* NULL: this process's own count only */
    long long login_timeout_ms;
    size_t line_limit;
    unsigned error_limit;
    unsigned session_limit;
    const char *session_limit_name; /* the parameter, for the log */
    const char *post_login_socket;  /* SPOOL/private/SERVICE of the post-login process */
};

struct login_server;

/* One client of the login process. Fields are read-only for the protocol. */
struct login_client {
    struct login_server *srv;
    struct sess *sess;
    struct conn *conn;         /* NULL once the TLS proxy has it */
    char rip[64], lip[64];
    int rport, lport;
    char id[24];               /* session id, logged by both processes */
    const char *method;        /* the login method being checked: "USER", "PLAIN", ... */
    bool line_bare;            /* the line given to proto->line ended in a bare LF, not CRLF */
    void *proto;               /* the protocol's state */
    /* private to the skeleton */
    bool wait_auth, wait_handoff, wait_drain;
    struct auth_attempt *attempt; /* the login being limited or checked */
    struct handoff *handoff;
    struct login_proxy *proxy;
    char *auth_user;
    int pair[2];
    struct buf line;
};

/* tls may be NULL (no STARTTLS; wrapper mode then needs one). */
struct login_server *login_server_new(struct event_loop *loop, const struct login_params *p,
                                      SSL_CTX *tls, struct auth_check *auth,
                                      const struct login_protocol *proto);
/* End every session at once and free the server (not the loop, TLS context or auth). */
void login_server_free(struct login_server *srv);
void login_server_accept(struct login_server *srv, int fd);
/* Sessions and password checks still open (server_def.busy). */
unsigned login_server_busy(const struct login_server *srv);
/* Once a second: timeouts and the penalty table. */
void login_server_tick(struct login_server *srv);
const struct login_params *login_server_params(const struct login_server *srv);

/* --- for the protocol's command table --- */
void login_reply(struct login_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A reply counted against error_limit. */
void login_error(struct login_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void login_close(struct login_client *c);
bool login_tls_active(const struct login_client *c);
/* STARTTLS can be offered: a TLS context and no TLS yet. */
bool login_can_starttls(const struct login_client *c);
/* The plaintext-auth policy: true when credentials may be sent on this connection. */
bool login_may_auth(const struct login_client *c);
/* After the protocol's "go ahead" reply: throw away pipelined plaintext and handshake.
 * False when TLS could not start (the session is closing). */
bool login_starttls(struct login_client *c);
/* Check name (default_domain applied) and password in the worker; on success the session
 * is handed to the post-login process, else the protocol's auth_failed/auth_tempfail. */
void login_authenticate(struct login_client *c, const char *name, const char *password,
                        const char *method);
/* A login that failed before any check (a malformed SASL message; user as the client gave
 * it, or NULL): judged by anvil like any login, then counted like a wrong password. */
void login_fail(struct login_client *c, const char *user, const char *method);

#endif
