/* sort.c - SORT and UID SORT (RFC 5256 sec 3) with the sort keys ARRIVAL, CC, DATE, FROM,
 * SIZE, SUBJECT, TO, REVERSE, and DISPLAYFROM, DISPLAYTO (SORT=DISPLAY, RFC 5957); charset
 * UTF-8 or US-ASCII; the search criteria are SEARCH's (search.h), "$" included. With
 * RETURN (MIN MAX ALL COUNT SAVE PARTIAL) the answer is ESEARCH in sort order (ESORT, RFC 5267
 * sec 3.1: MIN and MAX are the first and last message of the sorted result, PARTIAL a range of
 * positions in it; UPDATE gets NO [NOUPDATE]: only SEARCH results are kept); RETURN (SAVE)
 * keeps the result for "$" (SEARCHRES, RFC 5182). Messages the criteria leave equal stay in
 * mailbox order (sec 3: by sequence number). The keys are read by scan.c. */
#include "collate.h"
#include "imap_mailbox.h"
#include "mem.h"
#include "scan.h"
#include "search.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum criterion { C_ARRIVAL, C_DATE, C_SIZE, C_STRING };

struct sort_key {
    enum criterion c;
    enum scan_key key; /* C_STRING */
    bool reverse;
};

struct sort_cmd {
    struct sort_key *keys;
    size_t n;
    bool uid;
    unsigned ret; /* RETURN options (r.ret); 0: a SORT response */
    struct search_return r;
    bool modseq;  /* the search criteria use MODSEQ */
    char name[32];
};

static void sort_cmd_free(void *ctx)
{
    struct sort_cmd *c = ctx;
    free(c->keys);
    free(c);
}

/* One sort-key: ["REVERSE"] ARRIVAL / CC / DATE / FROM / SIZE / SUBJECT / TO /
 * DISPLAYFROM / DISPLAYTO. */
