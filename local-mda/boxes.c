/* boxes.c - local-mda's open mailboxes: a small LRU cache of mailbox handles kept across
 * requests, so that a busy mailbox is not opened (directories created, LMDB environment
 * mapped, stale readers checked, host name looked up) and closed again for every message.
 *
 * Bounded: at most BOXES_MAX handles (each holds an LMDB environment: three descriptors
 * and a memory map); the least recently used one is closed to make room. A handle is
 * checked with mail_user_current() before each use, so a mailbox that was deleted or
 * recreated meanwhile is opened afresh instead of written through a stale environment.
 * Handles unused for BOXES_IDLE_MS are closed from the skeleton's tick (between
 * connections), so an idle local-mda holds no mailbox open. */
#include "local.h"
#include "list.h"
#include "mailstore.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

#define BOXES_MAX 16
#define BOXES_IDLE_MS 10000

struct box {
    struct box *prev, *next; /* in struct boxes, most recently used first */
    char *key;               /* "domain/localpart" */
    struct mail_user *mu;
    long long used_ms;
};

static void box_free(struct boxes *c, struct box *b)
{
    DLIST_REMOVE(&c->list, b);
    c->n--;
    mail_user_close(b->mu);
    free(b->key);
    free(b);
}

static struct box *find(struct boxes *c, const char *key)
{
    struct box *b;
    DLIST_FOREACH(b, &c->list)
        if (strcmp(b->key, key) == 0)
            return b;
    return NULL;
}

struct mail_user *boxes_get(struct mda *m, const char *domain, const char *localpart, char **err)
{
    struct boxes *c = &m->boxes;
    char *key = xasprintf("%s/%s", domain, localpart);
    struct box *b = find(c, key);
    if (b && !mail_user_current(b->mu)) {
        box_free(c, b);
        b = NULL;
    }
    if (b) {
        free(key);
        DLIST_REMOVE(&c->list, b);
    } else {
        struct mail_user *mu = mail_user_open(config_str(m->cfg, PARAM(virtual_mailbox_base)),
                                              domain, localpart,
                                              config_str(m->cfg, PARAM(mailbox_index_name)),
                                              true, err);
        if (!mu) {
            free(key);
            return NULL;
        }
        while (c->n >= BOXES_MAX)
            box_free(c, DLIST_LAST(&c->list)); /* the least recently used */
        b = xcalloc(1, sizeof *b);
        b->key = key;
        b->mu = mu;
        c->n++;
    }
    b->used_ms = event_now_ms();
    DLIST_INSERT_HEAD(&c->list, b);
    return b->mu;
}

void boxes_expire(struct mda *m)
{
    long long now = event_now_ms();
    struct box *b, *next;
    DLIST_FOREACH_SAFE(b, &m->boxes.list, next)
        if (now - b->used_ms >= BOXES_IDLE_MS)
            box_free(&m->boxes, b);
}
