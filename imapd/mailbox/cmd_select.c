/* cmd_select.c - selecting a mailbox and changing its messages: SELECT and EXAMINE (RFC 9051
 * sec 6.3.2-6.3.3), CLOSE and UNSELECT (6.4.1-6.4.2, RFC 3691), EXPUNGE and UID EXPUNGE
 * (6.4.3, RFC 4315), STORE and UID STORE (6.4.6). System flags are the Maildir letters of the
 * store; $Forwarded is Maildir's P, as in Dovecot; other keywords go into the mailbox's keyword
 * table (up to 64, [LIMIT] beyond). A STORE over many messages is one store transaction. */
#include "imap_mailbox.h"
#include "log.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>


static void unselect(struct imap_session *s)
{
    view_free(s->view);
    s->view = NULL;
}

void cmd_select(struct imap_session *s, struct imap_command *cmd, bool readonly)
{
    char *name = cmd->nargs >= 1 ? imap_name_in(s, &cmd->args[0]) : NULL;
    if (cmd->nargs != 1) {
        free(name);
        imap_bad(s, "Syntax: %s mailbox.", cmd->name);
        return;
    }
    if (s->view) { /* RFC 9051 sec 6.3.2: the old one is closed without expunging */
        unselect(s);
        imap_reply(s, "* OK [CLOSED] Previous mailbox closed.");
    }
    char *err = NULL;
    struct view *v = name ? view_open(s, name, readonly, &err) : NULL;
    if (!v) {
        if (!name)
            imap_no(s, "[NONEXISTENT] Invalid mailbox name.");
        else if (err && err[0] == '[')
            imap_no(s, "%s", err);
        else {
            log_warn("%s: SELECT %s: %s, session=<%s>", s->user, name, err ? err : "?", s->id);
            imap_no(s, "[SERVERBUG] The mailbox cannot be opened.");
        }
        free(err);
        free(name);
        return;
    }
    free(name);
    s->view = v;
    struct buf b = BUF_INIT;
    view_write_flag_list(v, &b, false);
    imap_reply(s, "* FLAGS %s", buf_cstr(&b));
    buf_reset(&b);
    if (readonly)
        buf_puts(&b, "()");
    else
        view_write_flag_list(v, &b, true);
    imap_reply(s, "* OK [PERMANENTFLAGS %s] Flags permitted.", buf_cstr(&b));
    buf_free(&b);
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
    if (s->rev2) { /* RFC 9051 sec 6.3.2: the mailbox's LIST response */
        struct buf b = BUF_INIT;
        imap_name_out(s, &b, v->name);
        imap_reply(s, "* LIST () \"%c\" %s", IMAP_SEPARATOR, buf_cstr(&b));
        buf_free(&b);
    }
    imap_ok(s, "[%s] %s completed.", readonly ? "READ-ONLY" : "READ-WRITE", cmd->name);
}

