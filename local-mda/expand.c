/* expand.c - what one recipient turns into: a list of local mailboxes, commands and files
 * (with the alias that listed each), remote forward addresses and unknown members, or one
 * failure for the whole recipient. Expansion finishes before anything is delivered, so a
 * loop or a table error never leaves a partial delivery behind. An alias member in one of
 * our domains that does not exist does not silence the others (as with Postfix's
 * aliases): when other members remain it is forwarded like a remote member, and that copy
 * bounces 5.1.1 for it alone, naming the alias as Original-Recipient; when no member
 * remains the recipient bounces 5.1.1.
 *
 * Alias values have aliases(5) syntax (lib/global/alias_value.h). An address without '@'
 * gets the domain of the alias that lists it, or $myorigin when a local-part key ("root:")
 * lists it; targets of an :include: file are qualified as the alias that includes it. An
 * alias that lists itself ("a@x: a@x, b@y") keeps a copy in its own mailbox, as "\a" does;
 * without a mailbox that member is left out (logged) unless it is the only one.
 * Commands and files are kept only from a trusted source (trusted_owner: an alias table or
 * include file owned by root, or by the instance's user when it runs unprivileged, and
 * writable by no one else) that allow_mail_to_commands / allow_mail_to_files allow
 * ("alias", "include"); anywhere else they bounce 5.7.1, as Postfix's "mail to command is
 * restricted". A value or include file that cannot be read or parsed defers 4.3.5 (a
 * configuration error the operator can fix while the mail waits). Loops: an alias or an
 * include file met again on its own expansion path, or nesting deeper than
 * alias_recursion_limit, bounces 5.4.6; more than alias_expansion_limit targets bounces
 * 5.3.0. */
#include "local.h"
#include "buf.h"
#include "idn.h"
#include "log.h"
#include "mem.h"
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct walk {
    struct request *rq;
    struct expansion *x;
    char **stack; /* aliases (and ":include:PATH") on the current expansion path, lowercased */
    size_t depth;
    long long max_depth, max_count;
};

/* What the entry being expanded may list, from where it came. */
struct scope {
    const char *domain; /* for targets without one: the alias's, or $myorigin */
    bool trusted;       /* its table (or include file) is owned by root or the instance's user */
    bool commands;      /* trusted and allow_mail_to_commands allows this kind of source */
    bool files;         /* the same with allow_mail_to_files */
    const char *source; /* "alias KEY" or ":include:PATH", for messages */
};

void outcome_set(struct outcome *o, const char *status, const char *dsn, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    free(o->reason);
    /* one of the three literals, whatever string (an IPC answer) status points into */
    o->status = strcmp(status, "sent") == 0 ? "sent" : strcmp(status, "bounce") == 0 ? "bounce" : "defer";
    snprintf(o->dsn, sizeof o->dsn, "%s", dsn);
    o->reason = buf_steal(&b);
}

void outcome_free(struct outcome *o)
{
    free(o->reason);
    o->reason = NULL;
}

void expansion_free(struct expansion *x)
{
    for (size_t i = 0; i < x->nlocal; i++) {
        free(x->local[i].mailbox);
        free(x->local[i].delivered_to);
    }
    free(x->local);
    for (size_t i = 0; i < x->nremote; i++)
        free(x->remote[i]);
    free(x->remote);
    for (size_t i = 0; i < x->nunknown; i++)
        free(x->unknown[i]);
    free(x->unknown);
    free(x->self_unknown);
    for (size_t i = 0; i < x->nspecial; i++) {
        free(x->special[i].what);
        free(x->special[i].owner);
        free(x->special[i].extension);
    }
    free(x->special);
    outcome_free(&x->fail);
    memset(x, 0, sizeof *x);
}

