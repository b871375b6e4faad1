/* clients.c - how many sessions each client address has open in this process: the count of
 * smtpd_client_connection_count_limit while anvil is unavailable (doc/anvil.md). A small
 * chained hash table keyed by address text. */
#include "mem.h"
#include "smtpd.h"
#include "strhash.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 1024

struct client {
    struct client *next;
    unsigned count;
    char addr[64];
};

struct client_table {
    struct client *b[BUCKETS];
};

struct client_table *clients_new(void) { return xcalloc(1, sizeof(struct client_table)); }

static unsigned hash(const char *s) { return str_hash(s) % BUCKETS; }

unsigned clients_add(struct client_table *t, const char *addr)
{
    struct client **head = &t->b[hash(addr)];
    for (struct client *c = *head; c; c = c->next)
        if (strcmp(c->addr, addr) == 0)
            return ++c->count;
    struct client *c = xcalloc(1, sizeof *c);
    snprintf(c->addr, sizeof c->addr, "%s", addr);
    c->count = 1;
    c->next = *head;
    *head = c;
    return 1;
}

unsigned clients_count(struct client_table *t, const char *addr)
{
    for (struct client *c = t->b[hash(addr)]; c; c = c->next)
        if (strcmp(c->addr, addr) == 0)
            return c->count;
    return 0;
}

void clients_del(struct client_table *t, const char *addr)
{
    for (struct client **pp = &t->b[hash(addr)]; *pp; pp = &(*pp)->next) {
        struct client *c = *pp;
        if (strcmp(c->addr, addr) != 0)
            continue;
        if (--c->count == 0) {
            *pp = c->next;
            free(c);
        }
        return;
    }
}
