/* auth_attempt.h - one password login under the login limits (doc/anvil.md, "Logins"): the
 * one implementation the POP3/IMAP login skeleton (lib/login) and submission's AUTH share.
 *
 * A login is an attempt: first the anvil service says whether the client address may try
 * (refused once it has login_max_failures failures within login_penalty_time; "wait" while
 * its remaining attempts are all being checked by other sessions) and how long to wait first
 * (growing with the failures of the address and of the account). Only then is the password
 * checked in the worker (auth_check.h), and the result goes back to anvil; a failure is
 * answered, and a success goes on, only once anvil has recorded it, so the client's next
 * login in any process is judged with it. Without anvil the process's own per-address count
 * (the guard's penalty table) decides, and every login waits login_failure_delay: slowed,
 * never opened.
 *
 * An attempt outlives its session while its check runs (auth_attempt_forget), so that
 * closing the connection right after a wrong password does not keep the failure from being
 * counted. Passwords are wiped once handed to the worker and never logged. This module logs
 * the outcome lines ("authentication failed: user=<...>, method=..., rip=...", "login
 * refused: ..."); the caller replies. Event loop thread only. */
#ifndef POSTHORN_AUTH_ATTEMPT_H
#define POSTHORN_AUTH_ATTEMPT_H
#include "anvil_client.h"
#include "auth_check.h"
#include "event.h"
#include <stdbool.h>

/* The limits and the services an attempt uses; the guard keeps the pointers. */
struct auth_limits {
    struct event_loop *loop;
    struct auth_check *check;     /* the password worker */
    struct anvil_client *anvil;   /* NULL: this process's own count only */
    const char *default_domain;   /* login_default_domain; "" or NULL: none */
    unsigned max_failures;        /* login_max_failures */
    long long failure_delay_ms;   /* login_failure_delay */
    long long failure_delay_limit_ms; /* login_failure_delay_limit */
    long long penalty_time_ms;    /* login_penalty_time */
};

/* The attempts of one process, and its own count of failures per client address. */
struct auth_guard;
struct auth_guard *auth_guard_new(const struct auth_limits *lim);
/* Drop every attempt (no outcome is reported) and free the guard. */
void auth_guard_free(struct auth_guard *g);
/* Has addr reached login_max_failures in this process's own count (a cheap refusal at
 * connect time)? */
bool auth_guard_penalized(struct auth_guard *g, const char *addr);
/* Password checks under way (for the skeleton's busy()). */
unsigned auth_guard_pending(const struct auth_guard *g);
/* Once a second: forget addresses whose last failure is older than login_penalty_time. */
void auth_guard_tick(struct auth_guard *g);

/* Who logs in, for the log lines (copied). id may be NULL (no session id). */
struct auth_client_info {
    const char *rip, *lip, *id;
    bool tls;
};

enum auth_outcome_kind {
    AUTH_OUTCOME_OK,       /* user is authenticated */
    AUTH_OUTCOME_FAILED,   /* wrong password, unknown user, invalid name */
    AUTH_OUTCOME_TEMPFAIL, /* the account database cannot be read */
    AUTH_OUTCOME_REFUSED   /* the address is over login_max_failures: nothing was checked */
};

struct auth_outcome {
    enum auth_outcome_kind kind;
    const char *user;   /* OK: the authenticated address (valid during the call) */
    unsigned failures;  /* FAILED: the address's failures, this one included */
    bool last;          /* FAILED: the address has reached login_max_failures */
};

typedef void (*auth_outcome_fn)(void *owner, const struct auth_outcome *o);

struct auth_attempt;
/* Check name (login_default_domain applied) and password under the limits. fn runs once,
 * later, on the loop (never inside this call), after the attempt is freed; not at all once
 * auth_attempt_forget() was called. The password is copied; the caller wipes its own.
 * password NULL: a login that failed before any check (a malformed SASL message; name is
 * what the client gave, or NULL): it is judged by anvil like any other, then counts as a
 * wrong password. */
struct auth_attempt *auth_attempt_start(struct auth_guard *g, const struct auth_client_info *who,
                                        const char *name, const char *password,
                                        const char *method, auth_outcome_fn fn, void *owner);
/* The owner is gone: a check under way still finishes and counts, anything else is
 * dropped (a failure already reported to anvil is logged and counted now). */
void auth_attempt_forget(struct auth_attempt *a);

#endif
