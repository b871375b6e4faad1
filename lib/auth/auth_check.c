/* auth_check.c - password checks off the event loop and the failed-login table (see auth_check.h). */
#include "auth_check.h"
#include "accounts.h"
#include "mem.h"
#include "password.h"
#include "strhash.h"
#include "worker.h"
#include <bsd/stdlib.h>
#include <stdlib.h>
#include <string.h>

#define PENALTY_BUCKETS 1024
#define PENALTY_MAX_ENTRIES 100000

char *auth_user_name(const char *name, const char *default_domain)
{
    size_t len = strlen(name), ats = 0;
    if (len == 0 || len > AUTH_USER_MAX)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p <= ' ' || *p == 0x7f)
            return NULL;
        ats += *p == '@';
    }
    if (ats > 1 || name[0] == '@' || name[len - 1] == '@')
        return NULL;
    char *user = ats == 0 && default_domain && *default_domain
                     ? xasprintf("%s@%s", name, default_domain)
                     : xstrdup(name);
    if (strlen(user) > AUTH_USER_MAX) {
        free(user);
        return NULL;
    }
    for (char *p = user; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
    return user;
}

/* --- the worker (lib/util/worker.h: one thread, one job at a time) --- */

struct auth_check_job {
    struct worker_job wj;
    char *user;
    char *password;
    int found;       /* the account database's answer: 1 user, 0 none, -1 error */
    char *hash;      /* the user's password hash (found == 1), or NULL */
    enum auth_check_result result;
    char *err; /* for the caller's log, or NULL */
    auth_check_fn fn;
    void *ctx;
};

struct auth_check {
    struct worker *worker;
    struct accounts *accounts; /* loop thread only */
    char *dummy_hash;          /* worker thread only; made before the first check */
    char *dummy_err;           /* why there is no dummy hash (worker thread only) */
    struct password_cost cost; /* of new hashes: the dummy costs what a new user's hash does */
};

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* A real hash of a random password: verifying against it always fails, at full cost. */
static bool make_dummy_hash(struct auth_check *la)
{
    if (la->dummy_hash)
        return true;
    if (la->dummy_err)
        return false;
    char random_pw[33];
    arc4random_buf(random_pw, sizeof random_pw - 1);
    for (size_t i = 0; i < sizeof random_pw - 1; i++)
        random_pw[i] = (char)('a' + (unsigned char)random_pw[i] % 26);
    random_pw[sizeof random_pw - 1] = 0;
    char *err = NULL;
    la->dummy_hash = password_hash(random_pw, &la->cost, &err);
    explicit_bzero(random_pw, sizeof random_pw);
    if (!la->dummy_hash)
        la->dummy_err = xasprintf("cannot make the dummy password hash: %s", err ? err : "?");
    free(err);
    return la->dummy_hash != NULL;
}

/* Loop thread: the user's record, into the job. */
static void look_up(struct auth_check *la, struct auth_check_job *j)
{
    struct account_user u;
    char *err = NULL;
    j->found = accounts_user_get(la->accounts, j->user, &u, &err);
    if (j->found < 0) {
        j->err = xasprintf("account database: %s", err ? err : "read error");
        free(err);
    } else if (j->found == 1) {
        if (u.password_hash && u.password_hash[0])
            j->hash = xstrdup(u.password_hash);
        account_user_free(&u);
    }
}

/* Worker thread: the verification, with the hash looked up before. */
static enum auth_check_result check(struct auth_check *la, struct auth_check_job *j)
{
    if (!make_dummy_hash(la)) {
        free(j->err);
        j->err = xstrdup(la->dummy_err);
        return AUTH_CHECK_TEMPFAIL;
    }
    if (j->found < 0)
        return AUTH_CHECK_TEMPFAIL;
    bool usable = j->hash != NULL;
    /* Always pay for one verification, so unknown users cost what known ones do. */
    int ok = password_verify(j->password, usable ? j->hash : la->dummy_hash);
    if (usable && ok < 0)
        j->err = xasprintf("user %s: unusable password hash in the account database", j->user);
    return usable && ok == 1 ? AUTH_CHECK_OK : AUTH_CHECK_FAIL;
}

static void run_checks(struct worker_job *first, void *ctx)
{
    for (struct worker_job *wj = first; wj; wj = wj->next) {
        struct auth_check_job *j = WORKER_JOB_OWNER(wj, struct auth_check_job, wj);
        j->result = check(ctx, j);
        wipe_free(j->password);
        j->password = NULL;
    }
}

static void checked(struct worker_job *wj, void *ctx)
{
    (void)ctx;
    struct auth_check_job *j = WORKER_JOB_OWNER(wj, struct auth_check_job, wj);
    if (!wj->ran) /* dropped at shutdown */
        j->result = AUTH_CHECK_TEMPFAIL;
    if (!wj->cancelled)
        j->fn(j->ctx, j->result, j->user, j->err);
    wipe_free(j->password);
    wipe_free(j->hash);
    free(j->user);
    free(j->err);
    free(j);
}

struct accounts *auth_check_accounts(struct auth_check *la) { return la->accounts; }

