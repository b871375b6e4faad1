/* imap_thread.c - THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 sec 3; see
 * imap_thread.h). The REFERENCES tree is a forest of nodes (messages and dummies) with
 * doubly linked child lists under one virtual root; every traversal is iterative. */
#include "imap_thread.h"
#include "collate.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

#define NONE SIZE_MAX

struct node {
    size_t msg; /* index in msgs; NONE for a dummy */
    size_t parent, first, last, prev, next;
    size_t nchild;
};

struct forest {
    const struct imap_thread_msg *msgs;
    struct node *v;
    size_t n, cap;
    size_t root;
};

/* The date and position a node sorts by (a dummy: its first child's). */
struct order_key {
    int64_t sent;
    size_t msg;
    size_t node;
};

static size_t node_new(struct forest *f, size_t msg)
{
    if (f->n == f->cap)
        f->v = xreallocarray(f->v, f->cap = f->cap ? f->cap * 2 : 64, sizeof *f->v);
    f->v[f->n] = (struct node){.msg = msg, .parent = NONE, .first = NONE, .last = NONE,
                               .prev = NONE, .next = NONE};
    return f->n++;
}

static bool dummy(const struct forest *f, size_t x) { return f->v[x].msg == NONE; }

static void detach(struct forest *f, size_t c)
{
    struct node *x = &f->v[c];
    size_t p = x->parent;
    if (p == NONE)
        return;
    if (x->prev != NONE)
        f->v[x->prev].next = x->next;
    else
        f->v[p].first = x->next;
    if (x->next != NONE)
        f->v[x->next].prev = x->prev;
    else
        f->v[p].last = x->prev;
    f->v[p].nchild--;
    x->parent = x->prev = x->next = NONE;
}

/* Put the detached node c into p's children before `before` (NONE: at the end). */
static void attach(struct forest *f, size_t p, size_t c, size_t before)
{
    struct node *x = &f->v[c];
    x->parent = p;
    x->next = before;
    x->prev = before == NONE ? f->v[p].last : f->v[before].prev;
    if (x->prev != NONE)
        f->v[x->prev].next = c;
    else
        f->v[p].first = c;
    if (before != NONE)
        f->v[before].prev = c;
    else
        f->v[p].last = c;
    f->v[p].nchild++;
}

/* Move every child of `from` into p's children before `before`. */
static void adopt_children(struct forest *f, size_t p, size_t from, size_t before)
{
    while (f->v[from].first != NONE) {
        size_t c = f->v[from].first;
        detach(f, c);
        attach(f, p, c, before);
    }
}

/* Would making p the parent of c close a loop (p is c, or below c)? */
static bool makes_loop(const struct forest *f, size_t p, size_t c)
{
    if (p == c)
        return true;
    if (f->v[c].first == NONE)
        return false; /* nothing is below c */
    for (size_t x = f->v[p].parent; x != NONE; x = f->v[x].parent)
        if (x == c)
            return true;
    return false;
}

static struct order_key key_of(const struct forest *f, size_t x)
{
    size_t m = f->v[x].msg;
    if (m == NONE && f->v[x].first != NONE)
        m = f->v[f->v[x].first].msg;
    return (struct order_key){.sent = m == NONE ? 0 : f->msgs[m].sent, .msg = m, .node = x};
}

static int key_cmp(const void *a, const void *b)
{
    const struct order_key *x = a, *y = b;
    if (x->sent != y->sent)
        return x->sent < y->sent ? -1 : 1;
    return x->msg < y->msg ? -1 : x->msg > y->msg;
}

/* Sort p's children by sent date (RFC 5256 sec 2.2), ties in mailbox order. */
static void sort_children(struct forest *f, size_t p)
{
    size_t n = f->v[p].nchild, i = 0;
    if (n < 2)
        return;
    struct order_key *k = xreallocarray(NULL, n, sizeof *k);
    for (size_t c = f->v[p].first; c != NONE; c = f->v[c].next)
        k[i++] = key_of(f, c);
    if (n > 1)
        qsort(k, n, sizeof *k, key_cmp);
    for (i = 0; i < n; i++)
        detach(f, k[i].node);
    for (i = 0; i < n; i++)
        attach(f, p, k[i].node, NONE);
    free(k);
}

/* Every node below the root, each after all of its descendants (reversed preorder). */
static size_t *bottom_up(const struct forest *f, size_t *count)
{
    size_t *order = xreallocarray(NULL, f->n, sizeof *order), *stack = xreallocarray(NULL, f->n, sizeof *stack);
    size_t n = 0, top = 0;
    stack[top++] = f->root;
    while (top) {
        size_t x = stack[--top];
        order[n++] = x;
        for (size_t c = f->v[x].first; c != NONE; c = f->v[c].next)
            stack[top++] = c;
    }
    free(stack);
    for (size_t i = 0; i < n / 2; i++) {
        size_t t = order[i];
        order[i] = order[n - 1 - i];
        order[n - 1 - i] = t;
    }
    *count = n;
    return order;
}

