/* login_session_auth.c - the login skeleton's password check (login_session.h): the name
 * gets default_domain, the check runs in the worker (lib/auth/auth_check.h) while the loop
 * serves others, and a failed login is counted per client address: the protocol's failure
 * reply is held back for login_failure_delay, and the session closes once the address
 * reaches login_max_failures. Passwords are never logged. Event loop thread only. */
#include "login_session_int.h"
#include "log.h"
#include "mem.h"
#include <stdlib.h>

static void auth_failed(struct login_client *c, const char *user)
{
    struct login_server *srv = c->srv;
    unsigned count = auth_penalty_fail(srv->penalty, c->rip, event_now_ms());
    log_info("authentication failed: user=<%s>, method=%s, rip=%s, lip=%s%s, attempts=%u, session=<%s>",
             user ? user : "(invalid name)", c->method, c->rip, c->lip,
             login_tls_active(c) ? ", TLS" : "", count, c->id);
    if (srv->p.failure_delay_ms > 0)
        sess_hold(c->sess, srv->p.failure_delay_ms);
    bool last = count >= srv->p.max_failures;
    srv->proto->auth_failed(c, last);
    if (last) {
        log_info("closing the session of %s: %u failed logins, session=<%s>", c->rip, count, c->id);
        sess_close_after_hold(c->sess);
    }
}

void login_fail(struct login_client *c, const char *method)
{
    c->method = method;
    auth_failed(c, NULL);
}

static void on_checked(void *ctx, enum auth_check_result result, const char *user,
                       const char *err)
{
    struct login_client *c = ctx;
    if (err)
        log_warn("%s", err);
    c->job = NULL;
    c->wait_auth = false;
    if (result == AUTH_CHECK_OK) {
        auth_penalty_clear(c->srv->penalty, c->rip);
        c->auth_user = xstrdup(user);
        login_start_handoff(c);
    } else if (result == AUTH_CHECK_TEMPFAIL) {
        c->srv->proto->auth_tempfail(c);
    } else {
        auth_failed(c, user);
    }
    login_client_process(c);
    login_client_reap(c);
}

void login_authenticate(struct login_client *c, const char *name, const char *password,
                        const char *method)
{
    c->method = method;
    char *user = auth_user_name(name, c->srv->p.default_domain);
    if (!user) {
        auth_failed(c, NULL);
        return;
    }
    c->wait_auth = true;
    c->job = auth_check_submit(c->srv->auth, user, password, on_checked, c);
    free(user);
}