struct auth_check *auth_check_new(struct event_loop *loop, struct config *cfg, char **err)
{
    struct accounts *acc = accounts_open(cfg, false, err);
    if (!acc)
        return NULL;
    struct auth_check *la = xcalloc(1, sizeof *la);
    la->accounts = acc;
    la->cost = password_cost_of(cfg);
    struct worker_config wc = {.name = "login", .max_threads = 1, .max_batch = 1,
                               .run = run_checks, .done = checked, .ctx = la};
    la->worker = worker_new(loop, &wc, err);
    if (!la->worker) {
        accounts_close(acc);
        free(la);
        return NULL;
    }
    return la;
}

struct auth_check_job *auth_check_submit(struct auth_check *la, const char *user,
                                         const char *password, auth_check_fn fn, void *ctx)
{
    struct auth_check_job *j = xcalloc(1, sizeof *j);
    j->user = xstrdup(user);
    j->password = xstrdup(password);
    j->fn = fn;
    j->ctx = ctx;
    look_up(la, j);
    char *err = NULL;
    if (worker_submit(la->worker, &j->wj, &err) < 0)
        free(err); /* cannot happen with one thread, which worker_new started */
    return j;
}

void auth_check_cancel(struct auth_check_job *job)
{
    if (job)
        worker_cancel(&job->wj);
}

unsigned auth_check_pending(const struct auth_check *la) { return la ? worker_pending(la->worker) : 0; }

/* --- failed logins per client address --- */

struct penalty {
    struct penalty *next;
    unsigned count;
    long long last_ms;
    char addr[];
};

struct auth_penalty {
    struct penalty *bucket[PENALTY_BUCKETS];
    size_t n;
    long long memory_ms;
};

static unsigned hash(const char *s) { return str_hash(s) % PENALTY_BUCKETS; }

struct auth_penalty *auth_penalty_new(long long memory_ms)
{
    struct auth_penalty *p = xcalloc(1, sizeof *p);
    p->memory_ms = memory_ms;
    return p;
}

static void drop_if(struct auth_penalty *p, bool (*pred)(struct penalty *, const void *),
                    const void *arg)
{
    for (size_t i = 0; i < PENALTY_BUCKETS; i++)
        for (struct penalty **pp = &p->bucket[i]; *pp;) {
            struct penalty *e = *pp;
            if (pred(e, arg)) {
                *pp = e->next;
                free(e);
                p->n--;
            } else {
                pp = &e->next;
            }
        }
}

static bool always(struct penalty *e, const void *arg) { return true; }

struct age_limit {
    long long now_ms, memory_ms;
};

static bool too_old(struct penalty *e, const void *arg)
{
    const struct age_limit *a = arg;
    return a->now_ms - e->last_ms > a->memory_ms;
}

void auth_penalty_free(struct auth_penalty *p)
{
    if (!p)
        return;
    drop_if(p, always, NULL);
    free(p);
}

void auth_penalty_expire(struct auth_penalty *p, long long now_ms)
{
    struct age_limit a = {now_ms, p->memory_ms};
    drop_if(p, too_old, &a);
}

void auth_penalty_each(struct auth_penalty *p, long long now_ms,
                       void (*fn)(const char *addr, unsigned count, long long age_ms, void *ctx),
                       void *ctx)
{
    for (size_t i = 0; i < PENALTY_BUCKETS; i++)
        for (struct penalty *e = p->bucket[i]; e; e = e->next)
            if (e->count && now_ms - e->last_ms <= p->memory_ms)
                fn(e->addr, e->count, now_ms - e->last_ms, ctx);
}

static struct penalty **find(struct auth_penalty *p, const char *addr)
{
    struct penalty **pp = &p->bucket[hash(addr)];
    while (*pp && strcmp((*pp)->addr, addr) != 0)
        pp = &(*pp)->next;
    return pp;
}

unsigned auth_penalty_count(struct auth_penalty *p, const char *addr, long long now_ms)
{
    struct penalty *e = *find(p, addr);
    return e && now_ms - e->last_ms <= p->memory_ms ? e->count : 0;
}

unsigned auth_penalty_fail(struct auth_penalty *p, const char *addr, long long now_ms)
{
    struct penalty **pp = find(p, addr);
    if (!*pp) {
        if (p->n >= PENALTY_MAX_ENTRIES)
            auth_penalty_expire(p, now_ms);
        if (p->n >= PENALTY_MAX_ENTRIES)
            return 1; /* table full of recent failures: count this one alone */
        size_t len = strlen(addr);
        struct penalty *e = xcalloc(1, sizeof *e + len + 1);
        memcpy(e->addr, addr, len + 1);
        e->next = p->bucket[hash(addr)];
        p->bucket[hash(addr)] = e;
        p->n++;
        pp = &p->bucket[hash(addr)];
    }
    struct penalty *e = *pp;
    if (now_ms - e->last_ms > p->memory_ms)
        e->count = 0;
    e->count++;
    e->last_ms = now_ms;
    return e->count;
}

void auth_penalty_clear(struct auth_penalty *p, const char *addr)
{
    struct penalty **pp = find(p, addr);
    if (*pp) {
        struct penalty *e = *pp;
        *pp = e->next;
        free(e);
        p->n--;
    }
}
