/* qresync.c - quick resynchronisation (RFC 7162 sec 3.2): the parameters of SELECT and
 * EXAMINE (RFC 4466 select-params: CONDSTORE, QRESYNC (uidvalidity modseq [known-uids]
 * [(known-sequence-set known-uid-set)])), the resync a matching UIDVALIDITY gets (VANISHED
 * (EARLIER) of what was expunged since modseq, then FETCH UID FLAGS MODSEQ of what changed,
 * both limited to known-uids), and VANISHED (EARLIER) for UID FETCH (CHANGEDSINCE n VANISHED)
 * too. Expunges come from the store's expunge log; where the log does not reach back (an
 * index older than the log), every UID the mailbox lacks is reported (sec 3.2.5.2 allows
 * UIDs the client never saw), but only above the point up to which the client's
 * seq-match-data agrees with the mailbox. */
#include "imap_mailbox.h"
#include "log.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

#define QRESYNC_SET_RANGES 100000 /* ranges in one known-uids or seq-match set */

void select_params_free(struct select_params *p)
{
    imap_seqset_free(&p->known);
    imap_seqset_free(&p->match_seq);
    imap_seqset_free(&p->match_uid);
}

/* A set of UIDs or sequence numbers: no "$"; "*" only where star is not 0. */
static bool parse_set(const struct imap_arg *a, uint32_t star, struct imap_seqset *set)
{
    if (a->type != IMAP_ARG_ATOM || !imap_seqset_parse(a->str, QRESYNC_SET_RANGES, set))
        return false;
    bool has_star = false;
    for (size_t i = 0; i < set->n; i++)
        has_star |= set->r[i].lo == IMAP_SEQ_STAR || set->r[i].hi == IMAP_SEQ_STAR;
    if (set->last_result || set->n == 0 || (has_star && !star)) {
        imap_seqset_free(set);
        return false;
    }
    imap_seqset_resolve(set, star);
    return true;
}

/* QRESYNC's list (sec 3.2.5, RFC 7162 sec 7 "qresync-param"). */
static const char *parse_qresync(const struct imap_arg *l, struct select_params *p)
{
    if (l->type != IMAP_ARG_LIST || l->n < 2 || l->n > 4)
        return "QRESYNC needs (uidvalidity modseq [known-uids] [seq-match-data])";
    const struct imap_arg *a = l->list;
    if (!imap_arg_number(&a[0], &p->uidvalidity, true) || !imap_arg_number64(&a[1], &p->modseq))
        return "Invalid QRESYNC UIDVALIDITY or modseq";
    size_t i = 2;
    if (i < l->n && a[i].type == IMAP_ARG_ATOM) {
        imap_seqset_free(&p->known);
        if (!parse_set(&a[i++], UINT32_MAX, &p->known))
            return "Invalid QRESYNC known-uids";
    }
    if (i < l->n) {
        const struct imap_arg *m = &a[i++];
        if (m->type != IMAP_ARG_LIST || m->n != 2 || !parse_set(&m->list[0], 0, &p->match_seq) ||
            !parse_set(&m->list[1], 0, &p->match_uid))
            return "Invalid QRESYNC seq-match-data";
        if (imap_seqset_count(&p->match_seq) != imap_seqset_count(&p->match_uid))
            return "QRESYNC seq-match-data sets differ in size";
    }
    return i == l->n ? NULL : "Invalid QRESYNC parameters";
}

void select_params_init(struct select_params *p)
{
    memset(p, 0, sizeof *p);
    imap_seqset_add(&p->known, 1, UINT32_MAX); /* no known-uids: all of them */
}

const char *select_params_parse(struct imap_session *s, const struct imap_arg *list,
                                struct select_params *p)
{
    if (list->type != IMAP_ARG_LIST || list->n == 0)
        return "Invalid SELECT parameters";
    for (size_t i = 0; i < list->n; i++) {
        const struct imap_arg *a = &list->list[i];
        if (imap_arg_atom_is(a, "CONDSTORE") && !p->condstore) {
            p->condstore = true;
        } else if (imap_arg_atom_is(a, "QRESYNC") && !p->qresync) {
            /* sec 3.2.5: BAD unless the client enabled QRESYNC first */
            if (!s->qresync)
                return "QRESYNC is not enabled (ENABLE QRESYNC first)";
            if (i + 1 == list->n)
                return "QRESYNC needs its parameters";
            p->qresync = true;
            const char *err = parse_qresync(&list->list[++i], p);
            if (err)
                return err;
        } else {
            return "Unknown or repeated SELECT parameter";
        }
    }
    return NULL;
}

/* The highest UID up to which the client's seq-match-data agrees with the view: below it
 * the client has seen every expunge (its sequence numbers would differ otherwise). The
 * pairs are each range's ends of known-uid-set with the sequence numbers at the same
 * positions of known-sequence-set (sec 3.2.5.2); the first disagreement ends the walk. */
