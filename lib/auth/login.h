/* login.h - what every pre-authentication ("login") process shares (pop3d now, imapd
 * later; doc/pop3d.md): checking a user name and password against the account database
 * off the event loop, and counting failed logins per client address.
 *
 * Verification runs in one worker thread per process (lib/util/worker.h; Argon2id takes
 * tens of milliseconds and 64 MiB; the loop keeps serving other sessions meanwhile). An unknown user, a user
 * whose login is disabled and a wrong password cost the same: the worker verifies against
 * a dummy hash when there is no real one, so timing does not tell which names exist.
 * Passwords are wiped from memory once checked and are never logged. Nothing here logs:
 * what went wrong (an unreadable account database, an unusable hash) comes back with the
 * result as a text for the caller's log.
 *
 * The penalty table counts failures per client address in this process; callers delay the
 * failure reply by login_failure_delay and close the session once login_max_failures is
 * reached. A successful login from an address clears its count (as Dovecot's auth
 * penalty does); an address is forgotten LOGIN_PENALTY_MEMORY_MS after its last failure. */
#ifndef POSTHORN_LOGIN_H
#define POSTHORN_LOGIN_H
#include "config.h"
#include "event.h"
#include <stdbool.h>

#define LOGIN_USER_MAX 320
#define LOGIN_PENALTY_MEMORY_MS (15LL * 60 * 1000)

/* The address to authenticate for a login name: lowercased; a name without '@' gets
 * "@default_domain" when that is not empty. NULL when the name is empty, too long or holds
 * control characters, spaces or more than one '@'. */
char *login_user_name(const char *name, const char *default_domain);

enum login_auth_result {
    LOGIN_AUTH_OK,
    LOGIN_AUTH_FAIL,    /* unknown user, login disabled or wrong password */
    LOGIN_AUTH_TEMPFAIL /* the account database cannot be read */
};

struct login_auth;
struct login_auth_job;
/* user: the address as given to login_auth_submit (already normalised). err: NULL, or a
 * problem the caller should log as a warning (it may come with any result). */
typedef void (*login_auth_fn)(void *ctx, enum login_auth_result result, const char *user,
                              const char *err);

/* Open the account database read-only and start the worker. NULL with *err. */
struct login_auth *login_auth_new(struct event_loop *loop, struct config *cfg, char **err);
/* Queue a check; fn runs later on the loop thread. The password is copied (and wiped
 * after use); the caller wipes its own copy. */
struct login_auth_job *login_auth_submit(struct login_auth *la, const char *user,
                                         const char *password, login_auth_fn fn, void *ctx);
/* The session went away: the check finishes but fn is not called (nor its error text
 * reported). */
void login_auth_cancel(struct login_auth_job *job);
unsigned login_auth_pending(const struct login_auth *la);

struct login_penalty;
struct login_penalty *login_penalty_new(void);
void login_penalty_free(struct login_penalty *p);
/* Record a failure; returns the address's failure count including this one. */
unsigned login_penalty_fail(struct login_penalty *p, const char *addr, long long now_ms);
unsigned login_penalty_count(struct login_penalty *p, const char *addr, long long now_ms);
void login_penalty_clear(struct login_penalty *p, const char *addr);
/* Drop addresses whose last failure is older than LOGIN_PENALTY_MEMORY_MS. */
void login_penalty_expire(struct login_penalty *p, long long now_ms);

#endif
