/* cmd_mailbox.c - commands on mailboxes as a whole: LIST and LSUB (RFC 9051 sec 6.3.9, RFC
 * 3501 sec 6.3.9) with "*" and "%" patterns and the CHILDREN attributes (RFC 3348), STATUS
 * (6.3.11) from the index without opening message files, and NAMESPACE (RFC 2342: one
 * personal namespace, "" with separator "."), with the SPECIAL-USE attributes of RFC 6154
 * and LSUB from the subscriptions file. */
#include "imap_mailbox.h"
#include "imap_utf7.h"
#include "log.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void cmd_namespace(struct imap_session *s, struct imap_command *cmd)
{
    (void)cmd;
    imap_reply(s, "* NAMESPACE ((\"\" \"%c\")) NIL NIL", IMAP_SEPARATOR);
    imap_ok(s, "NAMESPACE completed.");
}

/* RFC 9051 sec 6.3.9: "*" matches anything, "%" anything but the separator. */
static bool match(const char *pat, const char *name)
{
    for (; *pat; pat++, name++) {
        if (*pat == '*' || *pat == '%') {
            for (const char *n = name;; n++) {
                if (match(pat + 1, n))
                    return true;
                if (!*n || (*pat == '%' && *n == IMAP_SEPARATOR))
                    return false;
            }
        }
        if (*pat != *name)
            return false;
    }
    return *name == 0;
}

struct names {
    char **v;
    size_t n;
};

static int collect(void *ctx, const char *mailbox)
{
    struct names *ns = ctx;
    if (strcmp(mailbox, "INBOX") == 0)
        return 0;
    ns->v = xreallocarray(ns->v, ns->n + 1, sizeof *ns->v);
    ns->v[ns->n++] = xstrdup(mailbox);
    return 0;
}

static bool has_children(const struct names *ns, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < ns->n; i++)
        if (strncmp(ns->v[i], name, len) == 0 && ns->v[i][len] == IMAP_SEPARATOR)
            return true;
    return false;
}

