/* cmd_list.c - LIST (RFC 9051 sec 6.3.9) with LIST-EXTENDED (RFC 5258): selection options
 * SUBSCRIBED, REMOTE (no remote mailboxes here), RECURSIVEMATCH and SPECIAL-USE (RFC 6154
 * sec 5.1), return options SUBSCRIBED, CHILDREN, SPECIAL-USE and STATUS (LIST-STATUS, RFC
 * 5819), several patterns; and LSUB (RFC 3501 sec 6.3.9). "*" matches anything, "%"
 * anything but the separator.
 *
 * The names LIST considers are the user's mailboxes, INBOX, the subscribed names and every
 * level above them (Maildir++ needs no parent folders, so "a" may be missing while "a.b"
 * exists). A mailbox is listed when a pattern matches it and it meets the selection
 * (exists; with SUBSCRIBED: is subscribed, \NonExistent when it does not exist; with
 * SPECIAL-USE: has a special use). A name that does not meet it is listed too
 *   - with RECURSIVEMATCH, when a descendant meets it that no pattern matches, with
 *     CHILDINFO ("SUBSCRIBED") (RFC 5258 sec 3.5: redundant responses are left out);
 *   - without a selection option, when it is a missing level above existing mailboxes of
 *     which no pattern matches any, as \Noselect (\NonExistent in the extended syntax):
 *     "%" reaches the levels of a hierarchy (RFC 3501 sec 6.3.9).
 * \HasChildren and \HasNoChildren (RFC 3348) count existing descendants; the basic syntax
 * always has them, the extended one with RETURN (CHILDREN). Special-use attributes come
 * always. INBOX counts as subscribed, as LSUB has always shown it. */
#include "imap_mailbox.h"
#include "imap_utf7.h"
#include "log.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { SEL_SUBSCRIBED = 1, SEL_REMOTE = 2, SEL_RECURSIVE = 4, SEL_SPECIAL_USE = 8 };
enum { RET_SUBSCRIBED = 1, RET_CHILDREN = 2, RET_SPECIAL_USE = 4, RET_STATUS = 8 };

struct list_req {
    bool extended;
    bool root;                     /* LIST ref "": the separator and the root */
    unsigned sel, ret;
    const struct imap_arg *status; /* RETURN (STATUS (items)) */
    char **pats;                   /* reference + pattern, in the store's form */
    size_t npats;
};

struct entry {
    char *name;
    bool exists, subscribed;
    unsigned use;        /* MS_USE_* */
    bool matched;        /* by a pattern */
};

struct names {
    struct entry *v;
    size_t n, cap;
};

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

/* INBOX matches "inbox" in any case (RFC 9051 sec 5.1). */
static bool pattern_matches(const char *pat, const char *name)
{
    if (strcmp(name, "INBOX") == 0)
        return match(pat, name) || (strncasecmp(pat, "INBOX", 5) == 0 && match(pat + 5, ""));
    return match(pat, name);
}

static bool matched(const struct list_req *r, const char *name)
{
    for (size_t i = 0; i < r->npats; i++)
        if (pattern_matches(r->pats[i], name))
            return true;
    return false;
}

/* --- the names --- */

static void add(struct names *ns, const char *name, bool exists, bool subscribed)
{
    if (ns->n == ns->cap)
        ns->v = xreallocarray(ns->v, ns->cap = ns->cap ? ns->cap * 2 : 32, sizeof *ns->v);
    ns->v[ns->n++] = (struct entry){.name = xstrdup(name), .exists = exists, .subscribed = subscribed};
}

static int add_mailbox(void *ctx, const char *name)
{
    add(ctx, name, true, false);
    return 0;
}

static int add_subscribed(void *ctx, const char *name)
{
    add(ctx, name, false, true);
    return 0;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* Every level above each name, then one entry per name with the facts merged. */
static void complete(struct names *ns)
{
    size_t n = ns->n;
    for (size_t i = 0; i < n; i++)
        for (const char *sep = strchr(ns->v[i].name, IMAP_SEPARATOR); sep; sep = strchr(sep + 1, IMAP_SEPARATOR)) {
            char *parent = xstrndup(ns->v[i].name, (size_t)(sep - ns->v[i].name));
            add(ns, parent, false, false);
            free(parent);
        }
    if (ns->n > 1) /* never qsort a NULL array */
        qsort(ns->v, ns->n, sizeof *ns->v, entry_cmp);
    size_t w = 0;
    for (size_t i = 0; i < ns->n; i++) {
        if (w > 0 && strcmp(ns->v[w - 1].name, ns->v[i].name) == 0) {
            ns->v[w - 1].exists |= ns->v[i].exists;
            ns->v[w - 1].subscribed |= ns->v[i].subscribed;
            free(ns->v[i].name);
            continue;
        }
        ns->v[w++] = ns->v[i];
    }
    ns->n = w;
}

static void names_free(struct names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i].name);
    free(ns->v);
}

