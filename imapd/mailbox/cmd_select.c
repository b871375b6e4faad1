/* cmd_select.c - selecting a mailbox and expunging its messages: SELECT and EXAMINE (RFC 9051
 * sec 6.3.2-6.3.3) with CONDSTORE and QRESYNC parameters (RFC 7162, qresync.c), CLOSE and
 * UNSELECT (6.4.1-6.4.2, RFC 3691), EXPUNGE and UID EXPUNGE (6.4.3, RFC 4315), and the flag
 * lists of STORE and APPEND. System flags are the Maildir letters of the store; $Forwarded is
 * Maildir's P, as in Dovecot; other keywords go into the mailbox's keyword table (up to 64,
 * [LIMIT] beyond). STORE itself is in cmd_store.c. */
#include "imap_mailbox.h"
#include "log.h"
#include "mem.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


static void unselect(struct imap_session *s)
{
    view_free(s->view);
    s->view = NULL;
}

/* The untagged responses of SELECT and EXAMINE (RFC 9051 sec 6.3.2, RFC 3501 sec 6.3.1). */
static void select_responses(struct imap_session *s, const struct view *v, bool readonly)
{
    struct buf b = BUF_INIT;
    view_write_flag_list(v, &b, false);
    imap_reply(s, "* FLAGS %s", buf_cstr(&b));
    buf_reset(&b);
    if (readonly)
        buf_puts(&b, "()");
    else
        view_write_flag_list(v, &b, true);
    imap_reply(s, "* OK [PERMANENTFLAGS %s] Flags permitted.", buf_cstr(&b));
    buf_reset(&b);
    imap_reply(s, "* %zu EXISTS", v->n);
    if (!s->rev2) {
        size_t recent = 0;
        for (size_t i = 0; i < v->n; i++)
            recent += v->msgs[i].recent;
        imap_reply(s, "* %zu RECENT", recent);
        for (size_t i = 0; i < v->n; i++)
            if (!(v->msgs[i].flags & MS_FLAG_SEEN)) {
                imap_reply(s, "* OK [UNSEEN %zu] First unseen.", i + 1);
                break;
            }
    }
    imap_reply(s, "* OK [UIDVALIDITY %u] UIDs valid.", v->uidvalidity);
    imap_reply(s, "* OK [UIDNEXT %u] Predicted next UID.", v->uidnext);
    /* RFC 7162 sec 3.1.2.1: every mailbox keeps MODSEQs, so every SELECT says it */
    imap_reply(s, "* OK [HIGHESTMODSEQ %llu] Highest", (unsigned long long)v->highestmodseq);
    if (s->rev2) { /* RFC 9051 sec 6.3.2: the mailbox's LIST response */
        imap_name_out(s, &b, v->name);
        imap_reply(s, "* LIST () \"%c\" %s", IMAP_SEPARATOR, buf_cstr(&b));
    }
    buf_free(&b);
}

/* The tagged NO of a mailbox that cannot be opened. */
static void select_refused(struct imap_session *s, const char *name, const char *err)
{
    if (!name)
        imap_no(s, "[NONEXISTENT] Invalid mailbox name.");
    else if (err && err[0] == '[')
        imap_no(s, "%s", err);
    else {
        log_warn("%s: SELECT %s: %s, session=<%s>", s->user, name, err ? err : "?", s->id);
        imap_no(s, "[SERVERBUG] The mailbox cannot be opened.");
    }
}

/* A SELECT or EXAMINE whose folder's files are being read on the worker thread
 * (folder_scan.c), then taken into the index a slice at a time; the session takes no
 * command meanwhile (session.c). */
struct select_wait {
    struct imap_session *s;
    struct view *v;
    struct select_params p;
    struct folder_scan *fs;
    struct mailbox_scan *sc; /* once read: the sync's slices */
    unsigned long timer;     /* the next slice */
    bool measured;           /* the files without an index entry were looked for */
    char tag[IMAP_TAG_MAX + 1];
};

/* Load the view from the index, then the responses and the tagged reply. */
static void select_complete(struct imap_session *s, struct view *v, const struct select_params *p)
{
    char *err = NULL;
    if (view_load(s, v, &err) < 0) {
        select_refused(s, v->name, err);
        free(err);
        view_free(v);
        return;
    }
    s->view = v;
    select_responses(s, v, v->readonly);
    qresync_select(s, p, v->readonly ? "[READ-ONLY] EXAMINE completed." : "[READ-WRITE] SELECT completed.");
}

static void select_wait_free(struct select_wait *w)
{
    mailbox_scan_free(w->sc);
    select_params_free(&w->p);
    free(w);
}

static void select_scanned(void *ctx, struct mailbox_scan *sc);

/* Many more files than messages (copied in by hand): the ones without an index entry are
 * measured on the thread before the sync. True when that was started. */
