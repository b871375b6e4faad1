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
#include "mailstore.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

#define BOXES_MAX 16
#define BOXES_IDLE_MS 10000

struct box {
    struct box *next;
    char *key; /* "domain/localpart" */
    struct mail_user *mb;
    long long used_ms;
};

static void box_free(struct box *b)
{
    mail_user_close(b->mb);
    free(b->key);
    free(b);
}

/* Unlink and return the entry for key (NULL when not cached); counts the list in *n. */
static struct box *take(struct boxes *c, const char *key)
{
    for (struct box **pp = &c->head; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->key, key) == 0) {
            struct box *b = *pp;
            *pp = b->next;
            c->n--;
            return b;
        }
    return NULL;
}

static void drop_oldest(struct boxes *c)
{
    struct box **pp = &c->head;
    while (*pp && (*pp)->next)
        pp = &(*pp)->next;
    if (*pp) {
        box_free(*pp);
        *pp = NULL;
        c->n--;
    }
}

struct mail_user *boxes_get(struct mda *m, const char *domain, const char *localpart, char **err)
{
    struct boxes *c = &m->boxes;
    char *key = xasprintf("%s/%s", domain, localpart);
    struct box *b = take(c, key);
    if (b && !mail_user_current(b->mb)) {
        box_free(b);
        b = NULL;
    }
    if (!b) {
        struct mail_user *mb = mail_user_open(config_str(m->cfg, PARAM(virtual_mailbox_base)), domain,
                                          localpart, config_str(m->cfg, PARAM(mailbox_index_name)),
                                          true, err);
        if (!mb) {
            free(key);
            return NULL;
        }
        while (c->n >= BOXES_MAX)
            drop_oldest(c);
        b = xcalloc(1, sizeof *b);
        b->key = key;
        b->mb = mb;
        key = NULL;
    }
    free(key);
    b->used_ms = event_now_ms();
    b->next = c->head; /* most recently used first */
    c->head = b;
    c->n++;
    return b->mb;
}

void boxes_expire(struct mda *m)
{
    long long now = event_now_ms();
    for (struct box **pp = &m->boxes.head; *pp;) {
        struct box *b = *pp;
        if (now - b->used_ms >= BOXES_IDLE_MS) {
            *pp = b->next;
            box_free(b);
            m->boxes.n--;
        } else {
            pp = &b->next;
        }
    }
}