/* --- step 1: the links --- */

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One node per distinct identifier (node k for ids[k], dummies until a message takes one). */
static const char **identifiers(struct forest *f, size_t n, size_t *count)
{
    size_t total = 0, k = 0;
    for (size_t i = 0; i < n; i++)
        total += (f->msgs[i].message_id != NULL) + f->msgs[i].nrefs;
    const char **ids = xreallocarray(NULL, total ? total : 1, sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        if (f->msgs[i].message_id)
            ids[k++] = f->msgs[i].message_id;
        for (size_t r = 0; r < f->msgs[i].nrefs; r++)
            ids[k++] = f->msgs[i].refs[r];
    }
    if (k > 1)
        qsort(ids, k, sizeof *ids, str_cmp);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (u == 0 || strcmp(ids[u - 1], ids[i]) != 0)
            ids[u++] = ids[i];
    for (size_t i = 0; i < u; i++)
        node_new(f, NONE);
    *count = u;
    return ids;
}

static size_t id_node(const char **ids, size_t nids, const char *id)
{
    const char **hit = bsearch(&id, ids, nids, sizeof *ids, str_cmp);
    return (size_t)(hit - ids);
}

static void link_message(struct forest *f, const char **ids, size_t nids, size_t self,
                         const struct imap_thread_msg *m)
{
    size_t prev = NONE;
    for (size_t r = 0; r < m->nrefs; r++) { /* 1A */
        size_t x = id_node(ids, nids, m->refs[r]);
        if (prev != NONE && f->v[x].parent == NONE && !makes_loop(f, prev, x))
            attach(f, prev, x, NONE);
        prev = x;
    }
    detach(f, self); /* 1B: the last reference is the parent, whatever 1A made */
    if (prev != NONE && !makes_loop(f, prev, self))
        attach(f, prev, self, NONE);
}

static void build(struct forest *f, size_t n)
{
    size_t nids;
    const char **ids = identifiers(f, n, &nids);
    size_t *self = xreallocarray(NULL, n ? n : 1, sizeof *self);
    for (size_t i = 0; i < n; i++) { /* the first message with an identifier owns it */
        const char *id = f->msgs[i].message_id;
        size_t x = id ? id_node(ids, nids, id) : NONE;
        if (x != NONE && f->v[x].msg == NONE)
            f->v[x].msg = i, self[i] = x;
        else
            self[i] = node_new(f, i);
    }
    for (size_t i = 0; i < n; i++)
        link_message(f, ids, nids, self[i], &f->msgs[i]);
    f->root = node_new(f, NONE); /* step 2 */
    for (size_t x = 0; x < f->root; x++)
        if (f->v[x].parent == NONE)
            attach(f, f->root, x, NONE);
    free(self);
    free(ids);
}

/* --- step 3: dummies --- */

static void prune(struct forest *f)
{
    size_t count, *order = bottom_up(f, &count);
    for (size_t i = 0; i < count; i++) {
        size_t x = order[i], next;
        for (size_t c = f->v[x].first; c != NONE; c = next) {
            next = f->v[c].next;
            if (!dummy(f, c))
                continue;
            if (x == f->root && f->v[c].nchild > 1)
                continue; /* not promoted to the top unless it has only one child */
            adopt_children(f, x, c, c);
            detach(f, c);
        }
    }
    free(order);
}

/* --- step 5: threads with the same subject --- */

struct subject_entry {
    size_t node, pos;
    const struct imap_thread_msg *m; /* whose subject it is */
};

static int subject_cmp(const void *a, const void *b)
{
    const struct subject_entry *x = a, *y = b;
    int c = mail_collate_cmp(x->m->subject, x->m->subject_len, y->m->subject, y->m->subject_len);
    return c ? c : x->pos < y->pos ? -1 : x->pos > y->pos;
}

static bool is_reply(const struct forest *f, size_t x) { return !dummy(f, x) && f->msgs[f->v[x].msg].reply; }

/* Merge the thread cur into the subject table's *table (RFC 5256 sec 3, step 5.C.iv). */
static void merge(struct forest *f, size_t *table, size_t cur)
{
    if (dummy(f, *table) && dummy(f, cur)) {
        adopt_children(f, *table, cur, NONE);
        detach(f, cur);
    } else if (dummy(f, *table) || (is_reply(f, cur) && !is_reply(f, *table))) {
        detach(f, cur);
        attach(f, *table, cur, NONE);
    } else {
        size_t d = node_new(f, NONE);
        attach(f, f->root, d, *table);
        detach(f, *table);
        detach(f, cur);
        attach(f, d, *table, NONE);
        attach(f, d, cur, NONE);
        *table = d;
    }
}

static void gather_group(struct forest *f, const struct subject_entry *g, size_t n)
{
    size_t table = g[0].node; /* 5.B: which thread the others join */
    for (size_t i = 1; i < n; i++) {
        size_t cur = g[i].node;
        if (!dummy(f, table) && (dummy(f, cur) || (is_reply(f, table) && !is_reply(f, cur))))
            table = cur;
    }
    size_t chosen = table;
    for (size_t i = 0; i < n; i++)
        if (g[i].node != chosen)
            merge(f, &table, g[i].node);
}

