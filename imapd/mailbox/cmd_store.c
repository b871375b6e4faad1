/* cmd_store.c - STORE and UID STORE (RFC 9051 sec 6.4.6) with CONDSTORE's UNCHANGEDSINCE
 * modifier (RFC 7162 sec 3.1.3). A STORE over many messages is one store transaction, and
 * the store checks UNCHANGEDSINCE inside it (lib/store/mailstore.h), so no other writer can
 * slip in between the check and the change. With CONDSTORE on, every FETCH response of a
 * STORE carries UID and MODSEQ, FLAGS.SILENT included (sec 3.1.3: the client must learn
 * each new MODSEQ); messages that failed UNCHANGEDSINCE are listed in [MODIFIED set]. */
#include "imap_mailbox.h"
#include "search.h"
#include "log.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct store_args {
    enum mailbox_store_op op;
    bool silent;
    uint32_t flags;
    const char **names;      /* keywords (malloc'ed array, strings in the command) */
    size_t nnames;
    bool conditional;        /* UNCHANGEDSINCE given */
    uint64_t unchangedsince;
};

/* "(UNCHANGEDSINCE n)" (RFC 4466 store-modifiers); false for anything else. */
static bool parse_modifiers(const struct imap_arg *l, struct store_args *a)
{
    if (l->type != IMAP_ARG_LIST || l->n == 0 || l->n % 2)
        return false;
    for (size_t i = 0; i < l->n; i += 2) {
        if (!imap_arg_atom_is(&l->list[i], "UNCHANGEDSINCE") || a->conditional ||
            !imap_arg_number64(&l->list[i + 1], &a->unchangedsince))
            return false;
        a->conditional = true;
    }
    return true;
}

/* STORE set [(modifiers)] [+|-]FLAGS[.SILENT] flags */
static bool parse_store(struct imap_command *cmd, struct store_args *a)
{
    if (cmd->nargs != 3 && cmd->nargs != 4)
        return false;
    if (cmd->nargs == 4 && !parse_modifiers(&cmd->args[1], a))
        return false;
    const struct imap_arg *item = &cmd->args[cmd->nargs - 2];
    if (item->type != IMAP_ARG_ATOM)
        return false;
    const char *w = item->str;
    a->op = *w == '+' ? MS_STORE_ADD : *w == '-' ? MS_STORE_REMOVE : MS_STORE_REPLACE;
    if (a->op != MS_STORE_REPLACE)
        w++;
    if (strcasecmp(w, "FLAGS") == 0)
        a->silent = false;
    else if (strcasecmp(w, "FLAGS.SILENT") == 0)
        a->silent = true;
    else
        return false;
    return imap_parse_flags(&cmd->args[cmd->nargs - 1], &a->flags, &a->names, &a->nnames);
}

struct store_ctx {
    struct imap_session *s;
    const size_t *pos;
    size_t k;
    bool uid;
    const struct store_args *a;
    uint64_t keywords;
    uint32_t *modified;  /* sequence numbers (STORE) or UIDs (UID STORE) of MODIFIED */
    size_t nmodified;
};

static void refused(struct store_ctx *c, size_t i)
{
    c->modified[c->nmodified++] = c->uid ? c->s->view->msgs[i].uid : (uint32_t)(i + 1);
}

/* One message's result, in the order of the positions. */
static void stored(void *ctx, const struct mailbox_store_result *r)
{
    struct store_ctx *c = ctx;
    struct imap_session *s = c->s;
    size_t i = c->pos[c->k++];
    struct view_msg *m = &s->view->msgs[i];
    if (r->result == MS_STORE_MODIFIED) {
        refused(c, i);
        return;
    }
    if (r->result == MS_STORE_NOUID) {
        /* Expunged by another session meanwhile: this session still sees it until its
         * EXPUNGE, so the change is answered on the view alone (and goes nowhere); a
         * conditional change cannot hold for it: MODIFIED. */
        if (c->a->conditional) {
            refused(c, i);
            return;
        }
        enum mailbox_store_op op = c->a->op;
        m->flags = op == MS_STORE_ADD ? m->flags | c->a->flags
                 : op == MS_STORE_REMOVE ? m->flags & ~c->a->flags : c->a->flags;
        m->keywords = op == MS_STORE_ADD ? m->keywords | c->keywords
                    : op == MS_STORE_REMOVE ? m->keywords & ~c->keywords : c->keywords;
    } else {
        m->flags = r->flags;
        m->keywords = r->keywords;
        m->modseq = r->modseq;
    }
    bool changed = r->result == MS_STORE_CHANGED;
    if (c->a->silent && !(s->condstore && changed))
        return;
    struct buf b = BUF_INIT;
    buf_printf(&b, "* %zu FETCH (", i + 1);
    if (!c->a->silent) {
        buf_puts(&b, "FLAGS ");
        view_write_flags(s->view, &b, m);
        buf_putc(&b, ' ');
    }
    if (c->uid || s->condstore)
        buf_printf(&b, "UID %u ", m->uid);
    if (s->condstore)
        condstore_write_modseq(s, &b, m->modseq);
    buf_truncate(&b, b.data[b.len - 1] == ' ' ? b.len - 1 : b.len);
    buf_putc(&b, ')');
    imap_reply(s, "%s", buf_cstr(&b));
    buf_free(&b);
}