/* The descendants of v[i]: the names after it that start with its name and the separator
 * (sorted, they follow it in one block); returns the end of the block. */
static size_t descendants_end(const struct names *ns, size_t i)
{
    size_t len = strlen(ns->v[i].name), j = i + 1;
    while (j < ns->n && strncmp(ns->v[j].name, ns->v[i].name, len) == 0 && ns->v[j].name[len] == IMAP_SEPARATOR)
        j++;
    /* names such as "a b" sort between "a" and "a.b": skip over them */
    for (size_t k = j; k < ns->n && strncmp(ns->v[k].name, ns->v[i].name, len) == 0; k++)
        if (ns->v[k].name[len] == IMAP_SEPARATOR)
            j = k + 1;
    return j;
}

static bool selected(const struct list_req *r, const struct entry *e)
{
    bool ok = r->sel & SEL_SUBSCRIBED ? e->subscribed : e->exists;
    return ok && (!(r->sel & SEL_SPECIAL_USE) || e->use != 0);
}

/* --- the responses --- */

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

static void list_one(struct imap_session *s, const struct list_req *r, const struct entry *e,
                     bool children, bool childinfo)
{
    struct buf attrs = BUF_INIT, b = BUF_INIT;
    if (!e->exists)
        buf_puts(&attrs, r->extended ? " \\NonExistent" : " \\Noselect");
    if (!r->extended || (r->ret & RET_CHILDREN))
        buf_puts(&attrs, children ? " \\HasChildren" : " \\HasNoChildren");
    if ((r->ret & RET_SUBSCRIBED) && e->subscribed)
        buf_puts(&attrs, " \\Subscribed");
    special_use(&attrs, e->use);
    buf_printf(&b, "* LIST (%s) \"%c\" ", attrs.len ? attrs.data + 1 : "", IMAP_SEPARATOR);
    imap_name_out(s, &b, e->name);
    if (childinfo) /* RFC 5258 sec 3.5 */
        buf_printf(&b, " (\"CHILDINFO\" (%s%s%s))", r->sel & SEL_SUBSCRIBED ? "\"SUBSCRIBED\"" : "",
                   (r->sel & SEL_SUBSCRIBED) && (r->sel & SEL_SPECIAL_USE) ? " " : "",
                   r->sel & SEL_SPECIAL_USE ? "\"SPECIAL-USE\"" : "");
    imap_reply(s, "%s", buf_cstr(&b));
    buf_free(&attrs);
    buf_free(&b);
    if ((r->ret & RET_STATUS) && e->exists) { /* RFC 5819: after its LIST response */
        struct buf st = BUF_INIT;
        if (status_items(s, e->name, r->status->list, r->status->n, &st) == 1)
            imap_reply(s, "%s", buf_cstr(&st));
        buf_free(&st);
    }
}

static void list_entry(struct imap_session *s, const struct list_req *r, const struct names *ns, size_t i)
{
    const struct entry *e = &ns->v[i];
    if (!e->matched)
        return;
    bool children = false, childinfo = false, hidden_child = false;
    size_t end = descendants_end(ns, i);
    for (size_t j = i + 1; j < end; j++) {
        const struct entry *d = &ns->v[j];
        if (strncmp(d->name, e->name, strlen(e->name)) != 0 || d->name[strlen(e->name)] != IMAP_SEPARATOR)
            continue;
        children |= d->exists;
        childinfo |= (r->sel & SEL_RECURSIVE) && selected(r, d) && !d->matched;
        hidden_child |= d->exists && d->matched;
    }
    bool sel = selected(r, e);
    if (!sel && !childinfo) {
        if ((r->sel & ~SEL_REMOTE) || e->exists || !children || hidden_child)
            return; /* only a missing level above unmatched mailboxes is shown */
    }
    list_one(s, r, e, children, childinfo);
}

/* --- parsing --- */

static bool parse_selection(const struct imap_arg *l, struct list_req *r)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct imap_arg *a = &l->list[i];
        if (imap_arg_atom_is(a, "SUBSCRIBED")) r->sel |= SEL_SUBSCRIBED;
        else if (imap_arg_atom_is(a, "REMOTE")) r->sel |= SEL_REMOTE;
        else if (imap_arg_atom_is(a, "RECURSIVEMATCH")) r->sel |= SEL_RECURSIVE;
        else if (imap_arg_atom_is(a, "SPECIAL-USE")) r->sel |= SEL_SPECIAL_USE;
        else return false;
    }
    if (r->sel & SEL_SUBSCRIBED)
        r->ret |= RET_SUBSCRIBED; /* RFC 5258 sec 3: implied */
    /* sec 3: RECURSIVEMATCH needs a selection option other than REMOTE */
    return !(r->sel & SEL_RECURSIVE) || (r->sel & (SEL_SUBSCRIBED | SEL_SPECIAL_USE));
}