static void gather(struct forest *f)
{
    size_t n = 0, pos = 0;
    struct subject_entry *e = xreallocarray(NULL, f->v[f->root].nchild + 1, sizeof *e);
    for (size_t c = f->v[f->root].first; c != NONE; c = f->v[c].next, pos++) {
        size_t m = dummy(f, c) ? f->v[f->v[c].first].msg : f->v[c].msg;
        if (m != NONE && f->msgs[m].subject_len > 0)
            e[n++] = (struct subject_entry){.node = c, .pos = pos, .m = &f->msgs[m]};
    }
    if (n > 1)
        qsort(e, n, sizeof *e, subject_cmp);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && mail_collate_cmp(e[i].m->subject, e[i].m->subject_len, e[j].m->subject,
                                         e[j].m->subject_len) == 0)
            j++;
        if (j - i > 1)
            gather_group(f, e + i, j - i);
        i = j;
    }
    free(e);
}

/* --- the response --- */

struct frame {
    size_t next; /* the next child to write as "(...)" */
};

/* Write x (a dummy with one child: that child) and its chain of only children; returns
 * the node whose children, two or more, are written next as "(...)" each, or NONE. */
static size_t write_head(const struct forest *f, size_t x, struct buf *out)
{
    while (dummy(f, x) && f->v[x].nchild == 1)
        x = f->v[x].first;
    if (dummy(f, x))
        return f->v[x].first;
    buf_printf(out, "%u", f->msgs[f->v[x].msg].number);
    while (f->v[x].nchild == 1 && !dummy(f, f->v[x].first)) {
        x = f->v[x].first;
        buf_printf(out, " %u", f->msgs[f->v[x].msg].number);
    }
    if (f->v[x].nchild == 0)
        return NONE;
    buf_putc(out, ' ');
    return f->v[x].first;
}

static void write_threads(const struct forest *f, struct buf *out)
{
    struct frame *stack = xreallocarray(NULL, f->n + 1, sizeof *stack);
    for (size_t t = f->v[f->root].first; t != NONE; t = f->v[t].next) {
        size_t top = 0;
        buf_putc(out, '(');
        stack[top++].next = write_head(f, t, out);
        while (top) {
            size_t c = stack[top - 1].next;
            if (c == NONE) {
                top--;
                buf_putc(out, ')');
                continue;
            }
            stack[top - 1].next = f->v[c].next;
            buf_putc(out, '(');
            stack[top++].next = write_head(f, c, out);
        }
    }
    free(stack);
}

void imap_thread_references(const struct imap_thread_msg *msgs, size_t n, struct buf *out)
{
    if (n == 0)
        return;
    struct forest f = {.msgs = msgs};
    build(&f, n);
    prune(&f);
    for (size_t c = f.v[f.root].first; c != NONE; c = f.v[c].next) /* step 4 */
        if (dummy(&f, c))
            sort_children(&f, c);
    sort_children(&f, f.root);
    gather(&f);
    size_t count, *order = bottom_up(&f, &count); /* step 6 */
    for (size_t i = 0; i < count; i++)
        sort_children(&f, order[i]);
    free(order);
    write_threads(&f, out);
    free(f.v);
}

/* --- ORDEREDSUBJECT --- */

struct subject_key {
    const struct imap_thread_msg *m;
    size_t idx;
};

static int subject_date_cmp(const void *a, const void *b)
{
    const struct subject_key *x = a, *y = b;
    int c = mail_collate_cmp(x->m->subject, x->m->subject_len, y->m->subject, y->m->subject_len);
    if (c)
        return c;
    if (x->m->sent != y->m->sent)
        return x->m->sent < y->m->sent ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void imap_thread_orderedsubject(const struct imap_thread_msg *msgs, size_t n, struct buf *out)
{
    if (n == 0)
        return;
    struct forest f = {.msgs = msgs};
    struct subject_key *k = xreallocarray(NULL, n, sizeof *k);
    for (size_t i = 0; i < n; i++)
        k[i] = (struct subject_key){.m = &msgs[i], .idx = i};
    if (n > 1)
        qsort(k, n, sizeof *k, subject_date_cmp);
    f.root = node_new(&f, NONE);
    for (size_t i = 0; i < n;) { /* one thread per base subject: its first message, the rest its children */
        size_t head = node_new(&f, k[i].idx), j = i + 1;
        attach(&f, f.root, head, NONE);
        for (; j < n && mail_collate_cmp(k[i].m->subject, k[i].m->subject_len, k[j].m->subject,
                                         k[j].m->subject_len) == 0; j++)
            attach(&f, head, node_new(&f, k[j].idx), NONE);
        i = j;
    }
    sort_children(&f, f.root); /* threads by their first message's sent date */
    write_threads(&f, out);
    free(k);
    free(f.v);
}
