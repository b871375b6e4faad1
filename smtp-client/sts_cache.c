/* sts_cache.c - smtp-client's MTA-STS policy cache (RFC 8461 sec 5.1; see sts.h).
 *
 * In memory: at most smtp_mta_sts_cache_size entries in LRU order; an entry with a fetch
 * in flight or deliveries waiting is never dropped. On disk: one file per domain in
 * smtp_mta_sts_cache_directory (made by posthorn init, mode 0700, mail_owner), read the
 * first time the domain is seen, so a restart keeps every policy until its max_age runs
 * out. The file, versioned:
 *     posthorn-mta-sts 1
 *     id: ID
 *     fetched: UNIX-TIME
 *     (empty line)
 *     the policy exactly as served
 * and parsed again on reading (a file that does not parse is ignored). Files are
 * replaced atomically (temp, fsync, rename, directory fsync) on a worker thread, so the
 * loop never waits for the disk; the domain (checked: lower-case letters, digits, '-' and
 * '.') is the file name. */
#include "smtpc.h"
#include "sts.h"
#include "config.h"
#include "fileio.h"
#include "log.h"
#include "mem.h"
#include "worker.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FILE_MAGIC "posthorn-mta-sts 1\n"

struct sts_cache {
    struct smtpc *sc;
    char *dir;
    bool dir_warned;
    size_t max, n;
    DLIST_HEAD(struct sts_entry) lru;
    struct worker *writer;
};

struct write_job {
    struct worker_job job;
    char *path;
    struct buf data;
    int err; /* errno, 0 when written */
};

static void write_run(struct worker_job *first, void *ctx)
{
    for (struct worker_job *j = first; j; j = j->next) {
        struct write_job *w = WORKER_JOB_OWNER(j, struct write_job, job);
        w->err = write_file_atomic(w->path, w->data.data, w->data.len, 0600) == 0 ? 0 : errno;
    }
}

static void write_done(struct worker_job *j, void *ctx)
{
    struct write_job *w = WORKER_JOB_OWNER(j, struct write_job, job);
    if (w->err)
        log_warn("MTA-STS policy cache %s: %s", w->path, strerror(w->err));
    free(w->path);
    buf_free(&w->data);
    free(w);
}

struct sts_cache *sts_cache_new(struct smtpc *sc, struct config *cfg)
{
    struct sts_cache *c = xcalloc(1, sizeof *c);
    c->sc = sc;
    c->dir = xstrdup(config_str(cfg, PARAM(smtp_mta_sts_cache_directory)));
    c->max = (size_t)config_int(cfg, PARAM(smtp_mta_sts_cache_size));
    struct worker_config wc = {.name = "mta-sts cache", .max_threads = 1, .run = write_run,
                               .done = write_done, .ctx = c};
    char *err = NULL;
    if (*c->dir && !(c->writer = worker_new(sc->srv->loop, &wc, &err))) {
        log_warn("MTA-STS policy cache: %s; policies are kept in memory only", err);
        free(err);
    }
    return c;
}

static void entry_free(struct sts_entry *e)
{
    sts_fetch_cancel(e->fetch);
    mta_sts_policy_free(&e->pol);
    free(e->wait);
    free(e);
}

unsigned sts_cache_writes(const struct sts_cache *c)
{
    return c->writer ? worker_pending(c->writer) : 0;
}

bool sts_entry_valid(const struct sts_entry *e, time_t now)
{
    return e->have && now < e->expires;
}

/* A domain usable as a file name. */
static bool file_name_ok(const char *domain)
{
    return domain[0] && domain[0] != '.' && strspn(domain, "abcdefghijklmnopqrstuvwxyz0123456789-.") == strlen(domain);
}

/* Header fields of a cache file, "name: value\n"; false when malformed. */
static bool header_field(const char **p, const char *name, char *out, size_t outsize)
{
    size_t n = strlen(name);
    if (strncmp(*p, name, n) != 0 || (*p)[n] != ':' || (*p)[n + 1] != ' ')
        return false;
    const char *v = *p + n + 2, *nl = strchr(v, '\n');
    if (!nl || (size_t)(nl - v) >= outsize || nl == v)
        return false;
    memcpy(out, v, (size_t)(nl - v));
    out[nl - v] = 0;
    *p = nl + 1;
    return true;
}

