/* auth_attempt.c - one password login under the login limits (see auth_attempt.h and
 * doc/anvil.md, "Logins"). Event loop thread only. */
#include "auth_attempt.h"
#include "list.h"
#include "log.h"
#include "mem.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct auth_guard {
    struct auth_limits lim;
    struct auth_penalty *penalty;
    DLIST_HEAD(struct auth_attempt) attempts;
};

struct auth_attempt {
    struct auth_attempt *prev, *next;
    struct auth_guard *g;
    auth_outcome_fn fn;
    void *owner;              /* NULL once the owner is gone */
    char rip[64], lip[64];
    char id[32];
    bool tls;
    const char *method;
    char *user;               /* normalised; NULL when the name is not a valid one */
    char *password;           /* until handed to the worker */
    bool malformed;           /* no password to check: the attempt fails (still under anvil) */
    struct anvil_req *req;    /* waiting for anvil */
    unsigned long timer;      /* waiting before asking again or checking */
    struct auth_check_job *job;
    unsigned generation;      /* of anvil's reservation; 0: none */
    char *authenticated;      /* the user, while anvil records the result */
    bool failure_reported;    /* anvil was told of the failure already */
    unsigned failures;        /* the address's failures when the attempt was allowed */
    bool anvil_counted;       /* anvil allowed it: its count, across processes, is the truth */
    bool amnesic;             /* ... but anvil may lack failures (state.c): not below ours */
    bool checking;            /* allowed by this process's own count, not yet finished */
};

/* --- the guard --- */

#define SEEDS_MAX 8192 /* per connection: well within what the anvil client may queue */

struct seeding {
    struct anvil_client *anvil;
    unsigned n;
};

static void seed_one(const char *addr, unsigned count, long long age_ms, void *ctx)
{
    struct seeding *sd = ctx;
    if (sd->n < SEEDS_MAX) {
        sd->n++;
        anvil_login_seed(sd->anvil, addr, count, age_ms);
    }
}

/* A (new) connection to anvil: tell it this process's counts (at most SEEDS_MAX addresses).
 * Only an anvil that restarted without its predecessor's counts (a crash) takes them, the
 * higher of its own and these (doc/anvil.md, "Across restarts"). */
static void seed_anvil(void *ctx)
{
    struct auth_guard *g = ctx;
    struct seeding sd = {g->lim.anvil, 0};
    auth_penalty_each(g->penalty, event_now_ms(), seed_one, &sd);
}

struct auth_guard *auth_guard_new(const struct auth_limits *lim)
{
    struct auth_guard *g = xcalloc(1, sizeof *g);
    g->lim = *lim;
    g->penalty = auth_penalty_new(lim->penalty_time_ms);
    if (lim->anvil)
        anvil_client_on_connect(lim->anvil, seed_anvil, g);
    return g;
}

static void wipe_password(struct auth_attempt *a)
{
    if (a->password) {
        explicit_bzero(a->password, strlen(a->password));
        free(a->password);
        a->password = NULL;
    }
}

static void attempt_free(struct auth_attempt *a)
{
    DLIST_REMOVE(&a->g->attempts, a);
    wipe_password(a);
    free(a->user);
    free(a->authenticated);
    free(a);
}

void auth_guard_free(struct auth_guard *g)
{
    if (!g)
        return;
    if (g->lim.anvil)
        anvil_client_on_connect(g->lim.anvil, NULL, NULL);
    struct auth_attempt *a;
    while ((a = DLIST_FIRST(&g->attempts))) {
        auth_check_cancel(a->job);
        anvil_cancel(a->req);
        if (a->timer)
            event_timer_cancel(g->lim.loop, a->timer);
        attempt_free(a);
    }
    auth_penalty_free(g->penalty);
    free(g);
}

bool auth_guard_penalized(struct auth_guard *g, const char *addr)
{
    return auth_penalty_count(g->penalty, addr, event_now_ms()) >= g->lim.max_failures;
}

unsigned auth_guard_pending(const struct auth_guard *g) { return auth_check_pending(g->lim.check); }

void auth_guard_tick(struct auth_guard *g) { auth_penalty_expire(g->penalty, event_now_ms()); }

/* --- outcomes --- */