static bool select_measure(struct select_wait *w, struct mailbox_scan *sc)
{
    struct imap_session *s = w->s;
    w->measured = true;
    return folder_scan_many_unindexed(s->mu, w->v->name, sc) &&
           (w->fs = folder_scan_start(s->d, sc, true, select_scanned, w)) != NULL;
}

/* One slice of the sync; after the last, the answer and the commands that waited. */
static void select_slice(struct event_loop *loop, void *ctx)
{
    struct select_wait *w = ctx;
    struct imap_session *s = w->s;
    w->timer = 0;
    char *err = NULL;
    /* imapd_sync_slice files without an entry per turn: the first SELECT of a folder of
     * 100,000 files copied in indexes them in slices, other sessions served between them
     * (doc/imapd.md, "Folder reads off the loop") */
    int r = view_sync_slice(s, w->v, w->sc, s->d->p.sync_slice, &err);
    if (r > 0) { /* the other sessions' events first */
        w->timer = event_timer(loop, test_hook_ms("POSTHORN_TEST_SLICE_DELAY_MS"), select_slice, w);
        return;
    }
    s->selecting = NULL;
    snprintf(s->tag, sizeof s->tag, "%s", w->tag);
    if (r < 0) {
        select_refused(s, w->v->name, err);
        free(err);
        view_free(w->v);
    } else {
        select_complete(s, w->v, &w->p);
    }
    select_wait_free(w);
    struct sess *ss = s->sess;
    sess_process(ss); /* the commands that waited */
    sess_reap(ss);
}

static void select_scanned(void *ctx, struct mailbox_scan *sc)
{
    struct select_wait *w = ctx;
    w->fs = NULL;
    if (!w->measured && select_measure(w, sc))
        return;
    w->sc = sc;
    select_slice(w->s->d->srv->loop, w);
}

void select_abort(struct imap_session *s)
{
    struct select_wait *w = s->selecting;
    if (!w)
        return;
    s->selecting = NULL;
    folder_scan_cancel(w->fs);
    if (w->timer)
        event_timer_cancel(s->d->srv->loop, w->timer);
    view_free(w->v);
    select_wait_free(w);
}

/* Open name: at once when the index is current, else once its files are read, on the
 * worker thread when there is one. p is taken over. */
static void select_open(struct imap_session *s, const char *name, struct select_params *p,
                        bool readonly)
{
    char *err = NULL;
    struct view *v = name ? view_new(s, name, readonly, &err) : NULL;
    struct mailbox_scan *sc = NULL;
    if (v && !view_folder_current(s, v) && !(sc = mailbox_scan_new(s->mu, v->name, &err))) {
        view_free(v);
        v = NULL;
    }
    if (!v) {
        select_refused(s, name, err);
        free(err);
        select_params_free(p);
        return;
    }
    struct select_wait *w = sc ? xcalloc(1, sizeof *w) : NULL;
    if (w) {
        *w = (struct select_wait){.s = s, .v = v, .p = *p};
        snprintf(w->tag, sizeof w->tag, "%s", s->tag);
        if ((w->fs = folder_scan_start(s->d, sc, false, select_scanned, w)) != NULL) {
            s->selecting = w;
            return;
        }
        free(w); /* no thread: all of it on the loop */
        mailbox_scan_read(sc);
        if (view_sync_slice(s, v, sc, 0, &err) < 0) {
            select_refused(s, v->name, err);
            free(err);
            view_free(v);
            v = NULL;
        }
        mailbox_scan_free(sc);
    }
    if (v)
        select_complete(s, v, p);
    select_params_free(p);
}

void cmd_select(struct imap_session *s, struct imap_command *cmd, bool readonly)
{
    struct select_params p;
    select_params_init(&p);
    const char *perr = cmd->nargs == 2 ? select_params_parse(s, &cmd->args[1], &p) : NULL;
    if (cmd->nargs < 1 || cmd->nargs > 2 || perr) {
        select_params_free(&p);
        imap_bad(s, "%s.", perr ? perr : "Syntax: SELECT mailbox [(CONDSTORE | QRESYNC (...))]");
        return;
    }
    char *name = imap_name_in(s, &cmd->args[0]);
    if (s->view) { /* RFC 9051 sec 6.3.2, RFC 7162 sec 3.2.11: the old one is closed without expunging */
        unselect(s);
        imap_reply(s, "* OK [CLOSED] Previous mailbox closed.");
    }
    if (p.condstore) /* no mailbox selected now: its HIGHESTMODSEQ comes with the SELECT */
        condstore_enable(s);
    select_open(s, name, &p, readonly);
    free(name);
}

/* Messages expunged per write transaction: one commit (and one sync) for all of them,
 * the writer lock held for a bounded time however many there are. */
#define EXPUNGE_BATCH 1000