static bool status_item_list(const struct imap_arg *l)
{
    return l && l->type == IMAP_ARG_LIST && l->n > 0 && status_items_valid(l->list, l->n);
}

static bool parse_return(const struct imap_arg *l, struct list_req *r)
{
    if (l->type != IMAP_ARG_LIST)
        return false;
    for (size_t i = 0; i < l->n; i++) {
        const struct imap_arg *a = &l->list[i];
        if (imap_arg_atom_is(a, "SUBSCRIBED")) r->ret |= RET_SUBSCRIBED;
        else if (imap_arg_atom_is(a, "CHILDREN")) r->ret |= RET_CHILDREN;
        else if (imap_arg_atom_is(a, "SPECIAL-USE")) r->ret |= RET_SPECIAL_USE;
        else if (imap_arg_atom_is(a, "STATUS") && i + 1 < l->n && status_item_list(&l->list[i + 1])) {
            r->ret |= RET_STATUS;
            r->status = &l->list[++i];
        } else
            return false;
    }
    return true;
}

static void add_pattern(struct imap_session *s, struct list_req *r, const char *ref, const struct imap_arg *p)
{
    char *full = xasprintf("%s%s", ref, p->str);
    /* the store's form: modified UTF-7 (a UTF-8 session's pattern converted) */
    char *pat = s->utf8 ? imap_utf8_to_mutf7(full, strlen(full)) : xstrdup(full);
    free(full);
    if (!pat)
        return; /* cannot name any mailbox */
    r->pats = xreallocarray(r->pats, r->npats + 1, sizeof *r->pats);
    r->pats[r->npats++] = pat;
}

/* [(selection)] reference (pattern | (patterns)) [RETURN (options)]; false: BAD. */
static bool parse(struct imap_session *s, const struct imap_command *cmd, struct list_req *r)
{
    const struct imap_arg *a = cmd->args;
    size_t n = cmd->nargs, i = 0;
    if (n > 0 && a[0].type == IMAP_ARG_LIST) {
        r->extended = true;
        if (!parse_selection(&a[i++], r))
            return false;
    }
    if (i + 2 > n || !imap_arg_is_astring(&a[i]))
        return false;
    const char *ref = a[i].str;
    const struct imap_arg *p = &a[i + 1];
    if (p->type == IMAP_ARG_LIST) {
        r->extended = true;
        for (size_t k = 0; k < p->n; k++)
            if (!imap_arg_is_astring(&p->list[k]))
                return false;
        for (size_t k = 0; k < p->n; k++)
            add_pattern(s, r, ref, &p->list[k]);
        if (p->n == 0)
            return false;
    } else if (imap_arg_is_astring(p)) {
        add_pattern(s, r, ref, p);
        r->root = !r->sel && !*p->str;
    } else
        return false;
    i += 2;
    if (i == n)
        return true;
    r->extended = true;
    return i + 2 == n && imap_arg_atom_is(&a[i], "RETURN") && parse_return(&a[i + 1], r);
}

static void req_free(struct list_req *r)
{
    for (size_t i = 0; i < r->npats; i++)
        free(r->pats[i]);
    free(r->pats);
}

static void gather(struct imap_session *s, const struct list_req *r, struct names *ns)
{
    mail_user_mailboxes(s->mu, add_mailbox, ns);
    add(ns, "INBOX", true, true);
    char *err = NULL;
    if ((r->sel & SEL_SUBSCRIBED) || (r->ret & RET_SUBSCRIBED))
        mail_user_subscriptions(s->mu, add_subscribed, ns, &err);
    free(err);
    complete(ns);
    for (size_t i = 0; i < ns->n; i++) {
        struct entry *e = &ns->v[i];
        e->matched = matched(r, e->name);
        struct mailbox_status st;
        char *e2 = NULL;
        if (e->exists && (r->sel & SEL_SPECIAL_USE || e->matched) &&
            mailbox_status(s->mu, e->name, &st, &e2) == 1)
            e->use = st.special_use;
        free(e2);
    }
}