/* The attempt is over: free it, then tell the owner (which may do anything then). */
static void finish(struct auth_attempt *a, struct auth_outcome *o)
{
    auth_outcome_fn fn = a->fn;
    void *owner = a->owner;
    char *user = a->authenticated; /* o->user may point here */
    a->authenticated = NULL;
    attempt_free(a);
    if (owner)
        fn(owner, o);
    free(user);
}

/* Count a failure (anvil, unless told already, and the process's own count) and log it. */
static void count_failure(struct auth_attempt *a, const char *user, struct auth_outcome *o)
{
    struct auth_guard *g = a->g;
    if (g->lim.anvil && !a->failure_reported)
        anvil_login_done(g->lim.anvil, a->rip, a->user, ANVIL_LOGIN_FAILED, a->generation, NULL, NULL);
    a->generation = 0;
    unsigned local = auth_penalty_fail(g->penalty, a->rip, event_now_ms());
    /* This process's own count sees neither other processes' failures nor their successes
     * (a login that succeeded in another process forgave some): it decides only when anvil
     * did not answer. */
    unsigned count = a->anvil_counted || local <= a->failures + 1 ? a->failures + 1 : local;
    log_info("authentication failed: user=<%s>, method=%s, rip=%s%s%s%s, attempts=%u%s%s%s%s",
             user ? user : "(invalid name)", a->method, a->rip, a->lip[0] ? ", lip=" : "", a->lip,
             a->tls ? ", TLS" : "", count, a->id[0] ? ", session=<" : "", a->id,
             a->id[0] ? ">" : "", a->owner ? "" : " (session closed)");
    *o = (struct auth_outcome){.kind = AUTH_OUTCOME_FAILED, .failures = count,
                               .last = count >= g->lim.max_failures};
}

static void fail(struct auth_attempt *a, const char *user)
{
    struct auth_outcome o;
    count_failure(a, user, &o);
    finish(a, &o);
}

static void refuse(struct auth_attempt *a, const char *why)
{
    log_info("login refused: user=<%s>, method=%s, rip=%s, %s%s%s%s",
             a->user ? a->user : "(invalid name)", a->method, a->rip, why,
             a->id[0] ? ", session=<" : "", a->id, a->id[0] ? ">" : "");
    finish(a, &(struct auth_outcome){.kind = AUTH_OUTCOME_REFUSED});
}

static void on_failure_recorded(void *ctx, const struct anvil_reply *r)
{
    (void)r;
    struct auth_attempt *a = ctx;
    a->req = NULL;
    fail(a, a->authenticated);
}

static void sync_local_count(struct auth_guard *g, const char *addr, unsigned failures);

static void on_success_recorded(void *ctx, const struct anvil_reply *r)
{
    struct auth_attempt *a = ctx;
    a->req = NULL;
    /* Recorded or not, the login succeeded. anvil forgave this pair's failures only; this
     * process's count follows it down, and stays as it is when anvil did not count. */
    if (r->status == ANVIL_OK && a->anvil_counted && !a->amnesic)
        sync_local_count(a->g, a->rip, r->failures);
    finish(a, &(struct auth_outcome){.kind = AUTH_OUTCOME_OK, .user = a->authenticated});
}

static void on_checked(void *ctx, enum auth_check_result result, const char *user,
                       const char *err)
{
    struct auth_attempt *a = ctx;
    struct auth_guard *g = a->g;
    a->job = NULL;
    if (err)
        log_warn("%s", err);
    if (result == AUTH_CHECK_OK) {
        /* The process's own count is not cleared: a success with one account must not
         * forgive what the address tried against others (on_success_recorded). */
        a->authenticated = xstrdup(user);
        if (!g->lim.anvil) {
            finish(a, &(struct auth_outcome){.kind = AUTH_OUTCOME_OK, .user = a->authenticated});
            return;
        }
        /* The owner goes on once anvil has forgotten this pair's failures, so that a login
         * the client makes next (from any process) is judged without them. */
        a->req = anvil_login_done(g->lim.anvil, a->rip, a->user, ANVIL_LOGIN_OK, a->generation,
                                  on_success_recorded, a);
        a->generation = 0;
    } else if (result == AUTH_CHECK_TEMPFAIL) {
        if (g->lim.anvil)
            anvil_login_done(g->lim.anvil, a->rip, a->user, ANVIL_LOGIN_NOT_CHECKED, a->generation,
                             NULL, NULL);
        finish(a, &(struct auth_outcome){.kind = AUTH_OUTCOME_TEMPFAIL});
    } else if (g->lim.anvil) {
        /* The failure is answered once anvil has it, so that the client's next login, in
         * whatever process, is judged with it (a success right after would otherwise be
         * forgiven before the failure arrives). */
        a->authenticated = user ? xstrdup(user) : NULL;
        a->req = anvil_login_done(g->lim.anvil, a->rip, a->user, ANVIL_LOGIN_FAILED,
                                  a->generation, on_failure_recorded, a);
        a->generation = 0;
        a->failure_reported = true;
    } else {
        fail(a, user);
    }
}