static unsigned expunge_batch(struct imap_session *s, const uint32_t *uids, size_t n)
{
    char *err = NULL;
    if (n == 0 || mailbox_expunge_many(s->mu, s->view->name, uids, n, NULL, &err) >= 0)
        return 0;
    log_warn("%s: %s: expunge of %zu messages from UID %u: %s, session=<%s>", s->user,
             s->view->name, n, uids[0], err ? err : "?", s->id);
    free(err);
    return (unsigned)n;
}

/* Expunge the \Deleted messages at positions (or every one when pos is NULL). */
static unsigned expunge(struct imap_session *s, const size_t *pos, size_t npos)
{
    struct view *v = s->view;
    unsigned failed = 0;
    size_t n = pos ? npos : v->n, nuids = 0;
    uint32_t *uids = xreallocarray(NULL, n < EXPUNGE_BATCH ? n + 1 : EXPUNGE_BATCH, sizeof *uids);
    for (size_t k = 0; k < n; k++) {
        const struct view_msg *m = &v->msgs[pos ? pos[k] : k];
        if (!(m->flags & MS_FLAG_TRASHED))
            continue;
        uids[nuids++] = m->uid;
        if (nuids == EXPUNGE_BATCH) {
            failed += expunge_batch(s, uids, nuids);
            nuids = 0;
        }
    }
    failed += expunge_batch(s, uids, nuids);
    free(uids);
    return failed;
}

void cmd_close(struct imap_session *s, struct imap_command *cmd, bool do_expunge)
{
    if (cmd->nargs != 0) {
        imap_bad(s, "Syntax: %s.", cmd->name);
        return;
    }
    if (do_expunge && !s->view->readonly) /* RFC 9051 sec 6.4.1: silently */
        expunge(s, NULL, 0);
    unselect(s);
    imap_ok(s, "%s completed.", cmd->name);
}

void cmd_expunge(struct imap_session *s, struct imap_command *cmd, bool uid)
{
    struct imap_seqset set;
    if (cmd->nargs != (uid ? 1u : 0u) ||
        (uid && (cmd->args[0].type != IMAP_ARG_ATOM || !imap_seqset_parse(cmd->args[0].str, 100000, &set)))) {
        imap_bad(s, "Syntax: %s.", uid ? "UID EXPUNGE uid-set" : "EXPUNGE");
        return;
    }
    if (s->view->readonly) {
        if (uid)
            imap_seqset_free(&set);
        imap_no(s, "[READ-ONLY] The mailbox is read-only.");
        return;
    }
    size_t npos = 0;
    size_t *pos = uid ? view_resolve(s, &set, true, &npos) : NULL;
    unsigned failed = expunge(s, pos, npos);
    free(pos);
    if (uid)
        imap_seqset_free(&set);
    view_sync(s, true);
    if (failed) {
        imap_no(s, "[SERVERBUG] %u messages could not be expunged.", failed);
    } else if (s->qresync) {
        /* RFC 7162 sec 3.2.7: the HIGHESTMODSEQ after the expunges, in the tagged OK */
        s->view->told_modseq = s->view->highestmodseq;
        imap_ok(s, "[HIGHESTMODSEQ %llu] %s completed.", (unsigned long long)s->view->highestmodseq,
                cmd->name);
    } else {
        imap_ok(s, "%s completed.", cmd->name);
    }
}

/* --- STORE --- */

bool imap_parse_flags(const struct imap_arg *a, uint32_t *flags, const char ***names, size_t *nnames)
{
    static const struct {
        const char *name;
        uint32_t bit;
    } t[] = {
        {"\\Answered", MS_FLAG_REPLIED}, {"\\Flagged", MS_FLAG_FLAGGED},
        {"\\Deleted", MS_FLAG_TRASHED},  {"\\Seen", MS_FLAG_SEEN},
        {"\\Draft", MS_FLAG_DRAFT},      {"$Forwarded", MS_FLAG_PASSED},
    };
    const struct imap_arg *v = a->type == IMAP_ARG_LIST ? a->list : a;
    size_t n = a->type == IMAP_ARG_LIST ? a->n : 1;
    *flags = 0;
    *names = NULL;
    *nnames = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].type != IMAP_ARG_ATOM && v[i].type != IMAP_ARG_NIL)
            goto bad; /* NIL here is the keyword "NIL", an atom like any other */
        bool known = false;
        for (size_t k = 0; k < sizeof t / sizeof t[0] && !known; k++)
            if (strcasecmp(v[i].str, t[k].name) == 0) {
                *flags |= t[k].bit;
                known = true;
            }
        if (known)
            continue;
        /* \Recent may not be stored; other system flags do not exist; a keyword is an atom */
        if (v[i].str[0] == '\\' || !mailbox_keyword_valid(v[i].str))
            goto bad;
        *names = xreallocarray(*names, *nnames + 1, sizeof **names);
        (*names)[(*nnames)++] = v[i].str;
    }
    return true;
bad:
    free(*names);
    *names = NULL;
    return false;
}