static void list(struct imap_session *s, struct imap_command *cmd)
{
    struct list_req r = {0};
    if (!parse(s, cmd, &r)) {
        req_free(&r);
        imap_bad(s, "Syntax: LIST [(selection-options)] reference pattern|(patterns) [RETURN (options)].");
        return;
    }
    if (r.root) { /* RFC 9051 sec 6.3.9 */
        imap_reply(s, "* LIST (\\Noselect) \"%c\" \"\"", IMAP_SEPARATOR);
    } else {
        struct names ns = {0};
        gather(s, &r, &ns);
        for (size_t i = 0; i < ns.n; i++)
            list_entry(s, &r, &ns, i);
        names_free(&ns);
    }
    req_free(&r);
    imap_ok(s, "LIST completed.");
}

/* --- LSUB --- */

static void lsub_one(struct imap_session *s, const struct names *mailboxes, const char *name)
{
    struct buf attrs = BUF_INIT, b = BUF_INIT;
    struct mailbox_status st = {0};
    char *err = NULL;
    struct entry key = {.name = (char *)name};
    const struct entry *e = bsearch(&key, mailboxes->v, mailboxes->n, sizeof key, entry_cmp);
    bool children = false;
    if (e) {
        size_t i = (size_t)(e - mailboxes->v), end = descendants_end(mailboxes, i);
        for (size_t j = i + 1; j < end && !children; j++)
            children = mailboxes->v[j].exists;
    }
    buf_puts(&attrs, children ? " \\HasChildren" : " \\HasNoChildren");
    if (mailbox_status(s->mu, name, &st, &err) == 1)
        special_use(&attrs, st.special_use);
    else /* subscribed, but no such mailbox (RFC 3501 sec 6.3.9) */
        buf_puts(&attrs, " \\Noselect");
    free(err);
    buf_printf(&b, "* LSUB (%s) \"%c\" ", attrs.data + 1, IMAP_SEPARATOR);
    imap_name_out(s, &b, name);
    imap_reply(s, "%s", buf_cstr(&b));
    buf_free(&attrs);
    buf_free(&b);
}

static bool subscribed(const struct names *subs, const char *name)
{
    for (size_t i = 0; i < subs->n; i++)
        if (strcmp(subs->v[i].name, name) == 0)
            return true;
    return false;
}

/* RFC 3501 sec 6.3.9: with "%", a subscribed mailbox below the level the pattern reaches
 * shows its parent at that level, \Noselect unless the parent is subscribed itself. A
 * mailbox the pattern matches itself ("*") is listed as it is, without its parents. */
static void lsub_parents(struct imap_session *s, const struct names *subs, const char *pat)
{
    struct names done = {0};
    for (size_t i = 0; i < subs->n; i++) {
        const char *n = subs->v[i].name;
        if (match(pat, n))
            continue;
        for (const char *sep = strchr(n, IMAP_SEPARATOR); sep; sep = strchr(sep + 1, IMAP_SEPARATOR)) {
            char *parent = xstrndup(n, (size_t)(sep - n));
            if (match(pat, parent) && !subscribed(subs, parent) && !subscribed(&done, parent)) {
                struct buf b = BUF_INIT;
                buf_printf(&b, "* LSUB (\\Noselect) \"%c\" ", IMAP_SEPARATOR);
                imap_name_out(s, &b, parent);
                imap_reply(s, "%s", buf_cstr(&b));
                buf_free(&b);
                add(&done, parent, false, true);
            }
            free(parent);
        }
    }
    names_free(&done);
}

static void lsub(struct imap_session *s, struct imap_command *cmd)
{
    if (cmd->nargs != 2 || !imap_arg_is_astring(&cmd->args[0]) || !imap_arg_is_astring(&cmd->args[1])) {
        imap_bad(s, "Syntax: LSUB reference pattern.");
        return;
    }
    struct list_req r = {0};
    add_pattern(s, &r, cmd->args[0].str, &cmd->args[1]);
    if (*cmd->args[1].str && r.npats) {
        struct names mailboxes = {0}, subs = {0};
        mail_user_mailboxes(s->mu, add_mailbox, &mailboxes);
        complete(&mailboxes);
        char *err = NULL;
        mail_user_subscriptions(s->mu, add_subscribed, &subs, &err);
        free(err);
        if (pattern_matches(r.pats[0], "INBOX")) /* INBOX always exists and counts as subscribed */
            lsub_one(s, &mailboxes, "INBOX");
        for (size_t i = 0; i < subs.n; i++)
            if (strcmp(subs.v[i].name, "INBOX") != 0 && match(r.pats[0], subs.v[i].name))
                lsub_one(s, &mailboxes, subs.v[i].name);
        lsub_parents(s, &subs, r.pats[0]);
        names_free(&subs);
        names_free(&mailboxes);
    }
    req_free(&r);
    imap_ok(s, "LSUB completed.");
}

void cmd_list(struct imap_session *s, struct imap_command *cmd, bool is_lsub)
{
    if (is_lsub)
        lsub(s, cmd);
    else
        list(s, cmd);
}