static bool parse_key(const struct imap_arg *a, struct sort_key *k, unsigned *need)
{
    static const struct {
        const char *name;
        enum criterion c;
        enum scan_key key;
    } t[] = {
        {"ARRIVAL", C_ARRIVAL, 0},         {"DATE", C_DATE, 0},
        {"SIZE", C_SIZE, 0},               {"SUBJECT", C_STRING, SK_SUBJECT},
        {"FROM", C_STRING, SK_FROM},       {"TO", C_STRING, SK_TO},
        {"CC", C_STRING, SK_CC},           {"DISPLAYFROM", C_STRING, SK_DISPLAYFROM},
        {"DISPLAYTO", C_STRING, SK_DISPLAYTO},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (imap_arg_atom_is(a, t[i].name)) {
            k->c = t[i].c;
            k->key = t[i].key;
            *need |= t[i].c == C_STRING ? 1u << t[i].key : t[i].c == C_DATE ? SCAN_DATE : 0;
            return true;
        }
    return false;
}

static bool parse_criteria(const struct imap_arg *l, struct sort_cmd *c, unsigned *need)
{
    if (l->type != IMAP_ARG_LIST || l->n == 0)
        return false;
    c->keys = xcalloc(l->n, sizeof *c->keys);
    for (size_t i = 0; i < l->n; i++) {
        struct sort_key *k = &c->keys[c->n++];
        if (imap_arg_atom_is(&l->list[i], "REVERSE")) {
            k->reverse = true;
            if (++i == l->n)
                return false;
        }
        if (!parse_key(&l->list[i], k, need))
            return false;
    }
    return true;
}

struct sort_ctx {
    const struct sort_cmd *c;
    const struct view *v;
};

static int cmp_one(const struct sort_key *k, const struct view *v, const struct scan_msg *a,
                   const struct scan_msg *b)
{
    const struct view_msg *x = &v->msgs[a->pos], *y = &v->msgs[b->pos];
    switch (k->c) {
    case C_ARRIVAL: return x->internaldate < y->internaldate ? -1 : x->internaldate > y->internaldate;
    case C_SIZE: return x->vsize < y->vsize ? -1 : x->vsize > y->vsize;
    case C_DATE: return a->sent < b->sent ? -1 : a->sent > b->sent;
    case C_STRING:
        return mail_collate_cmp(a->key[k->key] ? a->key[k->key] : "", a->keylen[k->key],
                                b->key[k->key] ? b->key[k->key] : "", b->keylen[k->key]);
    }
    return 0;
}

static int cmp(const void *pa, const void *pb, void *arg)
{
    const struct sort_ctx *ctx = arg;
    const struct scan_msg *a = pa, *b = pb;
    for (size_t i = 0; i < ctx->c->n; i++) {
        int r = cmp_one(&ctx->c->keys[i], ctx->v, a, b);
        if (r)
            return ctx->c->keys[i].reverse ? -r : r;
    }
    return a->pos < b->pos ? -1 : a->pos > b->pos; /* sec 3: then by sequence number */
}

static void sorted(struct imap_session *s, struct scan_msg *msgs, size_t n, void *arg)
{
    struct sort_cmd *c = arg;
    struct sort_ctx ctx = {.c = c, .v = s->view};
    if (n > 1) /* qsort_r must not get NULL, which an empty result is */
        qsort_r(msgs, n, sizeof *msgs, cmp, &ctx);
    uint32_t *num = xreallocarray(NULL, n ? n : 1, sizeof *num);
    size_t *pos = xreallocarray(NULL, n ? n : 1, sizeof *pos);
    for (size_t i = 0; i < n; i++) {
        pos[i] = msgs[i].pos;
        num[i] = c->uid ? s->view->msgs[pos[i]].uid : (uint32_t)(pos[i] + 1);
    }
    /* RFC 7162 sec 3.1.5: with the MODSEQ key, the highest MODSEQ of what is returned
     * (with MIN/MAX alone, of those two) */
    uint64_t modseq = 0;
    bool some = (c->ret & (SEARCH_RET_MIN | SEARCH_RET_MAX)) &&
                !(c->ret & (SEARCH_RET_ALL | SEARCH_RET_COUNT));
    for (size_t i = 0; c->modseq && i < n; i++) {
        if (some && !((i == 0 && (c->ret & SEARCH_RET_MIN)) || (i == n - 1 && (c->ret & SEARCH_RET_MAX))))
            continue;
        uint64_t m = s->view->msgs[pos[i]].modseq;
        modseq = m > modseq ? m : modseq;
    }
    if (c->ret == 0) {
        struct buf out = BUF_INIT;
        buf_puts(&out, "* SORT");
        for (size_t i = 0; i < n; i++)
            buf_printf(&out, " %u", num[i]);
        if (modseq)
            buf_printf(&out, " (MODSEQ %llu)", (unsigned long long)modseq);
        imap_reply(s, "%s", buf_cstr(&out));
        buf_free(&out);
    } else if (c->ret != SEARCH_RET_SAVE) {
        search_answer(s, num, n, &c->r, c->uid, modseq);
    }
    if (c->ret & SEARCH_RET_SAVE)
        search_save(s, pos, n, c->ret);
    if (c->ret & SEARCH_RET_UPDATE) /* RFC 5267 sec 4.3: only SEARCH results are kept */
        imap_reply(s, "* NO [NOUPDATE \"%s\"] Sorted results are not kept up to date.", s->tag);
    free(num);
    free(pos);
    imap_ok(s, "%s completed.", c->name);
}

void cmd_sort(struct imap_session *s, struct imap_command *cmd, bool uid)
{
    const struct imap_arg *a = cmd->args;
    size_t n = cmd->nargs, i = 0;
    struct sort_cmd *c = xcalloc(1, sizeof *c);
    unsigned need = 0;
    c->uid = uid;
    snprintf(c->name, sizeof c->name, "%s", cmd->name);
    bool saves = n > 1 && imap_arg_atom_is(&a[0], "RETURN") && search_return_saves(&a[1]);
    if (n > 1 && imap_arg_atom_is(&a[0], "RETURN")) {
        const char *why;
        if (!search_parse_return(&a[1], &c->r, &why))
            goto bad;
        c->ret = c->r.ret;
        i = 2;
    }
    if (i + 3 > n || !parse_criteria(&a[i], c, &need))
        goto bad;
    if (!search_charset_ok(s, &a[i + 1]))
        goto fail;
    const char *err = NULL;
    struct search_program *prog = search_parse(s, a + i + 2, n - i - 2, &err);
    if (!prog) {
        imap_bad(s, "%s.", err);
        goto fail;
    }
    view_sync(s, uid); /* no EXPUNGE during SORT by sequence numbers (RFC 9051 sec 7.5.1) */
    search_resolve(prog, s);
    c->modseq = search_uses_modseq(prog);
    scan_start(s, prog, need, sorted, sort_cmd_free, c);
    return;
bad:
    imap_bad(s, "Syntax: %s [RETURN (options)] (sort-criteria) charset search-criteria.", cmd->name);
fail:
    if (saves) /* RFC 5182 sec 2.1: a failed SAVE empties "$" */
        view_save_result(s->view, NULL, 0);
    sort_cmd_free(c);
}
