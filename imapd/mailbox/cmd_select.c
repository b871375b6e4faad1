/* cmd_select.c - selecting a mailbox and changing its messages: SELECT and EXAMINE (RFC 9051
 * sec 6.3.2-6.3.3), CLOSE and UNSELECT (6.4.1-6.4.2, RFC 3691), EXPUNGE and UID EXPUNGE
 * (6.4.3, RFC 4315), STORE and UID STORE (6.4.6). Flags are the Maildir letters of the store;
 * $Forwarded is Maildir's P, as in Dovecot. Other keywords are not permanent yet: PERMANENTFLAGS
 * says so, and STORE leaves them out (RFC 9051 sec 7.1, PERMANENTFLAGS). */
#include "imap_mailbox.h"
#include "log.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SYSTEM_FLAGS "\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded"

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
    imap_reply(s, "* FLAGS (" SYSTEM_FLAGS ")");
    imap_reply(s, "* OK [PERMANENTFLAGS (%s)] Flags permitted.", readonly ? "" : SYSTEM_FLAGS);
    imap_reply(s, "* %zu EXISTS", v->n);
    if (!s->rev2) {
        imap_reply(s, "* 0 RECENT");
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

/* Keywords other than $Forwarded are accepted and not kept (they are not in PERMANENTFLAGS). */
bool imap_parse_flags(const struct imap_arg *a, uint32_t *flags)
{
    static const struct {
        const char *name;
        uint32_t bit;
    } names[] = {
        {"\\Answered", MS_FLAG_REPLIED}, {"\\Flagged", MS_FLAG_FLAGGED},
        {"\\Deleted", MS_FLAG_TRASHED},  {"\\Seen", MS_FLAG_SEEN},
        {"\\Draft", MS_FLAG_DRAFT},      {"$Forwarded", MS_FLAG_PASSED},
    };
    const struct imap_arg *v = a->type == IMAP_ARG_LIST ? a->list : a;
    size_t n = a->type == IMAP_ARG_LIST ? a->n : 1;
    *flags = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].type != IMAP_ARG_ATOM)
            return false;
        bool known = false;
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
            if (strcasecmp(v[i].str, names[k].name) == 0) {
                *flags |= names[k].bit;
                known = true;
            }
        if (!known && v[i].str[0] == '\\')
            return false; /* \Recent may not be stored; other system flags do not exist */
    }
    return true;
}

enum store_op { OP_SET, OP_ADD, OP_REMOVE };

static bool parse_store(struct imap_command *cmd, enum store_op *op, bool *silent, uint32_t *flags)
{
    if (cmd->nargs != 3 || cmd->args[1].type != IMAP_ARG_ATOM)
        return false;
    const char *w = cmd->args[1].str;
    *op = *w == '+' ? OP_ADD : *w == '-' ? OP_REMOVE : OP_SET;
    if (*op != OP_SET)
        w++;
    if (strcasecmp(w, "FLAGS") == 0)
        *silent = false;
    else if (strcasecmp(w, "FLAGS.SILENT") == 0)
        *silent = true;
    else
        return false;
    return imap_parse_flags(&cmd->args[2], flags);
}

static void store_one(struct imap_session *s, size_t i, enum store_op op, uint32_t flags,
                      bool silent, bool uid, unsigned *failed)
{
    struct view_msg *m = &s->view->msgs[i];
    uint32_t want = op == OP_SET ? flags : op == OP_ADD ? m->flags | flags : m->flags & ~flags;
    if (want != m->flags) {
        char *err = NULL;
        uint64_t modseq;
        int r = mailbox_set_flags(s->mu, s->view->name, m->uid, want, &modseq, &err);
        if (r == 1) {
            m->flags = want;
            m->modseq = modseq;
        } else if (r < 0) {
            log_warn("%s: %s: store UID %u: %s, session=<%s>", s->user, s->view->name, m->uid,
                     err ? err : "?", s->id);
            (*failed)++;
        }
        free(err);
    }
    if (silent)
        return;
    struct buf b = BUF_INIT;
    buf_printf(&b, "* %zu FETCH (FLAGS ", i + 1);
    imap_write_flags(&b, m->flags, m->recent);
    if (uid)
        buf_printf(&b, " UID %u", m->uid);
    buf_putc(&b, ')');
    imap_reply(s, "%s", buf_cstr(&b));
    buf_free(&b);
}

void cmd_store(struct imap_session *s, struct imap_command *cmd, bool uid)
{
    enum store_op op;
    bool silent;
    uint32_t flags;
    struct imap_seqset set;
    if (!parse_store(cmd, &op, &silent, &flags) || cmd->args[0].type != IMAP_ARG_ATOM ||
        !imap_seqset_parse(cmd->args[0].str, 100000, &set)) {
        imap_bad(s, "Syntax: STORE sequence-set [+|-]FLAGS[.SILENT] (flags).");
        return;
    }
    if (s->view->readonly) {
        imap_seqset_free(&set);
        imap_no(s, "[READ-ONLY] The mailbox is read-only.");
        return;
    }
    view_sync(s, uid);
    size_t n;
    size_t *pos = view_resolve(s, &set, uid, &n);
    unsigned failed = 0;
    for (size_t k = 0; k < n; k++)
        store_one(s, pos[k], op, flags, silent, uid, &failed);
    free(pos);
    imap_seqset_free(&set);
    if (failed)
        imap_no(s, "[SERVERBUG] Flags of %u messages could not be changed.", failed);
    else
        imap_ok(s, "%s completed.", cmd->name);
}