/* The header of a cache file; *policy is where the policy starts. */
static bool parse_header(const char *p, char id[MTA_STS_ID_MAX + 1], char when[24],
                         const char **policy)
{
    size_t magic = strlen(FILE_MAGIC);
    if (strncmp(p, FILE_MAGIC, magic) != 0)
        return false;
    p += magic;
    if (!header_field(&p, "id", id, MTA_STS_ID_MAX + 1) || !header_field(&p, "fetched", when, 24) ||
        *p != '\n' || strspn(when, "0123456789") != strlen(when))
        return false;
    *policy = p + 1;
    return true;
}

static void load(struct sts_cache *c, struct sts_entry *e)
{
    if (!*c->dir || !file_name_ok(e->domain))
        return;
    char *path = xasprintf("%s/%s", c->dir, e->domain), *err = NULL;
    struct buf b = BUF_INIT;
    char id[MTA_STS_ID_MAX + 1], when[24];
    const char *text;
    struct mta_sts_policy pol;
    if (read_file(path, MTA_STS_POLICY_MAX + 256, &b) < 0) {
        if (errno != ENOENT)
            log_warn("MTA-STS policy cache %s: %m", path);
    } else if (!parse_header(buf_cstr(&b), id, when, &text)) {
        log_warn("MTA-STS policy cache %s: not a policy file; ignored", path);
    } else if (mta_sts_policy_parse(text, b.len - (size_t)(text - b.data), &pol, &err) < 0) {
        log_warn("MTA-STS policy cache %s: %s; ignored", path, err);
    } else {
        snprintf(e->id, sizeof e->id, "%s", id);
        e->pol = pol;
        e->fetched = (time_t)strtoll(when, NULL, 10);
        e->expires = e->fetched + pol.max_age;
        e->have = true;
    }
    free(err);
    free(path);
    buf_free(&b);
}

/* Forget the least recently used entries beyond the limit (not those in use). */
static void trim(struct sts_cache *c)
{
    struct sts_entry *e = DLIST_LAST(&c->lru), *prev;
    for (; e && c->n > c->max; e = prev) {
        prev = e->prev;
        if (e->fetch || e->nwait)
            continue;
        DLIST_REMOVE(&c->lru, e);
        entry_free(e);
        c->n--;
    }
}

struct sts_entry *sts_cache_get(struct sts_cache *c, const char *domain)
{
    struct sts_entry *e;
    DLIST_FOREACH(e, &c->lru) {
        if (strcmp(e->domain, domain) == 0) {
            DLIST_REMOVE(&c->lru, e);
            DLIST_INSERT_HEAD(&c->lru, e);
            return e;
        }
    }
    e = xcalloc(1, sizeof *e);
    snprintf(e->domain, sizeof e->domain, "%s", domain);
    load(c, e);
    DLIST_INSERT_HEAD(&c->lru, e);
    c->n++;
    trim(c);
    return e;
}

static void save(struct sts_cache *c, const struct sts_entry *e, const char *text, size_t len)
{
    if (!c->writer || !file_name_ok(e->domain))
        return;
    struct stat st;
    if (stat(c->dir, &st) < 0) {
        if (!c->dir_warned)
            log_warn("MTA-STS policy cache %s: %m; policies are kept in memory only", c->dir);
        c->dir_warned = true;
        return;
    }
    struct write_job *w = xcalloc(1, sizeof *w);
    w->path = xasprintf("%s/%s", c->dir, e->domain);
    buf_printf(&w->data, FILE_MAGIC "id: %s\nfetched: %lld\n\n", e->id, (long long)e->fetched);
    buf_append(&w->data, text, len);
    char *err = NULL;
    if (worker_submit(c->writer, &w->job, &err) < 0) {
        log_warn("MTA-STS policy cache: %s", err);
        free(err);
    }
}

void sts_cache_store(struct sts_cache *c, struct sts_entry *e, const char *id,
                     const char *text, size_t len, struct mta_sts_policy *pol, time_t now)
{
    mta_sts_policy_free(&e->pol);
    e->pol = *pol;
    *pol = (struct mta_sts_policy){0};
    snprintf(e->id, sizeof e->id, "%s", id);
    e->fetched = now;
    e->expires = now + e->pol.max_age;
    e->have = true;
    save(c, e, text, len);
}
