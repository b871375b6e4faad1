/* login.c - password checks off the event loop and the failed-login table (see login.h). */
#include "login.h"
#include "accounts.h"
#include "log.h"
#include "mem.h"
#include "password.h"
#include <bsd/stdlib.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define PENALTY_BUCKETS 1024
#define PENALTY_MAX_ENTRIES 100000

char *login_user_name(const char *name, const char *default_domain)
{
    size_t len = strlen(name), ats = 0;
    if (len == 0 || len > LOGIN_USER_MAX)
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
    if (strlen(user) > LOGIN_USER_MAX) {
        free(user);
        return NULL;
    }
    for (char *p = user; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
    return user;
}

/* --- the worker --- */

struct login_auth_job {
    struct login_auth_job *next;
    char *user;
    char *password;
    enum login_auth_result result;
    login_auth_fn fn; /* NULL once cancelled (loop thread only) */
    void *ctx;
};

struct login_auth {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct login_auth_job *todo, *done; /* newest first */
    int efd;
    unsigned pending; /* loop thread only */
    struct accounts *accounts; /* worker thread only after start */
    char *dummy_hash;          /* worker thread only */
};

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static struct login_auth_job *reverse(struct login_auth_job *j)
{
    struct login_auth_job *out = NULL;
    while (j) {
        struct login_auth_job *next = j->next;
        j->next = out;
        out = j;
        j = next;
    }
    return out;
}

static enum login_auth_result check(struct login_auth *la, struct login_auth_job *j)
{
    struct account_user u;
    char *err = NULL;
    int found = accounts_user_get(la->accounts, j->user, &u, &err);
    if (found < 0) {
        log_warn("account database: %s", err ? err : "read error");
        free(err);
        return LOGIN_AUTH_TEMPFAIL;
    }
    bool usable = found == 1 && u.password_hash && u.password_hash[0];
    /* Always pay for one verification, so unknown users cost what known ones do. */
    int ok = password_verify(j->password, usable ? u.password_hash : la->dummy_hash);
    if (found == 1)
        account_user_free(&u);
    if (usable && ok < 0)
        log_warn("user %s: unusable password hash in the account database", j->user);
    return usable && ok == 1 ? LOGIN_AUTH_OK : LOGIN_AUTH_FAIL;
}

static void *worker(void *arg)
{
    struct login_auth *la = arg;
    char *err = NULL;
    /* A real hash of a random password: verifying against it always fails. */
    char random_pw[33];
    arc4random_buf(random_pw, sizeof random_pw - 1);
    for (size_t i = 0; i < sizeof random_pw - 1; i++)
        random_pw[i] = (char)('a' + (unsigned char)random_pw[i] % 26);
    random_pw[sizeof random_pw - 1] = 0;
    la->dummy_hash = password_hash(random_pw, &err);
    if (!la->dummy_hash)
        log_fatal("cannot make the dummy password hash: %s", err ? err : "?");
    for (;;) {
        pthread_mutex_lock(&la->mu);
        while (!la->todo)
            pthread_cond_wait(&la->cv, &la->mu);
        struct login_auth_job *batch = reverse(la->todo);
        la->todo = NULL;
        pthread_mutex_unlock(&la->mu);
        for (struct login_auth_job *j = batch; j; j = j->next) {
            j->result = check(la, j);
            wipe_free(j->password);
            j->password = NULL;
        }
        pthread_mutex_lock(&la->mu);
        while (batch) {
            struct login_auth_job *next = batch->next;
            batch->next = la->done;
            la->done = batch;
            batch = next;
        }
        pthread_mutex_unlock(&la->mu);
        uint64_t one = 1;
        while (write(la->efd, &one, sizeof one) < 0 && errno == EINTR) {
        }
    }
    return NULL;
}

static void on_done(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct login_auth *la = ctx;
    uint64_t v;
    if (read(fd, &v, sizeof v) < 0 && errno != EAGAIN)
        log_warn("login eventfd: %m");
    pthread_mutex_lock(&la->mu);
    struct login_auth_job *list = reverse(la->done);
    la->done = NULL;
    pthread_mutex_unlock(&la->mu);
    while (list) {
        struct login_auth_job *next = list->next;
        la->pending--;
        if (list->fn)
            list->fn(list->ctx, list->result, list->user);
        free(list->user);
        free(list);
        list = next;
    }
}

struct login_auth *login_auth_new(struct event_loop *loop, struct config *cfg, char **err)
{
    struct accounts *acc = accounts_open(cfg, false, err);
    if (!acc)
        return NULL;
    struct login_auth *la = xcalloc(1, sizeof *la);
    la->accounts = acc;
    pthread_mutex_init(&la->mu, NULL);
    pthread_cond_init(&la->cv, NULL);
    la->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (la->efd < 0 || event_add(loop, la->efd, EPOLLIN, on_done, la) < 0)
        log_fatal("login eventfd: %m");
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* signals belong to the loop thread */
    int e = pthread_create(&la->thread, NULL, worker, la);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0)
        log_fatal("pthread_create: %s", strerror(e));
    return la;
}

