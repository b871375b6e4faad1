/* keys.c - the keys of recently seen domains (see signer.h): loaded from
 * dkim_key_directory on first use, at most dkim_key_cache_size domains (the least recently
 * used goes first), a domain without keys remembered as such. The whole cache is dropped
 * when the directory's mtime (the stamp `posthorn dkim` sets after every change,
 * lib/dkim/dkim_keydir.h) differs from the one the keys were loaded under; while the stamp
 * is younger than STAMP_SETTLE_S nothing is kept, as a second change within the clock's
 * granularity would not move it. */
#include "signer.h"
#include "dkim_keydir.h"
#include "list.h"
#include "log.h"
#include "mem.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STAMP_SETTLE_S 2

struct entry {
    struct entry *prev, *next; /* LRU list, most recent first */
    struct entry *hnext;       /* hash chain */
    char *domain;
    struct domain_keys dk;
};

struct keycache {
    char *dir;
    size_t max_domains, max_keys;
    struct entry **buckets;
    size_t nbuckets, n;
    DLIST_HEAD(struct entry) lru;
    struct timespec stamp; /* of the keys now loaded */
    bool have_stamp;
    struct domain_keys scratch; /* the answer when nothing may be kept */
};

static void keys_free(struct domain_keys *dk)
{
    for (size_t i = 0; i < dk->n; i++) {
        dkim_key_free(dk->keys[i]);
        free(dk->selectors[i]);
    }
    free(dk->keys);
    free(dk->selectors);
    memset(dk, 0, sizeof *dk);
}

struct keycache *keycache_new(const char *dir, size_t max_domains, size_t max_keys)
{
    struct keycache *kc = xcalloc(1, sizeof *kc);
    kc->dir = xstrdup(dir);
    kc->max_domains = max_domains;
    kc->max_keys = max_keys;
    kc->nbuckets = 64;
    while (kc->nbuckets < 2 * max_domains)
        kc->nbuckets *= 2;
    kc->buckets = xcalloc(kc->nbuckets, sizeof *kc->buckets);
    return kc;
}

static size_t bucket_of(const struct keycache *kc, const char *domain)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)domain; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)(h & (kc->nbuckets - 1));
}

static void entry_drop(struct keycache *kc, struct entry *e)
{
    struct entry **pp = &kc->buckets[bucket_of(kc, e->domain)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    DLIST_REMOVE(&kc->lru, e);
    kc->n--;
    keys_free(&e->dk);
    free(e->domain);
    free(e);
}

static void clear(struct keycache *kc)
{
    while (DLIST_FIRST(&kc->lru))
        entry_drop(kc, DLIST_FIRST(&kc->lru));
    keys_free(&kc->scratch);
}

void keycache_free(struct keycache *kc)
{
    if (!kc)
        return;
    clear(kc);
    free(kc->buckets);
    free(kc->dir);
    free(kc);
}

/* The active keys of domain, read from the directory. -1 with *err. */
static int load(const struct keycache *kc, const char *domain, struct domain_keys *dk, char **err)
{
    struct dkim_keylist l;
    memset(dk, 0, sizeof *dk);
    if (dkim_keydir_scan(kc->dir, domain, &l, err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        if (l.v[i].state != DKIM_KEY_ACTIVE)
            continue;
        if (dk->n == kc->max_keys) {
            log_warn("%s has more than dkim_max_signatures (%zu) active keys; %s does not sign",
                     domain, kc->max_keys, l.v[i].selector);
            continue;
        }
        struct dkim_key *k = dkim_key_load(l.v[i].path, err);
        if (!k) {
            rc = -1;
            break;
        }
        dk->keys = xreallocarray(dk->keys, dk->n + 1, sizeof *dk->keys);
        dk->selectors = xreallocarray(dk->selectors, dk->n + 1, sizeof *dk->selectors);
        dk->keys[dk->n] = k;
        dk->selectors[dk->n++] = xstrdup(l.v[i].selector);
    }
    dkim_keylist_free(&l);
    if (rc < 0)
        keys_free(dk);
    return rc;
}

/* Drop everything when the directory changed; false when nothing may be kept now. */
static bool check_stamp(struct keycache *kc)
{
    struct timespec now, st = {0, 0};
    bool have = dkim_keydir_stamp(kc->dir, &st);
    clock_gettime(CLOCK_REALTIME, &now);
    if (have != kc->have_stamp || st.tv_sec != kc->stamp.tv_sec || st.tv_nsec != kc->stamp.tv_nsec)
        clear(kc);
    kc->stamp = st;
    kc->have_stamp = have;
    return !have || now.tv_sec - st.tv_sec >= STAMP_SETTLE_S; /* a future stamp: not settled */
}

const struct domain_keys *keycache_get(struct keycache *kc, const char *domain, char **err)
{
    bool keep = check_stamp(kc);
    struct entry *e = kc->buckets[bucket_of(kc, domain)];
    while (e && strcmp(e->domain, domain) != 0)
        e = e->hnext;
    if (e) {
        DLIST_REMOVE(&kc->lru, e);
        DLIST_INSERT_HEAD(&kc->lru, e);
        return &e->dk;
    }
    struct domain_keys dk;
    if (load(kc, domain, &dk, err) < 0)
        return NULL; /* not kept: the next message tries again */
    if (!keep) {
        keys_free(&kc->scratch);
        kc->scratch = dk;
        return &kc->scratch;
    }
    if (kc->n >= kc->max_domains)
        entry_drop(kc, DLIST_LAST(&kc->lru));
    e = xcalloc(1, sizeof *e);
    e->domain = xstrdup(domain);
    e->dk = dk;
    size_t b = bucket_of(kc, domain);
    e->hnext = kc->buckets[b];
    kc->buckets[b] = e;
    DLIST_INSERT_HEAD(&kc->lru, e);
    kc->n++;
    return &e->dk;
}
