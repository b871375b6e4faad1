/* login_session_auth.c - the login skeleton's password check (login_session.h) and its limits
 * (doc/anvil.md, "Logins").
 *
 * A login is an attempt: first the anvil service says whether the client address may try
 * (ANVIL_REFUSE once it has login_max_failures failures within login_penalty_time; ANVIL_WAIT
 * while its remaining attempts are all being checked by other sessions) and how long to wait
 * first (growing with the failures of the address and of the account). Only then is the
 * password checked in the worker (lib/auth/auth_check.h), and the result goes back to anvil.
 * Without anvil the process's own per-address count decides, and every login waits
 * login_failure_delay: slowed, never opened. A failure's reply is held back for
 * login_failure_delay, and the session closes once the address reaches the limit.
 *
 * An attempt outlives its session while its check runs, so that closing the connection right
 * after a wrong password does not keep the failure from being counted. Passwords are wiped
 * once handed to the worker and never logged. Event loop thread only. */
#include "login_session_int.h"
#include "log.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

struct login_attempt {
    struct login_attempt *prev, *next;
    struct login_server *srv;
    struct login_client *c;   /* NULL once the session is gone */
    char rip[64];
    char id[24];
    const char *method;
    char *user;               /* normalised; NULL when the name is not a valid one */
    char *password;           /* until handed to the worker */
    struct anvil_req *req;    /* waiting for anvil */
    unsigned long timer;      /* waiting before asking again or checking */
    struct auth_check_job *job;
    unsigned generation;      /* of anvil's reservation; 0: none */
    char *authenticated;      /* the user, while anvil records the result */
    bool failure_reported;    /* anvil was told of the failure already */
    unsigned failures;        /* the address's failures when the attempt was allowed */
};

static void wipe_password(struct login_attempt *a)
{
    if (a->password) {
        explicit_bzero(a->password, strlen(a->password));
        free(a->password);
        a->password = NULL;
    }
}

static void attempt_free(struct login_attempt *a)
{
    if (a->c)
        a->c->attempt = NULL;
    DLIST_REMOVE(&a->srv->attempts, a);
    wipe_password(a);
    free(a->user);
    free(a->authenticated);
    free(a);
}

/* The session may go on with its input (the attempt is over for it). */
static void resume(struct login_client *c)
{
    if (!c)
        return;
    c->wait_auth = false;
    login_client_process(c);
    login_client_reap(c);
}

static void count_failure(struct login_attempt *a, const char *user)
{
    struct login_server *srv = a->srv;
    if (srv->p.anvil && !a->failure_reported)
        anvil_login_done(srv->p.anvil, a->rip, a->user, ANVIL_LOGIN_FAILED, a->generation, NULL, NULL);
    a->generation = 0;
    unsigned local = auth_penalty_fail(srv->penalty, a->rip, event_now_ms());
    unsigned count = local > a->failures + 1 ? local : a->failures + 1;
    struct login_client *c = a->c;
    log_info("authentication failed: user=<%s>, method=%s, rip=%s%s%s%s, attempts=%u, session=<%s>%s",
             user ? user : "(invalid name)", a->method, a->rip, c ? ", lip=" : "",
             c ? c->lip : "", c && login_tls_active(c) ? ", TLS" : "", count, a->id,
             c ? "" : " (session closed)");
    if (!c)
        return;
    if (srv->p.failure_delay_ms > 0)
        sess_hold(c->sess, srv->p.failure_delay_ms);
    bool last = count >= srv->p.max_failures;
    srv->proto->auth_failed(c, last);
    if (last) {
        log_info("closing the session of %s: %u failed logins, session=<%s>", a->rip, count, a->id);
        sess_close_after_hold(c->sess);
    }
}