/* RFC 6154 attributes from the store's MS_USE_* bits. */
static void special_use(struct buf *b, unsigned use)
{
    static const struct {
        unsigned bit;
        const char *name;
    } t[] = {
        {MS_USE_ALL, "\\All"},   {MS_USE_ARCHIVE, "\\Archive"}, {MS_USE_DRAFTS, "\\Drafts"},
        {MS_USE_FLAGGED, "\\Flagged"}, {MS_USE_JUNK, "\\Junk"}, {MS_USE_SENT, "\\Sent"},
        {MS_USE_TRASH, "\\Trash"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (use & t[i].bit)
            buf_printf(b, " %s", t[i].name);
}

static void list_one(struct imap_session *s, const struct names *ns, const char *name, bool lsub)
{
    struct buf b = BUF_INIT;
    struct mailbox_status st = {0};
    char *err = NULL;
    int r = mailbox_status(s->mu, name, &st, &err);
    free(err);
    buf_printf(&b, "* %s (%s", lsub ? "LSUB" : "LIST",
               has_children(ns, name) ? "\\HasChildren" : "\\HasNoChildren");
    if (r == 1)
        special_use(&b, st.special_use);
    else if (lsub) /* subscribed, but no such mailbox (RFC 3501 sec 6.3.9) */
        buf_puts(&b, " \\Noselect");
    buf_printf(&b, ") \"%c\" ", IMAP_SEPARATOR);
    imap_name_out(s, &b, name);
    imap_reply(s, "%s", buf_cstr(&b));
    buf_free(&b);
}

static bool listed(const struct names *ns, const char *name, size_t len)
{
    for (size_t i = 0; i < ns->n; i++)
        if (strlen(ns->v[i]) == len && strncmp(ns->v[i], name, len) == 0)
            return true;
    return false;
}

/* RFC 3501 sec 6.3.9: with "%", a subscribed mailbox below the level the pattern reaches
 * shows its parent at that level, \Noselect unless the parent is subscribed itself. */
static void lsub_parents(struct imap_session *s, const struct names *ns, const struct names *subs,
                         const char *pat)
{
    struct names done = {0};
    for (size_t i = 0; i < subs->n; i++) {
        const char *n = subs->v[i];
        for (const char *sep = strchr(n, IMAP_SEPARATOR); sep; sep = strchr(sep + 1, IMAP_SEPARATOR)) {
            char *parent = xasprintf("%.*s", (int)(sep - n), n);
            if (match(pat, parent) && !listed(subs, parent, strlen(parent)) &&
                !listed(&done, parent, strlen(parent))) {
                struct buf b = BUF_INIT;
                buf_printf(&b, "* LSUB (\\Noselect) \"%c\" ", IMAP_SEPARATOR);
                imap_name_out(s, &b, parent);
                imap_reply(s, "%s", buf_cstr(&b));
                buf_free(&b);
                collect(&done, parent);
            }
            free(parent);
        }
    }
    (void)ns;
    for (size_t i = 0; i < done.n; i++)
        free(done.v[i]);
    free(done.v);
}

void cmd_list(struct imap_session *s, struct imap_command *cmd, bool lsub)
{
    if (cmd->nargs != 2 || !imap_arg_is_astring(&cmd->args[0]) || !imap_arg_is_astring(&cmd->args[1])) {
        imap_bad(s, "Syntax: %s reference pattern.", lsub ? "LSUB" : "LIST");
        return;
    }
    const char *ref = cmd->args[0].str, *pat = cmd->args[1].str;
    if (!*pat) { /* RFC 9051 sec 6.3.9: the separator and the root */
        if (!lsub)
            imap_reply(s, "* LIST (\\Noselect) \"%c\" \"\"", IMAP_SEPARATOR);
        imap_ok(s, "%s completed.", cmd->name);
        return;
    }
    char *full = xasprintf("%s%s", ref, pat);
    /* The pattern in the store's form: modified UTF-7 (a UTF-8 session's pattern converted). */
    char *store_pat = s->utf8 ? imap_utf8_to_mutf7(full, strlen(full)) : xstrdup(full);
    free(full);
    if (!store_pat) {
        imap_ok(s, "%s completed.", cmd->name);
        return;
    }
    struct names ns = {0}, subs = {0};
    mail_user_mailboxes(s->mu, collect, &ns);
    char *err = NULL;
    if (lsub)
        mail_user_subscriptions(s->mu, collect, &subs, &err);
    free(err);
    bool inbox = match(store_pat, "INBOX") ||
                 (strncasecmp(store_pat, "INBOX", 5) == 0 && match(store_pat + 5, ""));
    if (inbox) /* INBOX always exists and, for LSUB, counts as subscribed */
        list_one(s, &ns, "INBOX", lsub);
    const struct names *which = lsub ? &subs : &ns;
    for (size_t i = 0; i < which->n; i++)
        if (match(store_pat, which->v[i]))
            list_one(s, &ns, which->v[i], lsub);
    if (lsub)
        lsub_parents(s, &ns, &subs, store_pat);
    for (size_t i = 0; i < subs.n; i++)
        free(subs.v[i]);
    free(subs.v);
    for (size_t i = 0; i < ns.n; i++)
        free(ns.v[i]);
    free(ns.v);
    free(store_pat);
    imap_ok(s, "%s completed.", cmd->name);
}

/* --- STATUS --- */

struct counts {
    uint64_t deleted;
};

static int count(void *ctx, const struct mailbox_msg *m)
{
    struct counts *c = ctx;
    c->deleted += (m->flags & MS_FLAG_TRASHED) != 0;
    return 0;
}

void cmd_status(struct imap_session *s, struct imap_command *cmd)
{
    char *name = cmd->nargs == 2 ? imap_name_in(s, &cmd->args[0]) : NULL;
    if (cmd->nargs != 2 || cmd->args[1].type != IMAP_ARG_LIST || cmd->args[1].n == 0) {
        free(name);
        imap_bad(s, "Syntax: STATUS mailbox (items).");
        return;
    }
    struct mailbox_info info;
    char *err = NULL;
    int r = name ? mailbox_info(s->mu, name, &info, &err) : 0;
    if (r <= 0) {
        if (r < 0)
            log_warn("%s: STATUS %s: %s, session=<%s>", s->user, name, err ? err : "?", s->id);
        free(err);
        free(name);
        imap_no(s, r < 0 ? "[SERVERBUG] Status unavailable." : "[NONEXISTENT] No such mailbox.");
        return;
    }
    struct counts c = {0};
    struct mailbox_status st = {0};
    mailbox_status(s->mu, name, &st, &err);
    free(err);
    err = NULL;
    struct buf b = BUF_INIT;
    buf_puts(&b, "* STATUS ");
    imap_name_out(s, &b, name);
    buf_puts(&b, " (");
    const struct imap_arg *items = cmd->args[1].list;
    bool counted = false;
    for (size_t i = 0; i < cmd->args[1].n; i++) {
        const struct imap_arg *a = &items[i];
        if (imap_arg_atom_is(a, "DELETED") && !counted) {
            mailbox_iterate(s->mu, name, 1, count, &c, &err);
            counted = true;
        }
        const char *sp = i ? " " : "";
        if (imap_arg_atom_is(a, "MESSAGES")) buf_printf(&b, "%sMESSAGES %llu", sp, (unsigned long long)info.messages);
        else if (imap_arg_atom_is(a, "UIDNEXT")) buf_printf(&b, "%sUIDNEXT %u", sp, info.uidnext);
        else if (imap_arg_atom_is(a, "UIDVALIDITY")) buf_printf(&b, "%sUIDVALIDITY %u", sp, info.uidvalidity);
        else if (imap_arg_atom_is(a, "UNSEEN")) buf_printf(&b, "%sUNSEEN %llu", sp, (unsigned long long)st.unseen);
        else if (imap_arg_atom_is(a, "DELETED")) buf_printf(&b, "%sDELETED %llu", sp, (unsigned long long)c.deleted);
        else if (imap_arg_atom_is(a, "RECENT")) buf_printf(&b, "%sRECENT %llu", sp, (unsigned long long)st.recent);
        else if (imap_arg_atom_is(a, "SIZE")) buf_printf(&b, "%sSIZE %llu", sp, (unsigned long long)info.vsize);
        else if (imap_arg_atom_is(a, "HIGHESTMODSEQ")) { /* RFC 7162 sec 3.1.6, enables CONDSTORE */
            buf_printf(&b, "%sHIGHESTMODSEQ %llu", sp, (unsigned long long)info.highestmodseq);
            condstore_enable(s);
        }
        else {
            free(err);
            free(name);
            buf_free(&b);
            imap_bad(s, "Unknown STATUS item.");
            return;
        }
    }
    buf_putc(&b, ')');
    imap_reply(s, "%s", buf_cstr(&b));
    buf_free(&b);
    free(err);
    free(name);
    view_sync(s, true);
    imap_ok(s, "STATUS completed.");
}
