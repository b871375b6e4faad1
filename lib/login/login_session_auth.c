/* login_session_auth.c - the login skeleton's password check (login_session.h): a login is
 * an attempt under the login limits (lib/auth/auth_attempt.h, doc/anvil.md "Logins"), and
 * here its outcome becomes the session's: the handoff after a success; after a failure the
 * protocol's reply, held back login_failure_delay, and the end of the session once the
 * address reaches login_max_failures; the refusal of an address over the limit. Event loop
 * thread only. */
#include "login_session_int.h"
#include "log.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

/* The session may go on with its input (the attempt is over for it). */
static void resume(struct login_client *c)
{
    c->wait_auth = false;
    login_client_process(c);
    login_client_reap(c);
}

static void failed(struct login_client *c, const struct auth_outcome *o)
{
    struct login_server *srv = c->srv;
    if (srv->p.failure_delay_ms > 0)
        sess_hold(c->sess, srv->p.failure_delay_ms);
    srv->proto->auth_failed(c, o->last);
    if (o->last) {
        log_info("closing the session of %s: %u failed logins, session=<%s>", c->rip,
                 o->failures, c->id);
        sess_close_after_hold(c->sess);
    }
}

static void on_outcome(void *owner, const struct auth_outcome *o)
{
    struct login_client *c = owner;
    c->attempt = NULL;
    switch (o->kind) {
    case AUTH_OUTCOME_OK:
        c->auth_user = xstrdup(o->user);
        login_start_handoff(c);
        break;
    case AUTH_OUTCOME_FAILED:
        failed(c, o);
        break;
    case AUTH_OUTCOME_TEMPFAIL:
        c->srv->proto->auth_tempfail(c);
        break;
    case AUTH_OUTCOME_REFUSED:
        c->srv->proto->refuse_penalty(c);
        login_close(c);
        break;
    }
    resume(c);
}

static struct auth_client_info who(const struct login_client *c)
{
    return (struct auth_client_info){.rip = c->rip, .lip = c->lip, .id = c->id,
                                     .tls = login_tls_active(c)};
}

void login_authenticate(struct login_client *c, const char *name, const char *password,
                        const char *method)
{
    c->method = method;
    struct auth_client_info w = who(c);
    c->attempt = auth_attempt_start(c->srv->guard, &w, name, password, method, on_outcome, c);
    c->wait_auth = true;
}

void login_fail(struct login_client *c, const char *user, const char *method)
{
    login_authenticate(c, user, NULL, method); /* no password: fails, under the limits */
}

void login_auth_forget(struct login_client *c)
{
    auth_attempt_forget(c->attempt);
    c->attempt = NULL;
}