static void refuse(struct login_attempt *a, const char *why)
{
    struct login_client *c = a->c;
    log_info("login refused: user=<%s>, method=%s, rip=%s, %s, session=<%s>",
             a->user ? a->user : "(invalid name)", a->method, a->rip, why, a->id);
    if (c) {
        a->srv->proto->refuse_penalty(c);
        login_close(c);
    }
    attempt_free(a);
    resume(c);
}

static void on_success_recorded(void *ctx, const struct anvil_reply *r);
static void on_failure_recorded(void *ctx, const struct anvil_reply *r);

static void on_checked(void *ctx, enum auth_check_result result, const char *user,
                       const char *err)
{
    struct login_attempt *a = ctx;
    struct login_server *srv = a->srv;
    struct login_client *c = a->c;
    a->job = NULL;
    if (err)
        log_warn("%s", err);
    if (result == AUTH_CHECK_OK) {
        auth_penalty_clear(srv->penalty, a->rip);
        if (srv->p.anvil) {
            /* The session goes on once anvil has forgotten this pair's failures, so that a
             * login the client makes next (from any process) is judged without them. */
            a->authenticated = xstrdup(user);
            a->req = anvil_login_done(srv->p.anvil, a->rip, a->user, ANVIL_LOGIN_OK,
                                      a->generation, on_success_recorded, a);
            a->generation = 0;
            return;
        }
        if (c) {
            c->auth_user = xstrdup(user);
            login_start_handoff(c);
        }
    } else if (result == AUTH_CHECK_TEMPFAIL) {
        if (srv->p.anvil)
            anvil_login_done(srv->p.anvil, a->rip, a->user, ANVIL_LOGIN_NOT_CHECKED, a->generation,
                             NULL, NULL);
        if (c)
            srv->proto->auth_tempfail(c);
    } else if (srv->p.anvil) {
        /* The failure is answered once anvil has it, so that the client's next login, in
         * whatever process, is judged with it (a success right after would otherwise be
         * forgiven before the failure arrives). */
        a->authenticated = xstrdup(user);
        a->req = anvil_login_done(srv->p.anvil, a->rip, a->user, ANVIL_LOGIN_FAILED,
                                  a->generation, on_failure_recorded, a);
        a->generation = 0;
        a->failure_reported = true;
        return;
    } else {
        count_failure(a, user);
    }
    attempt_free(a);
    resume(c);
}

static void on_failure_recorded(void *ctx, const struct anvil_reply *r)
{
    (void)r;
    struct login_attempt *a = ctx;
    struct login_client *c = a->c;
    a->req = NULL;
    count_failure(a, a->authenticated);
    attempt_free(a);
    resume(c);
}

static void on_success_recorded(void *ctx, const struct anvil_reply *r)
{
    (void)r; /* recorded or not, the login succeeded */
    struct login_attempt *a = ctx;
    struct login_client *c = a->c;
    a->req = NULL;
    if (c) {
        c->auth_user = a->authenticated;
        a->authenticated = NULL;
        login_start_handoff(c);
    }
    attempt_free(a);
    resume(c);
}

static void check(struct login_attempt *a)
{
    if (!a->user) { /* nothing to look up: a failure without the worker */
        wipe_password(a);
        struct login_client *c = a->c;
        count_failure(a, NULL);
        attempt_free(a);
        resume(c);
        return;
    }
    a->job = auth_check_submit(a->srv->auth, a->user, a->password, on_checked, a);
    wipe_password(a);
}

static void on_delay_over(struct event_loop *loop, void *ctx)
{
    (void)loop;
    struct login_attempt *a = ctx;
    a->timer = 0;
    check(a);
}

static void check_after(struct login_attempt *a, long delay_ms)
{
    if (delay_ms > 0)
        a->timer = event_timer(a->srv->loop, delay_ms, on_delay_over, a);
    else
        check(a);
}

