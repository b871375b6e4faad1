/* view.c - the selected mailbox as one session sees it (RFC 9051 sec 2.3.1.2 and 7.5): the
 * messages in sequence order with the flags this session was last told, and the sync that
 * tells it what changed in the store since (other sessions, local-mda, pop3d, files copied
 * into the Maildir): EXPUNGE for messages gone (only where the RFC allows them, since they
 * renumber the sequence), FETCH FLAGS for changed flags, EXISTS for new messages. A sync
 * reads the index only when its HIGHESTMODSEQ or UIDNEXT moved. With QRESYNC on, one
 * VANISHED replaces the EXPUNGEs (RFC 7162 sec 3.2.10); with CONDSTORE on, the FETCHes carry
 * MODSEQ and come for a new MODSEQ even when the flags ended up as they were (sec 3.1). */
#include "imap_mailbox.h"
#include "search.h"
#include "log.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    uint32_t bit;
    const char *name;
} system_flags[] = {
    {MS_FLAG_REPLIED, "\\Answered"}, {MS_FLAG_FLAGGED, "\\Flagged"},
    {MS_FLAG_TRASHED, "\\Deleted"},  {MS_FLAG_SEEN, "\\Seen"},
    {MS_FLAG_DRAFT, "\\Draft"},      {MS_FLAG_PASSED, "$Forwarded"},
};

void view_write_flags(const struct view *v, struct buf *out, const struct view_msg *m)
{
    buf_putc(out, '(');
    const char *sp = "";
    for (size_t i = 0; i < sizeof system_flags / sizeof system_flags[0]; i++)
        if (m->flags & system_flags[i].bit) {
            buf_printf(out, "%s%s", sp, system_flags[i].name);
            sp = " ";
        }
    for (unsigned i = 0; i < VIEW_KEYWORDS; i++)
        if ((m->keywords >> i & 1) && v->keyword[i]) {
            buf_printf(out, "%s%s", sp, v->keyword[i]);
            sp = " ";
        }
    if (m->recent && !v->rev2) /* RFC 9051 removed \Recent (Appendix E) */
        buf_printf(out, "%s\\Recent", sp);
    buf_putc(out, ')');
}

void view_write_flag_list(const struct view *v, struct buf *out, bool permanent)
{
    buf_putc(out, '(');
    for (size_t i = 0; i < sizeof system_flags / sizeof system_flags[0]; i++)
        buf_printf(out, "%s%s", i ? " " : "", system_flags[i].name);
    for (unsigned i = 0; i < VIEW_KEYWORDS; i++)
        if (v->keyword[i] && strcasecmp(v->keyword[i], "$Forwarded") != 0)
            buf_printf(out, " %s", v->keyword[i]);
    if (permanent) /* RFC 9051 sec 7.1: new keywords may be created */
        buf_puts(out, " \\*");
    buf_putc(out, ')');
}

static int add_keyword(void *ctx, unsigned idx, const char *name)
{
    struct view *v = ctx;
    if (idx < VIEW_KEYWORDS && !v->keyword[idx])
        v->keyword[idx] = xstrdup(name);
    return 0;
}

/* Learn keywords added to the table since; true when there were new ones. */
static bool load_keywords(struct imap_session *s, struct view *v)
{
    unsigned before = 0, after = 0;
    for (unsigned i = 0; i < VIEW_KEYWORDS; i++)
        before += v->keyword[i] != NULL;
    char *err = NULL;
    mailbox_keywords(s->mu, v->name, add_keyword, v, &err);
    free(err);
    for (unsigned i = 0; i < VIEW_KEYWORDS; i++)
        after += v->keyword[i] != NULL;
    return after != before;
}

static int collect(void *ctx, const struct mailbox_msg *m)
{
    struct view *v = ctx;
    if (v->n == v->cap)
        v->msgs = xreallocarray(v->msgs, v->cap = v->cap ? v->cap * 2 : 64, sizeof *v->msgs);
    v->msgs[v->n++] = (struct view_msg){.uid = m->uid, .flags = m->flags, .modseq = m->modseq,
                                        .vsize = m->vsize, .keywords = m->keywords,
                                        .internaldate = m->internaldate};
    return 0;
}