static uint32_t match_floor(const struct view *v, const struct select_params *p)
{
    const struct imap_seqset *seqs = &p->match_seq, *uids = &p->match_uid;
    uint32_t floor = 0;
    size_t si = 0;
    uint64_t before = 0; /* numbers in seqs ranges before si */
    uint64_t pos = 0;    /* position of the current UID in the known-uid-set */
    for (size_t i = 0; i < uids->n; i++) {
        uint32_t ends[2] = {uids->r[i].lo, uids->r[i].hi};
        for (int e = 0; e < 2; e++) {
            uint64_t at = pos + (ends[e] - ends[0]);
            while (si < seqs->n && at >= before + ((uint64_t)seqs->r[si].hi - seqs->r[si].lo + 1)) {
                before += (uint64_t)seqs->r[si].hi - seqs->r[si].lo + 1;
                si++;
            }
            if (si == seqs->n)
                return floor;
            uint64_t seq = seqs->r[si].lo + (at - before);
            if (seq > v->n || v->msgs[seq - 1].uid != ends[e])
                return floor;
            floor = ends[e];
        }
        pos += (uint64_t)ends[1] - ends[0] + 1;
    }
    return floor;
}

static int add_expunged(void *ctx, uint32_t first, uint32_t last)
{
    imap_seqset_add(ctx, first, last);
    return 0;
}

/* Every UID of uids above floor and below the view's UIDNEXT that the view lacks. */
static void missing_uids(const struct view *v, const struct imap_seqset *uids, uint32_t floor,
                         struct imap_seqset *out)
{
    struct imap_seqset window = {0}, present = {0}, candidates = {0};
    if (v->uidnext > 1 && floor < v->uidnext - 1)
        imap_seqset_add(&window, floor + 1, v->uidnext - 1);
    for (size_t i = 0; i < v->n; i++)
        imap_seqset_add(&present, v->msgs[i].uid, v->msgs[i].uid);
    imap_seqset_intersect(uids, &window, &candidates);
    imap_seqset_subtract(&candidates, &present, out);
    imap_seqset_free(&window);
    imap_seqset_free(&present);
    imap_seqset_free(&candidates);
}

int qresync_vanished_earlier(struct imap_session *s, const struct imap_seqset *uids, uint64_t modseq,
                             uint32_t floor)
{
    struct view *v = s->view;
    struct imap_seqset logged = {0}, gone = {0};
    char *err = NULL;
    int r = mailbox_expunged_since(s->mu, v->name, modseq, add_expunged, &logged, &err);
    if (r < 0) {
        log_warn("%s: %s: expunge log: %s, session=<%s>", s->user, v->name, err ? err : "?", s->id);
        free(err);
        imap_seqset_free(&logged);
        return -1;
    }
    if (r == 0) {
        missing_uids(v, uids, floor, &gone);
    } else {
        /* Expunges the view has not announced yet are left to its sync's own VANISHED, so
         * that no UID is reported twice. */
        struct imap_seqset asked = {0}, present = {0};
        imap_seqset_intersect(&logged, uids, &asked);
        for (size_t i = 0; i < v->n; i++)
            imap_seqset_add(&present, v->msgs[i].uid, v->msgs[i].uid);
        imap_seqset_subtract(&asked, &present, &gone);
        imap_seqset_free(&asked);
        imap_seqset_free(&present);
    }
    if (gone.n) {
        struct buf b = BUF_INIT;
        imap_seqset_write_set(&b, &gone);
        imap_reply(s, "* VANISHED (EARLIER) %s", buf_cstr(&b));
        buf_free(&b);
    }
    imap_seqset_free(&logged);
    imap_seqset_free(&gone);
    return 0;
}

void qresync_select(struct imap_session *s, const struct select_params *p, const char *ok_text)
{
    struct view *v = s->view;
    /* sec 3.2.5: a UIDVALIDITY that changed means the client's cache is void: no resync */
    if (!p->qresync || p->uidvalidity != v->uidvalidity) {
        imap_ok(s, "%s", ok_text);
        return;
    }
    /* sec 3.2.5.2: VANISHED (EARLIER) before any FETCH */
    if (qresync_vanished_earlier(s, &p->known, p->modseq, match_floor(v, p)) < 0) {
        view_free(s->view);
        s->view = NULL;
        imap_no(s, "[UNAVAILABLE] The mailbox cannot be resynchronised; try again later.");
        return;
    }
    size_t *pos = xreallocarray(NULL, v->n ? v->n : 1, sizeof *pos), n = 0;
    for (size_t i = 0; i < v->n; i++)
        if (v->msgs[i].modseq > p->modseq && imap_seqset_contains(&p->known, v->msgs[i].uid))
            pos[n++] = i;
    fetch_resync(s, pos, n, ok_text);
}
