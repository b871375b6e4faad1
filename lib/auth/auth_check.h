/* auth_check.h - checking a user name and password against the account database off the
 * event loop, and counting failed logins per client address: what every process that
 * authenticates users shares (the POP3 login process now, IMAP and submission later;
 * doc/pop3d.md).
 *
 * Verification runs in one worker thread per process (lib/util/worker.h; Argon2id takes
 * tens of milliseconds and 64 MiB; the loop keeps serving other sessions meanwhile). An
 * unknown user, a user whose login is disabled and a wrong password cost the same: the worker verifies against
 * a dummy hash when there is no real one, so timing does not tell which names exist.
 * Passwords are wiped from memory once checked and are never logged. Nothing here logs:
 * what went wrong (an unreadable account database, an unusable hash) comes back with the
 * result as a text for the caller's log.
 *
 * The penalty table counts failures per client address in this process: the login limits'
 * fallback while the anvil service (doc/anvil.md) cannot be asked, and a cheap refusal at
 * connect time. A successful login from an address clears its count; an address is
 * forgotten memory_ms (login_penalty_time) after its last failure. */
#ifndef POSTHORN_AUTH_CHECK_H
#define POSTHORN_AUTH_CHECK_H
#include "config.h"
#include "event.h"
#include <stdbool.h>

#define AUTH_USER_MAX 320

/* The address to authenticate for a login name: lowercased; a name without '@' gets
 * "@default_domain" when that is not empty. NULL when the name is empty, too long or holds
 * control characters, spaces or more than one '@'. */
char *auth_user_name(const char *name, const char *default_domain);

enum auth_check_result {
    AUTH_CHECK_OK,
    AUTH_CHECK_FAIL,    /* unknown user, login disabled or wrong password */
    AUTH_CHECK_TEMPFAIL /* the account database cannot be read */
};

struct auth_check;
struct auth_check_job;
/* user: the address as given to auth_check_submit (already normalised). err: NULL, or a
 * problem the caller should log as a warning (it may come with any result). */
typedef void (*auth_check_fn)(void *ctx, enum auth_check_result result, const char *user,
                              const char *err);

/* Open the account database read-only and start the worker. NULL with *err. The user's
 * record is read on the loop thread when a check is queued (the worker only computes the
 * hash), so the process's one handle of the database (LMDB allows one per file and
 * process: doc/mailstore.md) is used by one thread only, and can be lent to the
 * recipient resolver (auth_check_accounts). */
struct auth_check *auth_check_new(struct event_loop *loop, struct config *cfg, char **err);
struct accounts *auth_check_accounts(struct auth_check *la);
/* Queue a check; fn runs later on the loop thread. The password is copied (and wiped
 * after use); the caller wipes its own copy. */
struct auth_check_job *auth_check_submit(struct auth_check *la, const char *user,
                                         const char *password, auth_check_fn fn, void *ctx);
/* The session went away: the check finishes but fn is not called (nor its error text
 * reported). */
void auth_check_cancel(struct auth_check_job *job);
unsigned auth_check_pending(const struct auth_check *la);

struct auth_penalty;
struct auth_penalty *auth_penalty_new(long long memory_ms);
void auth_penalty_free(struct auth_penalty *p);
/* Record a failure; returns the address's failure count including this one. */
unsigned auth_penalty_fail(struct auth_penalty *p, const char *addr, long long now_ms);
unsigned auth_penalty_count(struct auth_penalty *p, const char *addr, long long now_ms);
void auth_penalty_clear(struct auth_penalty *p, const char *addr);
/* Drop addresses whose last failure is older than memory_ms. */
void auth_penalty_expire(struct auth_penalty *p, long long now_ms);
/* Every address with failures within memory_ms: its count and the age of its last one. */
void auth_penalty_each(struct auth_penalty *p, long long now_ms,
                       void (*fn)(const char *addr, unsigned count, long long age_ms, void *ctx),
                       void *ctx);

#endif