struct view *view_new(struct imap_session *s, const char *name, bool readonly, char **err)
{
    struct mailbox_info info;
    int r = mailbox_info(s->mu, name, &info, err);
    if (r == 0 && strcmp(name, "INBOX") != 0) { /* INBOX is there once synced */
        *err = xstrdup("[NONEXISTENT] No such mailbox.");
        return NULL;
    }
    if (r < 0)
        return NULL;
    struct view *v = xcalloc(1, sizeof *v);
    v->name = xstrdup(name);
    v->readonly = readonly;
    v->rev2 = s->rev2;
    /* The watches go in first: events from then on, so a file that comes during the sync
     * that follows is seen (watch.c). */
    watch_select(s->d->watch, s, v);
    return v;
}

bool view_folder_current(struct imap_session *s, const struct view *v)
{
    return watch_folder_current(s->d->watch, s, v->name);
}

int view_sync_slice(struct imap_session *s, struct view *v, const struct mailbox_scan *sc,
                    size_t max_new, char **err)
{
    bool more;
    if (mailbox_sync_scanned_some(s->mu, sc, max_new, &more, err) < 0) {
        struct mailbox_info info;
        char *e2 = NULL; /* deleted or renamed while its files were read */
        if (mailbox_info(s->mu, v->name, &info, &e2) == 0) {
            free(*err);
            *err = xstrdup("[NONEXISTENT] No such mailbox.");
        }
        free(e2);
        return -1;
    }
    if (more)
        return 1;
    watch_folder_synced(v);
    return 0;
}

int view_load(struct imap_session *s, struct view *v, char **err)
{
    struct mailbox_info info;
    int r = mailbox_info(s->mu, v->name, &info, err);
    if (r <= 0) {
        if (r == 0)
            *err = xstrdup("[NONEXISTENT] No such mailbox.");
        return -1;
    }
    v->uidvalidity = info.uidvalidity;
    v->uidnext = info.uidnext;
    v->highestmodseq = v->full_modseq = v->told_modseq = info.highestmodseq;
    if (mailbox_iterate(s->mu, v->name, 1, collect, v, err) < 0)
        return -1;
    load_keywords(s, v);
    /* \Recent (RFC 3501 sec 2.3.2): SELECT claims the messages no session has seen yet;
     * EXAMINE only looks. */
    uint32_t first = UINT32_MAX;
    int r2;
    if (v->readonly) {
        struct mailbox_status st;
        r2 = mailbox_status(s->mu, v->name, &st, err);
        if (r2 == 1)
            first = st.first_recent;
    } else {
        r2 = mailbox_claim_recent(s->mu, v->name, &first, err);
    }
    for (size_t i = 0; r2 == 1 && i < v->n; i++)
        v->msgs[i].recent = v->msgs[i].uid >= first;
    free(*err);
    *err = NULL;
    return 0;
}

void view_free(struct view *v)
{
    if (!v)
        return;
    watch_unselect(v);
    search_updates_free(v);
    free(v->name);
    free(v->msgs);
    free(v->saved);
    for (unsigned i = 0; i < VIEW_KEYWORDS; i++)
        free(v->keyword[i]);
    free(v);
}

void view_refresh_keywords(struct imap_session *s)
{
    struct view *v = s->view;
    if (!load_keywords(s, v))
        return;
    struct buf b = BUF_INIT; /* RFC 9051 sec 7.3.5: the new set of flags */
    view_write_flag_list(v, &b, false);
    imap_reply(s, "* FLAGS %s", buf_cstr(&b));
    buf_reset(&b);
    if (!v->readonly) {
        view_write_flag_list(v, &b, true);
        imap_reply(s, "* OK [PERMANENTFLAGS %s] Flags permitted.", buf_cstr(&b));
    }
    buf_free(&b);
}

/* --- sync --- */

struct sync {
    struct imap_session *s;
    struct view *v;
    struct view_msg *next;    /* the new list */
    size_t n, cap;
    size_t pos;               /* position in v->msgs */
    bool expunges_allowed;
    size_t removed;           /* EXPUNGEs sent so far (they renumber what follows) */
    uint32_t *vanished;       /* QRESYNC: UIDs gone, for one VANISHED */
    size_t added;             /* new messages */
    bool kept;                /* expunged ones kept in the view */
    struct buf expunged;      /* EXPUNGE lines, sent once the search updates had theirs */
    uint32_t *gone_uids, *gone_seqs; /* what they expunged, for the search updates */
    size_t nexpunged;
    struct buf changed;       /* FETCH lines, sent after the EXPUNGEs */
    size_t *touched;          /* new positions of new and changed messages (search updates) */
    size_t ntouched, touched_cap;
};