struct login_auth_job *login_auth_submit(struct login_auth *la, const char *user,
                                         const char *password, login_auth_fn fn, void *ctx)
{
    struct login_auth_job *j = xcalloc(1, sizeof *j);
    j->user = xstrdup(user);
    j->password = xstrdup(password);
    j->fn = fn;
    j->ctx = ctx;
    la->pending++;
    pthread_mutex_lock(&la->mu);
    j->next = la->todo;
    la->todo = j;
    pthread_cond_signal(&la->cv);
    pthread_mutex_unlock(&la->mu);
    return j;
}

void login_auth_cancel(struct login_auth_job *job)
{
    if (job)
        job->fn = NULL;
}

unsigned login_auth_pending(const struct login_auth *la) { return la ? la->pending : 0; }

/* --- failed logins per client address --- */

struct penalty {
    struct penalty *next;
    unsigned count;
    long long last_ms;
    char addr[];
};

struct login_penalty {
    struct penalty *bucket[PENALTY_BUCKETS];
    size_t n;
};

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % PENALTY_BUCKETS;
}

struct login_penalty *login_penalty_new(void) { return xcalloc(1, sizeof(struct login_penalty)); }

static void drop_if(struct login_penalty *p, bool (*pred)(struct penalty *, const void *),
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

static bool too_old(struct penalty *e, const void *arg)
{
    return *(const long long *)arg - e->last_ms > LOGIN_PENALTY_MEMORY_MS;
}

void login_penalty_free(struct login_penalty *p)
{
    if (!p)
        return;
    drop_if(p, always, NULL);
    free(p);
}

void login_penalty_expire(struct login_penalty *p, long long now_ms) { drop_if(p, too_old, &now_ms); }

static struct penalty **find(struct login_penalty *p, const char *addr)
{
    struct penalty **pp = &p->bucket[hash(addr)];
    while (*pp && strcmp((*pp)->addr, addr) != 0)
        pp = &(*pp)->next;
    return pp;
}

unsigned login_penalty_count(struct login_penalty *p, const char *addr, long long now_ms)
{
    struct penalty *e = *find(p, addr);
    return e && now_ms - e->last_ms <= LOGIN_PENALTY_MEMORY_MS ? e->count : 0;
}

unsigned login_penalty_fail(struct login_penalty *p, const char *addr, long long now_ms)
{
    struct penalty **pp = find(p, addr);
    if (!*pp) {
        if (p->n >= PENALTY_MAX_ENTRIES)
            login_penalty_expire(p, now_ms);
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
    if (now_ms - e->last_ms > LOGIN_PENALTY_MEMORY_MS)
        e->count = 0;
    e->count++;
    e->last_ms = now_ms;
    return e->count;
}

void login_penalty_clear(struct login_penalty *p, const char *addr)
{
    struct penalty **pp = find(p, addr);
    if (*pp) {
        struct penalty *e = *pp;
        *pp = e->next;
        free(e);
        p->n--;
    }
}