/* No answer from anvil: this process's own count decides, and the login is slowed. */
static void without_anvil(struct login_attempt *a)
{
    struct login_server *srv = a->srv;
    a->generation = 0;
    a->failures = auth_penalty_count(srv->penalty, a->rip, event_now_ms());
    if (a->failures >= srv->p.max_failures)
        refuse(a, "too many failed logins from this address (this process's count)");
    else
        check_after(a, (long)srv->p.failure_delay_ms);
}

static void ask_anvil(struct login_attempt *a);

static void on_ask_again(struct event_loop *loop, void *ctx)
{
    (void)loop;
    struct login_attempt *a = ctx;
    a->timer = 0;
    ask_anvil(a);
}

static void on_anvil(void *ctx, const struct anvil_reply *r)
{
    struct login_attempt *a = ctx;
    a->req = NULL;
    switch (r->status) {
    case ANVIL_REFUSE:
        a->failures = r->failures;
        refuse(a, "too many failed logins from this address");
        break;
    case ANVIL_WAIT:
        a->timer = event_timer(a->srv->loop, r->delay_ms > 0 ? r->delay_ms : 1, on_ask_again, a);
        break;
    case ANVIL_OK:
        a->generation = r->generation;
        a->failures = r->failures;
        check_after(a, r->delay_ms);
        break;
    case ANVIL_UNAVAILABLE:
        without_anvil(a);
        break;
    }
}

static void ask_anvil(struct login_attempt *a)
{
    struct login_server *srv = a->srv;
    if (!srv->p.anvil) {
        without_anvil(a);
        return;
    }
    struct login_limits lim = {.max_failures = srv->p.max_failures,
                               .delay_ms = (long)srv->p.failure_delay_ms,
                               .delay_limit_ms = (long)srv->p.failure_delay_limit_ms};
    a->req = anvil_login(srv->p.anvil, a->rip, a->user, &lim, on_anvil, a);
}

void login_authenticate(struct login_client *c, const char *name, const char *password,
                        const char *method)
{
    struct login_server *srv = c->srv;
    c->method = method;
    struct login_attempt *a = xcalloc(1, sizeof *a);
    a->srv = srv;
    a->c = c;
    a->method = method;
    snprintf(a->rip, sizeof a->rip, "%s", c->rip);
    snprintf(a->id, sizeof a->id, "%s", c->id);
    a->user = auth_user_name(name, srv->p.default_domain);
    a->password = xstrdup(password);
    DLIST_INSERT_TAIL(&srv->attempts, a);
    c->attempt = a;
    c->wait_auth = true;
    /* From a timer, so that no outcome runs inside the protocol's command handler. */
    a->timer = event_timer(srv->loop, 0, on_ask_again, a);
}

void login_fail(struct login_client *c, const char *method)
{
    struct login_attempt a = {.srv = c->srv, .c = c, .method = method};
    snprintf(a.rip, sizeof a.rip, "%s", c->rip);
    snprintf(a.id, sizeof a.id, "%s", c->id);
    count_failure(&a, NULL);
}

void login_auth_forget(struct login_client *c)
{
    struct login_attempt *a = c->attempt;
    if (!a)
        return;
    c->attempt = NULL;
    a->c = NULL;
    if (a->job)
        return; /* on_checked counts the result and frees the attempt */
    if (a->req && a->failure_reported)
        count_failure(a, a->authenticated); /* logged and counted here, without a reply */
    anvil_cancel(a->req);
    if (a->timer)
        event_timer_cancel(a->srv->loop, a->timer);
    if (a->generation && a->srv->p.anvil)
        anvil_login_done(a->srv->p.anvil, a->rip, a->user, ANVIL_LOGIN_NOT_CHECKED, a->generation,
                         NULL, NULL);
    attempt_free(a);
}

void login_auth_free_all(struct login_server *srv)
{
    struct login_attempt *a;
    while ((a = DLIST_FIRST(&srv->attempts))) {
        auth_check_cancel(a->job);
        anvil_cancel(a->req);
        if (a->timer)
            event_timer_cancel(srv->loop, a->timer);
        attempt_free(a);
    }
}