static void keep(struct sync *y, struct view_msg m)
{
    if (y->n == y->cap)
        y->next = xreallocarray(y->next, y->cap = y->cap ? y->cap * 2 : 64, sizeof *y->next);
    y->next[y->n++] = m;
}

/* A new or changed message at the new list's last position, for the search updates. */
static void touch(struct sync *y)
{
    if (!y->v->nupdates)
        return;
    if (y->ntouched == y->touched_cap)
        y->touched = xreallocarray(y->touched, y->touched_cap = y->touched_cap ? y->touched_cap * 2 : 64,
                                   sizeof *y->touched);
    y->touched[y->ntouched++] = y->n - 1;
}

/* Messages of the view before uid that the index no longer has. */
static void gone_before(struct sync *y, uint32_t uid)
{
    while (y->pos < y->v->n && y->v->msgs[y->pos].uid < uid) {
        if (y->expunges_allowed) {
            if (y->v->nupdates) { /* the sequence numbers the client knows till now */
                y->gone_uids[y->nexpunged] = y->v->msgs[y->pos].uid;
                y->gone_seqs[y->nexpunged++] = (uint32_t)(y->pos + 1);
            }
            if (y->s->qresync)
                y->vanished[y->removed] = y->v->msgs[y->pos].uid;
            else
                buf_printf(&y->expunged, "* %zu EXPUNGE\r\n", y->pos + 1 - y->removed);
            y->removed++;
        } else {
            keep(y, y->v->msgs[y->pos]); /* stays until an EXPUNGE may be sent */
            y->kept = true;
        }
        y->pos++;
    }
}

static int merge(void *ctx, const struct mailbox_msg *m)
{
    struct sync *y = ctx;
    gone_before(y, m->uid);
    if (y->pos < y->v->n && y->v->msgs[y->pos].uid == m->uid) {
        struct view_msg old = y->v->msgs[y->pos++];
        struct view_msg now = old;
        now.flags = m->flags;
        now.modseq = m->modseq;
        now.keywords = m->keywords;
        keep(y, now);
        bool condstore = y->s->condstore;
        if (old.flags != now.flags || old.keywords != now.keywords)
            touch(y);
        if (old.flags != now.flags || old.keywords != now.keywords ||
            (condstore && old.modseq != now.modseq)) {
            buf_printf(&y->changed, "* %zu FETCH (UID %u FLAGS ", y->n, now.uid);
            view_write_flags(y->v, &y->changed, &now);
            if (condstore) {
                buf_putc(&y->changed, ' ');
                condstore_write_modseq(y->s, &y->changed, now.modseq);
            }
            buf_puts(&y->changed, ")\r\n");
        }
    } else if (y->pos >= y->v->n) { /* new: UIDs only grow */
        keep(y, (struct view_msg){.uid = m->uid, .flags = m->flags, .modseq = m->modseq,
                                  .vsize = m->vsize, .keywords = m->keywords,
                                  .internaldate = m->internaldate});
        touch(y);
        y->added++;
    }
    return 0;
}

static void sync_free(struct sync *y)
{
    free(y->vanished);
    free(y->gone_uids);
    free(y->gone_seqs);
    free(y->touched);
    buf_free(&y->expunged);
    buf_free(&y->changed);
}