/* --- before the check --- */

static void check(struct auth_attempt *a)
{
    if (!a->user || a->malformed) { /* nothing to look up: a failure without the worker */
        wipe_password(a);
        on_checked(a, AUTH_CHECK_FAIL, a->user, NULL);
        return;
    }
    a->job = auth_check_submit(a->g->lim.check, a->user, a->password, on_checked, a);
    wipe_password(a);
}

static void on_delay_over(struct event_loop *loop, void *ctx)
{
    (void)loop;
    struct auth_attempt *a = ctx;
    a->timer = 0;
    check(a);
}

static void check_after(struct auth_attempt *a, long delay_ms)
{
    if (delay_ms > 0)
        a->timer = event_timer(a->g->lim.loop, delay_ms, on_delay_over, a);
    else
        check(a);
}

/* This process's checks of addr that its own count allowed and that are not finished. */
static unsigned checks_under_way(const struct auth_guard *g, const char *addr)
{
    unsigned n = 0;
    for (const struct auth_attempt *o = DLIST_FIRST(&g->attempts); o; o = o->next)
        n += o->checking && strcmp(o->rip, addr) == 0;
    return n;
}

static void on_ask_again(struct event_loop *loop, void *ctx);

/* No answer from anvil: this process's own count decides, and the login is slowed. Checks
 * under way count as failures-to-be, as anvil's reservations do, so that parallel sessions
 * get no more than the limit. */
static void without_anvil(struct auth_attempt *a)
{
    struct auth_guard *g = a->g;
    a->generation = 0;
    a->failures = auth_penalty_count(g->penalty, a->rip, event_now_ms());
    if (a->failures >= g->lim.max_failures) {
        refuse(a, "too many failed logins from this address (this process's count)");
    } else if (a->failures + checks_under_way(g, a->rip) >= g->lim.max_failures) {
        a->timer = event_timer(g->lim.loop, 200, on_ask_again, a); /* as anvil's "wait" */
    } else {
        a->checking = true;
        check_after(a, (long)g->lim.failure_delay_ms);
    }
}

static void ask_anvil(struct auth_attempt *a);

static void on_ask_again(struct event_loop *loop, void *ctx)
{
    (void)loop;
    struct auth_attempt *a = ctx;
    a->timer = 0;
    ask_anvil(a);
}

/* anvil's count of the address is the truth across processes: this process's own count
 * (which refuses connections at once, and decides while anvil does not answer) is brought
 * down to it, so that failures a success in another process forgave no longer count here. */
static void sync_local_count(struct auth_guard *g, const char *addr, unsigned failures)
{
    long long now = event_now_ms();
    if (failures > g->lim.max_failures) /* a bound on the loop below: more refuses alike */
        failures = g->lim.max_failures;
    if (auth_penalty_count(g->penalty, addr, now) <= failures)
        return;
    auth_penalty_clear(g->penalty, addr);
    for (unsigned i = 0; i < failures; i++)
        auth_penalty_fail(g->penalty, addr, now);
}

/* anvil restarted without its predecessor's counts (a crash) less than login_penalty_time
 * ago: where this process counted more failures of the address, its own count decides, so
 * that losing anvil slows logins and never opens them (doc/anvil.md, "Across restarts"). */
static void after_amnesic_anvil(struct auth_attempt *a, long delay_ms)
{
    struct auth_guard *g = a->g;
    unsigned local = auth_penalty_count(g->penalty, a->rip, event_now_ms());
    if (local <= a->failures) {
        check_after(a, delay_ms);
        return;
    }
    a->failures = local;
    if (local >= g->lim.max_failures) {
        anvil_login_done(g->lim.anvil, a->rip, a->user, ANVIL_LOGIN_NOT_CHECKED, a->generation,
                         NULL, NULL);
        a->generation = 0;
        refuse(a, "too many failed logins from this address (this process's count: anvil "
                  "restarted)");
        return;
    }
    check_after(a, delay_ms > g->lim.failure_delay_ms ? delay_ms : (long)g->lim.failure_delay_ms);
}