static char *lowered(const char *s)
{
    char *r = xstrdup(s);
    for (char *p = r; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return r;
}

static void fail(struct walk *w, const char *status, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(struct walk *w, const char *status, const char *dsn, const char *fmt, ...)
{
    if (w->x->failed)
        return; /* the first failure decides */
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    w->x->failed = true;
    outcome_set(&w->x->fail, status, dsn, "%s", buf_cstr(&b));
    buf_free(&b);
}

static bool count_ok(struct walk *w)
{
    if ((long long)(w->x->nlocal + w->x->nremote + w->x->nspecial) < w->max_count)
        return true;
    fail(w, "bounce", "5.3.0", "alias expansion limit (%lld addresses) exceeded", w->max_count);
    return false;
}

/* ADDR with its domain in the form domains are stored and looked up in (lib/util/idn.h:
 * lowercase A-labels after the UTS #46 mapping), the local part as written. Delivered-To,
 * the loop check and the exactly-once id then name a mailbox the same way whichever form
 * of the domain the client wrote (U-labels, fullwidth letters, U+3002 for the dot, capitals:
 * doc/smtpd.md, "Internationalized domains"). An invalid IDN stays as written (it is none
 * of our domains anyway). */
static char *canonical(const char *addr)
{
    const char *at = strrchr(addr, '@');
    char *dom = at ? idn_domain_ascii(at + 1) : NULL;
    char *r = dom ? xasprintf("%.*s@%s", (int)(at - addr), addr, dom) : xstrdup(addr);
    free(dom);
    return r;
}

/* The extension of addr (recipient_delimiter), or NULL. */
static char *extension_of(struct walk *w, const char *addr)
{
    const char *delim = config_str(w->rq->mda->cfg, PARAM(recipient_delimiter));
    const char *at = strrchr(addr, '@');
    size_t llen = at ? (size_t)(at - addr) : strlen(addr);
    if (!delim || !*delim || llen < 2)
        return NULL;
    size_t cut = strcspn(addr + 1, delim) + 1;
    return cut < llen ? xstrndup(addr + cut + 1, llen - cut - 1) : NULL;
}

static void add_local(struct walk *w, const char *mailbox, const char *addr)
{
    for (size_t i = 0; i < w->x->nlocal; i++)
        if (strcmp(w->x->local[i].mailbox, mailbox) == 0)
            return;
    if (!count_ok(w))
        return;
    w->x->local = xreallocarray(w->x->local, w->x->nlocal + 1, sizeof *w->x->local);
    w->x->local[w->x->nlocal].mailbox = xstrdup(mailbox);
    w->x->local[w->x->nlocal++].delivered_to = canonical(addr);
}

static void add_remote(struct walk *w, const char *addr)
{
    for (size_t i = 0; i < w->x->nremote; i++)
        if (strcasecmp(w->x->remote[i], addr) == 0)
            return;
    if (!count_ok(w))
        return;
    w->x->remote = xreallocarray(w->x->remote, w->x->nremote + 1, sizeof *w->x->remote);
    w->x->remote[w->x->nremote++] = xstrdup(addr);
}

static void add_unknown(struct walk *w, const char *addr)
{
    for (size_t i = 0; i < w->x->nunknown; i++)
        if (strcasecmp(w->x->unknown[i], addr) == 0)
            return;
    if (!count_ok(w))
        return;
    w->x->unknown = xreallocarray(w->x->unknown, w->x->nunknown + 1, sizeof *w->x->unknown);
    w->x->unknown[w->x->nunknown++] = xstrdup(addr);
}

static void add_special(struct walk *w, const struct alias_target *t, const char *owner)
{
    char *canon = canonical(owner);
    for (size_t i = 0; i < w->x->nspecial; i++) {
        const struct special *sp = &w->x->special[i];
        if (sp->kind == t->kind && strcmp(sp->what, t->text) == 0 && strcmp(sp->owner, canon) == 0) {
            free(canon);
            return;
        }
    }
    if (!count_ok(w)) {
        free(canon);
        return;
    }
    w->x->special = xreallocarray(w->x->special, w->x->nspecial + 1, sizeof *w->x->special);
    struct special *sp = &w->x->special[w->x->nspecial++];
    sp->kind = t->kind;
    sp->what = xstrdup(t->text);
    sp->owner = canon;
    sp->extension = extension_of(w, owner);
}

static void walk_address(struct walk *w, const char *addr);
static void walk_include(struct walk *w, const char *owner, const struct scope *sc, const char *path);

/* An address target qualified with the scope's domain when it has none. */
static char *qualified(const struct scope *sc, const char *text)
{
    return strchr(text, '@') ? xstrdup(text) : xasprintf("%s@%s", text, sc->domain);
}

/* "\user" or an alias listing itself (self): that mailbox, without alias expansion. An
 * alias that lists itself but has no mailbox does not silence its other members (nor can
 * its copy be forwarded, which would come back to the alias): it is left out, and bounces
 * only when nothing else remains (expand_recipient). */
static void walk_mailbox(struct walk *w, const char *t, bool self)
{
    char *mailbox = NULL;
    enum rcpt_class c = resolve_mailbox(w->rq->mda->res, t, &mailbox, NULL);
    if (c == RCPT_USER)
        add_local(w, mailbox, t);
    else if (c == RCPT_TEMPFAIL)
        fail(w, "defer", "4.3.0", "cannot look up %s: table unavailable", t);
    else if (self && !w->x->self_unknown)
        w->x->self_unknown = xstrdup(t);
    else if (!self)
        fail(w, "bounce", "5.1.1", "unknown user: %s", t);
    free(mailbox);
}

/* One target of the alias (or include file) owner, within the scope it was listed in. */
static void walk_target(struct walk *w, const char *owner, const struct scope *sc,
                        const struct alias_target *t)
{
    switch (t->kind) {
    case ALIAS_COMMAND:
    case ALIAS_FILE: {
        bool cmd = t->kind == ALIAS_COMMAND;
        if (cmd ? sc->commands : sc->files)
            add_special(w, t, owner);
        else /* Postfix's answer: a policy refusal, not a retry */
            fail(w, "bounce", "5.7.1", "mail to %s is restricted: \"%s%s\" in %s (%s)",
                 cmd ? "command" : "file", cmd ? "|" : "", t->text, sc->source,
                 cmd ? "allow_mail_to_commands" : "allow_mail_to_files");
        break;
    }
    case ALIAS_INCLUDE:
        walk_include(w, owner, sc, t->text);
        break;
    case ALIAS_MAILBOX: {
        char *a = qualified(sc, t->text);
        walk_mailbox(w, a, false);
        free(a);
        break;
    }
    case ALIAS_ADDRESS: {
        char *a = qualified(sc, t->text), *la = lowered(a);
        if (strcmp(la, w->stack[w->depth - 1]) == 0) /* lists itself: its own mailbox */
            walk_mailbox(w, a, true);
        else
            walk_address(w, a);
        free(la);
        free(a);
        break;
    }
    }
}

/* Enter key (an alias address or ":include:PATH") on the expansion path; false (and the
 * recipient fails 5.4.6) when it is already on it or the path is too deep. */
static bool push(struct walk *w, const char *what)
{
    char *key = lowered(what);
    for (size_t i = 0; i < w->depth; i++)
        if (strcmp(w->stack[i], key) == 0) {
            fail(w, "bounce", "5.4.6", "alias loop: %s", what);
            free(key);
            return false;
        }
    if ((long long)w->depth >= w->max_depth) {
        fail(w, "bounce", "5.4.6", "alias loop: nesting deeper than %lld at %s", w->max_depth, what);
        free(key);
        return false;
    }
    w->stack = xreallocarray(w->stack, w->depth + 1, sizeof *w->stack);
    w->stack[w->depth++] = key;
    return true;
}

static void pop(struct walk *w) { free(w->stack[--w->depth]); }

static void walk_list(struct walk *w, const char *owner, const struct scope *sc,
                      const struct alias_list *l)
{
    for (size_t i = 0; i < l->n && !w->x->failed; i++)
        walk_target(w, owner, sc, &l->v[i]);
}

static void walk_include(struct walk *w, const char *owner, const struct scope *sc, const char *path)
{
    char *what = xasprintf(":include:%s", path);
    if (!push(w, what)) {
        free(what);
        return;
    }
    struct alias_list l = {0};
    char *err = NULL;
    if (include_read(w->rq->mda, path, &l, &err) < 0) {
        fail(w, "defer", "4.3.5", "%s", err);
    } else {
        struct config *cfg = w->rq->mda->cfg;
        bool trusted = sc->trusted; /* include_read refused an untrusted file */
        struct scope inner = {
            .domain = sc->domain, .trusted = trusted, .source = what,
            .commands = trusted && config_list_has(cfg, PARAM(allow_mail_to_commands), "include"),
            .files = trusted && config_list_has(cfg, PARAM(allow_mail_to_files), "include"),
        };
        walk_list(w, owner, &inner, &l);
    }
    free(err);
    alias_list_free(&l);
    free(what);
    pop(w);
}

static void walk_alias(struct walk *w, const char *addr, const char *value, const struct alias_hit *hit)
{
    if (!push(w, addr))
        return;
    struct mda *m = w->rq->mda;
    const char *at = strrchr(addr, '@');
    bool trusted = hit->from_table && trusted_owner(m, hit->owner, hit->mode);
    char *source = xasprintf("alias %s", hit->key ? hit->key : addr);
    struct scope sc = {
        .domain = hit->local_part || !at ? config_str(m->cfg, PARAM(myorigin)) : at + 1,
        .trusted = trusted, .source = source,
        .commands = trusted && config_list_has(m->cfg, PARAM(allow_mail_to_commands), "alias"),
        .files = trusted && config_list_has(m->cfg, PARAM(allow_mail_to_files), "alias"),
    };
    struct alias_list l = {0};
    char *err = NULL;
    if (alias_value_parse(value, &l, &err) < 0)
        fail(w, "defer", "4.3.5", "%s: %s", source, err);
    else if (l.n == 0)
        fail(w, "defer", "4.3.5", "alias %s has no targets", addr);
    else
        walk_list(w, addr, &sc, &l);
    free(err);
    free(source);
    alias_list_free(&l);
    pop(w);
}

static void walk_address(struct walk *w, const char *addr)
{
    char *result = NULL;
    struct alias_hit hit;
    enum rcpt_class c = resolve_alias(w->rq->mda->res, addr, &result, &hit);
    bool top = w->depth == 0;
    switch (c) {
    case RCPT_USER:
        add_local(w, result, addr);
        break;
    case RCPT_ALIAS:
        walk_alias(w, addr, result, &hit);
        break;
    case RCPT_UNKNOWN:
        if (top)
            fail(w, "bounce", "5.1.1", "unknown user: %s", addr);
        else
            add_unknown(w, addr); /* settled in expand_recipient */
        break;
    case RCPT_REMOTE:
        if (top)
            fail(w, "bounce", "5.4.1", "not a local recipient: %s", addr);
        else
            add_remote(w, addr);
        break;
    case RCPT_TEMPFAIL:
        fail(w, "defer", "4.3.0", "cannot look up %s: user or alias table unavailable", addr);
        break;
    }
    alias_hit_free(&hit);
    free(result);
}

void expand_recipient(struct request *rq, const char *rcpt, struct expansion *x)
{
    memset(x, 0, sizeof *x);
    struct walk w = {
        .rq = rq, .x = x,
        .max_depth = config_int(rq->mda->cfg, PARAM(alias_recursion_limit)),
        .max_count = config_int(rq->mda->cfg, PARAM(alias_expansion_limit)),
    };
    walk_address(&w, rcpt);
    free(w.stack);
    if (!x->failed && x->self_unknown) {
        if (x->nlocal + x->nremote + x->nspecial + x->nunknown == 0) {
            fail(&w, "bounce", "5.1.1", "unknown user: %s", x->self_unknown);
            return;
        }
        log_warn("alias %s lists itself but has no mailbox: that member is left out", x->self_unknown);
    }
    if (x->failed || x->nunknown == 0)
        return;
    if (x->nlocal + x->nremote + x->nspecial == 0) {
        fail(&w, "bounce", "5.1.1", "unknown user: %s", x->unknown[0]);
        return;
    }
    for (size_t i = 0; i < x->nunknown; i++) /* bounced on their own by the forwarded copy */
        add_remote(&w, x->unknown[i]);
}