/* The keyword bits for names: added to the mailbox's table for ADD and REPLACE, only looked up
 * for REMOVE (nothing to remove that is not there). */
static enum mailstore_result keyword_mask(struct imap_session *s, enum mailbox_store_op op,
                                          const char **names, size_t n, uint64_t *mask, char **err)
{
    *mask = 0;
    if (n == 0)
        return MS_OK;
    if (op == MS_STORE_REMOVE)
        return mailbox_keywords_lookup(s->mu, s->view->name, names, n, mask, err) < 0 ? MS_TEMPFAIL : MS_OK;
    return mailbox_keywords_add(s->mu, s->view->name, names, n, mask, err);
}

/* The tagged reply: OK, or OK [MODIFIED set] (sec 3.1.3) when some messages were refused. */
static void store_done(struct imap_session *s, struct imap_command *cmd, struct store_ctx *c)
{
    if (c->nmodified == 0) {
        imap_ok(s, "%s completed.", cmd->name);
        return;
    }
    struct buf b = BUF_INIT;
    imap_seqset_write(&b, c->modified, c->nmodified);
    imap_ok(s, "[MODIFIED %s] Conditional %s failed.", buf_cstr(&b), cmd->name);
    buf_free(&b);
}

/* Run the store over the positions and answer. */
static void store_run(struct imap_session *s, struct imap_command *cmd, struct store_ctx *c, size_t n)
{
    char *err = NULL;
    uint32_t *uids = xreallocarray(NULL, n ? n : 1, sizeof *uids);
    for (size_t k = 0; k < n; k++)
        uids[k] = s->view->msgs[c->pos[k]].uid;
    int r = 0;
    if (c->a->conditional && c->a->unchangedsince == 0) {
        for (size_t k = 0; k < n; k++) /* sec 3.1.3: every message has a MODSEQ above 0 */
            refused(c, c->pos[k]);
    } else if (n) {
        r = mailbox_store_many(s->mu, s->view->name, uids, n, c->a->op, c->a->flags, c->keywords,
                               c->a->conditional ? c->a->unchangedsince : 0, stored, c, &err);
    }
    if (r < 0) {
        log_warn("%s: %s: STORE: %s, session=<%s>", s->user, s->view->name, err ? err : "?", s->id);
        imap_no(s, "[UNAVAILABLE] The flags could not be changed; try again later.");
    } else {
        search_updates_touched(s, c->pos, n); /* CONTEXT=SEARCH: results the flags changed */
        store_done(s, cmd, c);
    }
    free(err);
    free(uids);
}

void cmd_store(struct imap_session *s, struct imap_command *cmd, bool uid)
{
    struct store_args a = {0};
    struct imap_seqset set;
    if (!parse_store(cmd, &a) || cmd->args[0].type != IMAP_ARG_ATOM ||
        !imap_seqset_parse(cmd->args[0].str, 100000, &set)) {
        free(a.names);
        imap_bad(s, "Syntax: STORE sequence-set [(UNCHANGEDSINCE modseq)] [+|-]FLAGS[.SILENT] (flags).");
        return;
    }
    if (s->view->readonly) {
        free(a.names);
        imap_seqset_free(&set);
        imap_no(s, "[READ-ONLY] The mailbox is read-only.");
        return;
    }
    if (a.conditional)
        condstore_enable(s);
    char *err = NULL;
    uint64_t keywords;
    enum mailstore_result kr = keyword_mask(s, a.op, a.names, a.nnames, &keywords, &err);
    free(a.names);
    a.names = NULL;
    if (kr != MS_OK) {
        imap_seqset_free(&set);
        imap_store_error(s, kr, false, "STORE", err);
        free(err);
        return;
    }
    view_sync(s, uid);
    if (keywords)
        view_refresh_keywords(s);
    size_t n;
    size_t *pos = view_resolve(s, &set, uid, &n);
    imap_seqset_free(&set);
    struct store_ctx c = {.s = s, .pos = pos, .uid = uid, .a = &a, .keywords = keywords,
                          .modified = xreallocarray(NULL, n ? n : 1, sizeof *c.modified)};
    store_run(s, cmd, &c, n);
    free(c.modified);
    free(pos);
}