static void on_anvil(void *ctx, const struct anvil_reply *r)
{
    struct auth_attempt *a = ctx;
    a->req = NULL;
    if (!a->owner) { /* forgotten while anvil was asked: give back what it reserved */
        if (r->status == ANVIL_OK)
            anvil_login_done(a->g->lim.anvil, a->rip, a->user, ANVIL_LOGIN_NOT_CHECKED,
                             r->generation, NULL, NULL);
        attempt_free(a);
        return;
    }
    switch (r->status) {
    case ANVIL_REFUSE:
        a->failures = r->failures;
        refuse(a, "too many failed logins from this address");
        break;
    case ANVIL_WAIT:
        a->timer = event_timer(a->g->lim.loop, r->delay_ms > 0 ? r->delay_ms : 1, on_ask_again, a);
        break;
    case ANVIL_OK:
        a->generation = r->generation;
        a->failures = r->failures;
        a->anvil_counted = true;
        a->amnesic = r->amnesic;
        if (r->amnesic)
            after_amnesic_anvil(a, r->delay_ms);
        else {
            sync_local_count(a->g, a->rip, r->failures);
            check_after(a, r->delay_ms);
        }
        break;
    case ANVIL_UNAVAILABLE:
        without_anvil(a);
        break;
    }
}

static void ask_anvil(struct auth_attempt *a)
{
    struct auth_guard *g = a->g;
    if (!g->lim.anvil) {
        without_anvil(a);
        return;
    }
    struct login_limits lim = {.max_failures = g->lim.max_failures,
                               .delay_ms = (long)g->lim.failure_delay_ms,
                               .delay_limit_ms = (long)g->lim.failure_delay_limit_ms};
    a->req = anvil_login(g->lim.anvil, a->rip, a->user, &lim, on_anvil, a);
}

/* --- the owner's calls --- */

static struct auth_attempt *attempt_new(struct auth_guard *g, const struct auth_client_info *who,
                                        const char *method)
{
    struct auth_attempt *a = xcalloc(1, sizeof *a);
    a->g = g;
    a->method = method;
    snprintf(a->rip, sizeof a->rip, "%s", who->rip);
    snprintf(a->lip, sizeof a->lip, "%s", who->lip ? who->lip : "");
    snprintf(a->id, sizeof a->id, "%s", who->id ? who->id : "");
    a->tls = who->tls;
    DLIST_INSERT_TAIL(&g->attempts, a);
    return a;
}

struct auth_attempt *auth_attempt_start(struct auth_guard *g, const struct auth_client_info *who,
                                        const char *name, const char *password,
                                        const char *method, auth_outcome_fn fn, void *owner)
{
    struct auth_attempt *a = attempt_new(g, who, method);
    a->fn = fn;
    a->owner = owner;
    a->user = name ? auth_user_name(name, g->lim.default_domain) : NULL;
    a->malformed = !password;
    a->password = password ? xstrdup(password) : NULL;
    /* From a timer, so that no outcome runs inside the caller's command handler. */
    a->timer = event_timer(g->lim.loop, 0, on_ask_again, a);
    return a;
}

void auth_attempt_forget(struct auth_attempt *a)
{
    if (!a)
        return;
    a->owner = NULL;
    if (a->job)
        return; /* on_checked counts the result and frees the attempt */
    if (a->req && a->failure_reported) { /* logged and counted here, without a reply */
        struct auth_outcome o;
        count_failure(a, a->authenticated, &o);
    } else if (a->malformed) { /* it could only fail: counted and logged all the same */
        struct auth_outcome o;
        count_failure(a, a->user, &o);
    }
    if (a->req && !a->failure_reported && !a->authenticated)
        return; /* anvil is asked whether it may try: on_anvil frees it, releasing the
                 * attempt anvil may reserve meanwhile (a cancelled question kept it held) */
    anvil_cancel(a->req);
    if (a->timer)
        event_timer_cancel(a->g->lim.loop, a->timer);
    if (a->generation && a->g->lim.anvil)
        anvil_login_done(a->g->lim.anvil, a->rip, a->user, ANVIL_LOGIN_NOT_CHECKED, a->generation,
                         NULL, NULL);
    attempt_free(a);
}