void view_sync(struct imap_session *s, bool expunges_allowed)
{
    struct view *v = s->view;
    if (!v)
        return;
    struct mailbox_info info;
    char *err = NULL;
    if (mailbox_info(s->mu, v->name, &info, &err) <= 0) {
        free(err);
        return; /* deleted meanwhile: the next command that needs it says so */
    }
    if (info.highestmodseq == v->highestmodseq && info.uidnext == v->uidnext &&
        !(v->expunges_pending && expunges_allowed))
        return;
    view_refresh_keywords(s);
    struct sync y = {.s = s, .v = v, .expunges_allowed = expunges_allowed};
    if (s->qresync)
        y.vanished = xreallocarray(NULL, v->n ? v->n : 1, sizeof *y.vanished);
    if (v->nupdates) {
        y.gone_uids = xreallocarray(NULL, v->n ? v->n : 1, sizeof *y.gone_uids);
        y.gone_seqs = xreallocarray(NULL, v->n ? v->n : 1, sizeof *y.gone_seqs);
    }
    if (mailbox_iterate(s->mu, v->name, 1, merge, &y, &err) < 0) {
        log_warn("%s: %s: %s, session=<%s>", s->user, v->name, err ? err : "?", s->id);
        free(err);
        free(y.next);
        sync_free(&y);
        return;
    }
    gone_before(&y, UINT32_MAX);
    /* RFC 5267 sec 4.3: results lose expunged messages under the numbers the client knows */
    search_updates_expunged(s, y.gone_uids, y.gone_seqs, y.nexpunged);
    if (y.expunged.len)
        sess_reply(s->sess, "%.*s", (int)y.expunged.len - 2, y.expunged.data);
    if (y.vanished && y.removed) { /* UIDs, so before the FETCHes or after: either is right */
        struct buf b = BUF_INIT;
        imap_seqset_write(&b, y.vanished, y.removed);
        imap_reply(s, "* VANISHED %s", buf_cstr(&b));
        buf_free(&b);
    }
    free(v->msgs);
    v->msgs = y.next;
    v->n = y.n;
    v->cap = y.cap;
    v->uidnext = info.uidnext;
    v->highestmodseq = info.highestmodseq;
    v->expunges_pending = y.kept;
    if (!y.kept) /* the client knows everything up to here */
        v->full_modseq = info.highestmodseq;
    if (y.changed.len)
        sess_reply(s->sess, "%.*s", (int)y.changed.len - 2, y.changed.data);
    if (y.added) {
        imap_reply(s, "* %zu EXISTS", v->n);
        uint32_t first = UINT32_MAX; /* later arrivals this session is the first to see */
        char *e2 = NULL;
        size_t recent = 0;
        if (!v->readonly && mailbox_claim_recent(s->mu, v->name, &first, &e2) == 1)
            for (size_t i = v->n - y.added; i < v->n; i++)
                recent += v->msgs[i].recent = v->msgs[i].uid >= first ||
                                              (v->msgs[i].uid >= v->appended.from &&
                                               v->msgs[i].uid < v->appended.to);
        v->appended = (struct mailbox_recent){0, 0}; /* taken, or expunged already */
        free(e2);
        if (!s->rev2) {
            for (size_t i = 0; i < v->n - y.added; i++)
                recent += v->msgs[i].recent;
            imap_reply(s, "* %zu RECENT", recent);
        }
    }
    search_updates_touched(s, y.touched, y.ntouched);
    sync_free(&y);
}

/* --- SEARCHRES (RFC 5182) --- */

static int uid_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void view_save_result(struct view *v, const uint32_t *uids, size_t n)
{
    free(v->saved);
    v->saved = NULL;
    v->nsaved = n;
    if (n) {
        v->saved = xreallocarray(NULL, n, sizeof *v->saved);
        memcpy(v->saved, uids, n * sizeof *uids);
        qsort(v->saved, n, sizeof *v->saved, uid_cmp);
    }
}

void view_saved_set(const struct view *v, struct imap_seqset *set)
{
    imap_seqset_free(set);
    set->last_result = false;
    set->r = xreallocarray(NULL, v->nsaved ? v->nsaved : 1, sizeof *set->r);
    for (size_t i = 0; i < v->nsaved; i++) {
        if (set->n && set->r[set->n - 1].hi + 1 == v->saved[i])
            set->r[set->n - 1].hi = v->saved[i];
        else
            set->r[set->n++] = (struct imap_range){v->saved[i], v->saved[i]};
    }
}

/* The saved result's messages still in the view (expunged ones are left out, sec 2.1). */
static size_t *resolve_saved(const struct view *v, size_t *count)
{
    size_t *out = xreallocarray(NULL, v->n ? v->n : 1, sizeof *out), n = 0;
    for (size_t i = 0; i < v->n; i++)
        if (v->nsaved && bsearch(&v->msgs[i].uid, v->saved, v->nsaved, sizeof *v->saved, uid_cmp))
            out[n++] = i;
    *count = n;
    return out;
}

size_t *view_resolve(struct imap_session *s, struct imap_seqset *set, bool uid, size_t *count)
{
    struct view *v = s->view;
    if (set->last_result)
        return resolve_saved(v, count);
    uint32_t star = v->n == 0 ? 0 : uid ? v->msgs[v->n - 1].uid : (uint32_t)v->n;
    imap_seqset_resolve(set, star);
    size_t *out = xreallocarray(NULL, v->n ? v->n : 1, sizeof *out);
    size_t n = 0;
    for (size_t i = 0; i < v->n; i++)
        if (imap_seqset_contains(set, uid ? v->msgs[i].uid : (uint32_t)(i + 1)))
            out[n++] = i;
    *count = n;
    return out;
}
