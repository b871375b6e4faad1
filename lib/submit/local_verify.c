/* local_verify.c - sendmail -bv (see local_submit.h): how an address would be delivered,
 * nothing sent. An alias is followed as local-mda follows it (doc/mailstore.md, "Aliases"):
 * member by member down to mailboxes and remote addresses, with commands, files and
 * include files named as written (they are not run or opened here), an alias that lists
 * itself standing for its own mailbox, and a loop or a nesting deeper than
 * alias_recursion_limit reported as the 5.4.6 bounce it would be. */
#include "local_submit.h"
#include "buf.h"
#include "config.h"
#include "mem.h"
#include "resolve.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#define BV_SHOWN_MAX 50 /* final recipients listed; the rest are counted */

struct bv {
    struct resolver *r;
    struct buf out;     /* "mailbox a@x, remote b@y, ..." */
    size_t shown, more;
    char **path;        /* the aliases being followed, outermost first */
    size_t depth, max_depth;
    int rc;             /* EX_OK, EX_NOUSER (a loop) or EX_TEMPFAIL */
    char *why;          /* what made rc not EX_OK */
};

static void show(struct bv *b, const char *kind, const char *what)
{
    if (b->shown >= BV_SHOWN_MAX) {
        b->more++;
        return;
    }
    buf_printf(&b->out, "%s%s %s", b->shown++ ? ", " : "", kind, what);
}

static void stop(struct bv *b, int rc, char *why)
{
    if (b->rc == EX_OK) {
        b->rc = rc;
        b->why = why;
    } else {
        free(why);
    }
}

static void follow(struct bv *b, const char *addr);

static int member(void *ctx, const char *target, bool address)
{
    struct bv *b = ctx;
    if (!address)
        show(b, "", target); /* |command, /file, :include:/path: as written */
    else if (b->depth && strcasecmp(target, b->path[b->depth - 1]) == 0) {
        char *mailbox = NULL; /* lists itself: its own mailbox */
        if (resolve_mailbox(b->r, target, &mailbox, NULL) == RCPT_USER)
            show(b, "mailbox", mailbox);
        free(mailbox);
    } else {
        follow(b, target);
    }
    return b->rc != EX_OK;
}

static void follow_alias(struct bv *b, const char *addr, const char *value)
{
    for (size_t i = 0; i < b->depth; i++)
        if (strcasecmp(b->path[i], addr) == 0) {
            stop(b, EX_NOUSER, xasprintf("alias loop: %s", addr));
            return;
        }
    if (b->depth >= b->max_depth) {
        stop(b, EX_NOUSER, xasprintf("alias loop: nesting deeper than %zu at %s", b->max_depth, addr));
        return;
    }
    b->path = xreallocarray(b->path, b->depth + 1, sizeof *b->path);
    b->path[b->depth++] = xstrdup(addr);
    size_t n = 0;
    resolve_alias_targets(addr, value, member, b, &n);
    free(b->path[--b->depth]);
}

static void follow(struct bv *b, const char *addr)
{
    char *result = NULL;
    struct alias_hit hit = {0};
    switch (resolve_alias(b->r, addr, &result, &hit)) {
    case RCPT_USER: show(b, "mailbox", result); break;
    case RCPT_ALIAS: follow_alias(b, addr, result); break;
    case RCPT_REMOTE: show(b, "remote", addr); break;
    case RCPT_UNKNOWN: show(b, "unknown user", addr); break; /* bounced on its own */
    case RCPT_TEMPFAIL:
    default: stop(b, EX_TEMPFAIL, xstrdup("the recipient tables cannot be read now")); break;
    }
    alias_hit_free(&hit);
    free(result);
}

/* An alias: "deliverable: alias for mailbox a@x, remote b@y", or what stops it. */
static int verify_alias(struct resolver *r, struct config *cfg, const char *addr, char **text)
{
    struct bv b = {.r = r, .max_depth = cfg ? (size_t)config_int(cfg, PARAM(alias_recursion_limit)) : 1000};
    follow(&b, addr);
    if (b.rc == EX_OK && b.more)
        buf_printf(&b.out, " and %zu more", b.more);
    *text = b.rc == EX_NOUSER   ? xasprintf("undeliverable: %s", b.why)
          : b.rc != EX_OK       ? xasprintf("deferred: %s", b.why)
          : b.shown == 0        ? xstrdup("deliverable: alias with no deliverable member")
                                : xasprintf("deliverable: alias for %s", buf_cstr(&b.out));
    free(b.why);
    free(b.path);
    buf_free(&b.out);
    return b.rc;
}

int local_submit_verify(struct resolver *r, const char *addr, char **text)
{
    char *result = NULL, *ext = NULL;
    enum rcpt_class k = resolve_recipient(r, addr, &result, &ext);
    int rc = EX_OK;
    switch (k) {
    case RCPT_USER: *text = xasprintf("deliverable: mailbox %s", result); break;
    case RCPT_ALIAS: rc = verify_alias(r, resolver_config(r), addr, text); break;
    case RCPT_REMOTE:
        *text = xasprintf("deliverable: remote, sent by smtp to %s", strrchr(addr, '@') + 1);
        break;
    case RCPT_UNKNOWN:
        *text = xstrdup("undeliverable: unknown user");
        rc = EX_NOUSER;
        break;
    case RCPT_TEMPFAIL:
    default:
        *text = xstrdup("deferred: the recipient tables cannot be read now");
        rc = EX_TEMPFAIL;
        break;
    }
    free(result);
    free(ext);
    return rc;
}