/* Expunge the messages at positions (or every \Deleted one when pos is NULL). */
static unsigned expunge(struct imap_session *s, const size_t *pos, size_t npos)
{
    struct view *v = s->view;
    unsigned failed = 0;
    size_t n = pos ? npos : v->n;
    for (size_t k = 0; k < n; k++) {
        struct view_msg *m = &v->msgs[pos ? pos[k] : k];
        if (!(m->flags & MS_FLAG_TRASHED))
            continue;
        char *err = NULL;
        if (mailbox_expunge(s->mu, v->name, m->uid, &err) < 0) {
            log_warn("%s: %s: expunge UID %u: %s, session=<%s>", s->user, v->name, m->uid,
                     err ? err : "?", s->id);
            free(err);
            failed++;
        }
    }
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
    if (failed)
        imap_no(s, "[SERVERBUG] %u messages could not be expunged.", failed);
    else
        imap_ok(s, "%s completed.", cmd->name);
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


static bool parse_store(struct imap_command *cmd, enum mailbox_store_op *op, bool *silent,
                        uint32_t *flags, const char ***names, size_t *nnames)
{
    if (cmd->nargs != 3 || cmd->args[1].type != IMAP_ARG_ATOM)
        return false;
    const char *w = cmd->args[1].str;
    *op = *w == '+' ? MS_STORE_ADD : *w == '-' ? MS_STORE_REMOVE : MS_STORE_REPLACE;
    if (*op != MS_STORE_REPLACE)
        w++;
    if (strcasecmp(w, "FLAGS") == 0)
        *silent = false;
    else if (strcasecmp(w, "FLAGS.SILENT") == 0)
        *silent = true;
    else
        return false;
    return imap_parse_flags(&cmd->args[2], flags, names, nnames);
}

struct store_ctx {
    struct imap_session *s;
    const size_t *pos;
    size_t k;
    bool silent, uid;
    enum mailbox_store_op op;
    uint32_t flags;
    uint64_t keywords;
};

/* One message's result, in the order of the positions. */
static void stored(void *ctx, const struct mailbox_store_result *r)
{
    struct store_ctx *c = ctx;
    struct imap_session *s = c->s;
    size_t i = c->pos[c->k++];
    struct view_msg *m = &s->view->msgs[i];
    if (r->result == MS_STORE_NOUID) {
        /* Expunged by another session meanwhile: this session still sees it until its
         * EXPUNGE, so the change is answered on the view alone (and goes nowhere). */
        uint32_t f = c->op == MS_STORE_ADD ? m->flags | c->flags
                   : c->op == MS_STORE_REMOVE ? m->flags & ~c->flags : c->flags;
        uint64_t k = c->op == MS_STORE_ADD ? m->keywords | c->keywords
                   : c->op == MS_STORE_REMOVE ? m->keywords & ~c->keywords : c->keywords;
        m->flags = f;
        m->keywords = k;
    } else {
        m->flags = r->flags;
        m->keywords = r->keywords;
        m->modseq = r->modseq;
    }
    if (c->silent)
        return;
    struct buf b = BUF_INIT;
    buf_printf(&b, "* %zu FETCH (FLAGS ", i + 1);
    view_write_flags(s->view, &b, m);
    if (c->uid)
        buf_printf(&b, " UID %u", m->uid);
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

void cmd_store(struct imap_session *s, struct imap_command *cmd, bool uid)
{
    enum mailbox_store_op op;
    bool silent;
    uint32_t flags;
    const char **names = NULL;
    size_t nnames = 0;
    struct imap_seqset set;
    if (!parse_store(cmd, &op, &silent, &flags, &names, &nnames) ||
        cmd->args[0].type != IMAP_ARG_ATOM || !imap_seqset_parse(cmd->args[0].str, 100000, &set)) {
        free(names);
        imap_bad(s, "Syntax: STORE sequence-set [+|-]FLAGS[.SILENT] (flags).");
        return;
    }
    if (s->view->readonly) {
        free(names);
        imap_seqset_free(&set);
        imap_no(s, "[READ-ONLY] The mailbox is read-only.");
        return;
    }
    char *err = NULL;
    uint64_t keywords;
    enum mailstore_result kr = keyword_mask(s, op, names, nnames, &keywords, &err);
    free(names);
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
    uint32_t *uids = xreallocarray(NULL, n ? n : 1, sizeof *uids);
    for (size_t k = 0; k < n; k++)
        uids[k] = s->view->msgs[pos[k]].uid;
    struct store_ctx c = {.s = s, .pos = pos, .silent = silent, .uid = uid, .op = op,
                          .flags = flags, .keywords = keywords};
    int r = n ? mailbox_store_many(s->mu, s->view->name, uids, n, op, flags, keywords, 0, stored, &c, &err) : 0;
    if (r < 0) {
        log_warn("%s: %s: STORE: %s, session=<%s>", s->user, s->view->name, err ? err : "?", s->id);
        imap_no(s, "[UNAVAILABLE] The flags could not be changed; try again later.");
    } else {
        imap_ok(s, "%s completed.", cmd->name);
    }
    free(err);
    free(uids);
    free(pos);
}
