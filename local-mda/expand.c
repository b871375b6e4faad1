/* expand.c - what one recipient turns into: a list of local mailboxes, remote forward
 * addresses and unknown members, or one failure for the whole recipient. Expansion
 * finishes before anything is delivered, so a loop or a table error never leaves a partial
 * delivery behind. An alias member in one of our domains that does not exist does not
 * silence the others (as with Postfix's aliases): when other members remain it is
 * forwarded like a remote member, and that copy bounces 5.1.1 for it alone, naming the
 * alias as Original-Recipient; when no member remains the recipient bounces 5.1.1.
 *
 * Alias values are lists of addresses separated by commas and/or white space, optionally
 * in angle brackets; an address without '@' gets the domain of the alias that lists it.
 * An alias that lists itself ("a@x: a@x, b@y") keeps a copy in its own mailbox. Pipes,
 * files and :include: are not delivery targets here (4.3.5, a configuration error the
 * operator can fix while the mail waits). Loops: an alias met again on its own expansion
 * path, or nesting deeper than alias_recursion_limit, bounces 5.4.6; more than
 * alias_expansion_limit addresses bounces 5.3.0. */
#include "local.h"
#include "buf.h"
#include "idn.h"
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
    char **stack; /* alias addresses on the current expansion path, lowercased */
    size_t depth;
    long long max_depth, max_count;
};

void outcome_set(struct outcome *o, const char *status, const char *dsn, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    free(o->reason);
    o->status = status;
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
    if ((long long)(w->x->nlocal + w->x->nremote) < w->max_count)
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

static void walk_address(struct walk *w, const char *addr);

struct alias_step {
    struct walk *w;
    const char *alias;
};

/* A target of an alias (lib/global/resolve.h, resolve_alias_targets). */
static int walk_target(void *ctx, const char *t, bool supported)
{
    struct alias_step *st = ctx;
    struct walk *w = st->w;
    if (!supported) {
        fail(w, "defer", "4.3.5", "unsupported target \"%s\" in alias %s", t, st->alias);
        return 1;
    }
    char *lt = lowered(t);
    if (strcmp(lt, w->stack[w->depth - 1]) == 0) { /* lists itself: its own mailbox */
        char *mailbox = NULL;
        enum rcpt_class c = resolve_mailbox(w->rq->mda->res, t, &mailbox, NULL);
        if (c == RCPT_USER)
            add_local(w, mailbox, t);
        else if (c == RCPT_TEMPFAIL)
            fail(w, "defer", "4.3.0", "cannot look up %s: table unavailable", t);
        else
            fail(w, "bounce", "5.1.1", "unknown user: %s", t);
        free(mailbox);
    } else {
        walk_address(w, t);
    }
    free(lt);
    return w->x->failed ? 1 : 0;
}

static void walk_alias(struct walk *w, const char *addr, const char *value)
{
    char *key = lowered(addr);
    for (size_t i = 0; i < w->depth; i++)
        if (strcmp(w->stack[i], key) == 0) {
            fail(w, "bounce", "5.4.6", "alias loop: %s", addr);
            free(key);
            return;
        }
    if ((long long)w->depth >= w->max_depth) {
        fail(w, "bounce", "5.4.6", "alias loop: nesting deeper than %lld at %s", w->max_depth, addr);
        free(key);
        return;
    }
    w->stack = xreallocarray(w->stack, w->depth + 1, sizeof *w->stack);
    w->stack[w->depth++] = key;
    struct alias_step st = {w, addr};
    size_t ntok = 0;
    resolve_alias_targets(addr, value, walk_target, &st, &ntok);
    if (ntok == 0)
        fail(w, "defer", "4.3.5", "alias %s has no targets", addr);
    free(w->stack[--w->depth]);
}

static void walk_address(struct walk *w, const char *addr)
{
    char *result = NULL;
    enum rcpt_class c = resolve_recipient(w->rq->mda->res, addr, &result, NULL);
    bool top = w->depth == 0;
    switch (c) {
    case RCPT_USER:
        add_local(w, result, addr);
        break;
    case RCPT_ALIAS:
        walk_alias(w, addr, result);
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
    if (x->failed || x->nunknown == 0)
        return;
    if (x->nlocal + x->nremote == 0) {
        fail(&w, "bounce", "5.1.1", "unknown user: %s", x->unknown[0]);
        return;
    }
    for (size_t i = 0; i < x->nunknown; i++) /* bounced on their own by the forwarded copy */
        add_remote(&w, x->unknown[i]);
}
