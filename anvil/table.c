/* table.c - anvil's counts by key: a chained hash table bounded by anvil_max_entries, with
 * per-holder counts so that a closed client connection releases what it held (see anvil.h). */
#include "anvil.h"
#include "mem.h"
#include "strhash.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct table {
    struct entry **bucket;
    size_t nbuckets; /* a power of two */
    size_t n, max;
};

struct table *table_new(size_t max_entries)
{
    struct table *t = xcalloc(1, sizeof *t);
    t->max = max_entries;
    t->nbuckets = 1024;
    while (t->nbuckets < max_entries / 2)
        t->nbuckets *= 2;
    t->bucket = xcalloc(t->nbuckets, sizeof *t->bucket);
    return t;
}

static void entry_free(struct entry *e)
{
    free(e->holders);
    free(e);
}

void table_free(struct table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (struct entry *e = t->bucket[i], *next; e; e = next) {
            next = e->next;
            entry_free(e);
        }
    free(t->bucket);
    free(t);
}

static size_t hash(const char *s, size_t nbuckets) { return str_hash(s) & (nbuckets - 1); }

struct entry *table_get_key(struct table *t, const char *key, bool create)
{
    size_t h = hash(key, t->nbuckets);
    struct entry *e = t->bucket[h];
    while (e && strcmp(e->key, key) != 0)
        e = e->next;
    if (!e && create && t->n < t->max) {
        size_t len = strlen(key);
        e = xcalloc(1, sizeof *e + len + 1);
        memcpy(e->key, key, len + 1);
        e->next = t->bucket[h];
        t->bucket[h] = e;
        t->n++;
    }
    return e;
}

struct entry *table_get(struct table *t, const char *kind, const char *a, const char *b,
                        bool create)
{
    /* Lengths in the key keep ("x y", "z") and ("x", "y z") apart. */
    char *key = b ? xasprintf("%s %zu:%s %zu:%s", kind, strlen(a), a, strlen(b), b)
                  : xasprintf("%s %zu:%s", kind, strlen(a), a);
    struct entry *e = table_get_key(t, key, create);
    free(key);
    return e;
}

static struct holder *find_holder(struct entry *e, unsigned client)
{
    for (unsigned i = 0; i < e->nholders; i++)
        if (e->holders[i].client == client)
            return &e->holders[i];
    return NULL;
}

void entry_hold(struct entry *e, unsigned client)
{
    struct holder *h = find_holder(e, client);
    if (!h) {
        e->holders = xreallocarray(e->holders, e->nholders + 1, sizeof *e->holders);
        h = &e->holders[e->nholders++];
        *h = (struct holder){.client = client};
    }
    h->n++;
    e->count++;
}

static void remove_holder(struct entry *e, struct holder *h)
{
    e->count -= h->n;
    *h = e->holders[--e->nholders];
    if (e->nholders == 0) {
        free(e->holders);
        e->holders = NULL;
    }
}

bool entry_release(struct entry *e, unsigned client)
{
    struct holder *h = find_holder(e, client);
    if (!h || h->n == 0)
        return false;
    e->count--;
    if (--h->n == 0)
        remove_holder(e, h);
    return true;
}

void table_drop_client(struct table *t, unsigned client)
{
    for (size_t i = 0; i < t->nbuckets; i++)
        for (struct entry *e = t->bucket[i]; e; e = e->next) {
            struct holder *h = find_holder(e, client);
            if (h)
                remove_holder(e, h);
        }
}

void table_expire(struct table *t, long long now_ms, long long idle_ms)
{
    for (size_t i = 0; i < t->nbuckets; i++)
        for (struct entry **pp = &t->bucket[i]; *pp;) {
            struct entry *e = *pp;
            if (e->count == 0 && now_ms - e->touched_ms > idle_ms && now_ms > e->keep_until) {
                *pp = e->next;
                entry_free(e);
                t->n--;
            } else {
                pp = &e->next;
            }
        }
}

size_t table_size(const struct table *t) { return t->n; }

void table_each(struct table *t, void (*fn)(struct entry *e, void *ctx), void *ctx)
{
    for (size_t i = 0; i < t->nbuckets; i++)
        for (struct entry *e = t->bucket[i]; e; e = e->next)
            fn(e, ctx);
}
