/* resolve.c - recipient classification (see resolve.h).
 *
 * Order of checks for local@domain (domain one of ours), with extension "ext" split off
 * at the first recipient_delimiter character (never at the first character):
 *   1. alias "local+ext@domain"      (the full address)
 *   2. user  "local+ext@domain"
 *   3. alias "local@domain"          (without the extension)
 *   4. user  "local@domain"
 *   5. alias "@domain"               (catch-all: only when no user matched, so a catch-all
 *                                     never swallows the mail of an existing mailbox)
 * Alias tables are tried in alias_maps order; the first table with the key wins. A table
 * whose compiled file does not exist holds no aliases (it is opened once it appears); a
 * table that exists but cannot be read makes every lookup RCPT_TEMPFAIL, as does an
 * account database error. */
#include "resolve.h"
#include "idn.h"
#include "mem.h"
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct alias_map {
    const char *spec;
    struct map *m;   /* NULL: not open (missing or unreadable) */
    int open_errno;  /* why m is NULL */
    time_t last_try; /* last open attempt */
};

struct resolver {
    struct config *cfg;
    struct accounts *acc;
    struct alias_map *maps;
    size_t nmaps;
    const char *delim;
};

static void try_open(struct alias_map *am, char **err)
{
    char *e = NULL;
    am->last_try = time(NULL);
    errno = 0;
    am->m = map_open(am->spec, &e);
    am->open_errno = am->m ? 0 : errno ? errno : EIO;
    if (err)
        *err = e;
    else
        free(e);
}

struct resolver *resolver_open(struct config *cfg, char **err)
{
    struct resolver *r = xcalloc(1, sizeof *r);
    r->cfg = cfg;
    r->delim = config_str(cfg, PARAM(recipient_delimiter));
    r->acc = accounts_open(cfg, false, err);
    if (!r->acc) {
        free(r);
        return NULL;
    }
    char **specs = config_list(cfg, PARAM(alias_maps), &r->nmaps);
    r->maps = xcalloc(r->nmaps, sizeof *r->maps);
    for (size_t i = 0; i < r->nmaps; i++) {
        char *e = NULL;
        r->maps[i].spec = specs[i];
        try_open(&r->maps[i], &e);
        if (!r->maps[i].m && r->maps[i].open_errno == EINVAL) { /* bad spec: a config error */
            *err = e;
            resolver_close(r);
            return NULL;
        }
        free(e);
    }
    return r;
}

void resolver_close(struct resolver *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nmaps; i++)
        map_close(r->maps[i].m);
    free(r->maps);
    accounts_close(r->acc);
    free(r);
}

struct accounts *resolver_accounts(struct resolver *r) { return r->acc; }

/* 1 found (*value), 0 not found, -1 a table could not be read. */
static int alias_lookup(struct resolver *r, const char *key, char **value)
{
    for (size_t i = 0; i < r->nmaps; i++) {
        struct alias_map *am = &r->maps[i];
        if (!am->m && time(NULL) != am->last_try)
            try_open(am, NULL);
        if (!am->m) {
            if (am->open_errno == ENOENT)
                continue;
            return -1;
        }
        char *err = NULL;
        int rc = map_lookup(am->m, key, value, &err);
        free(err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* 1 user, 0 not, -1 error. */
static int user_lookup(struct resolver *r, const char *addr)
{
    struct account_user u;
    char *err = NULL;
    int rc = accounts_user_get(r->acc, addr, &u, &err);
    free(err);
    if (rc == 1)
        account_user_free(&u);
    return rc;
}

struct parts {
    char *domain; /* lowercased */
    char *full;   /* lowercased local@domain */
    char *base;   /* lowercased address without extension, or NULL */
    char *ext;    /* extension as written, or NULL */
};

static void parts_free(struct parts *p)
{
    free(p->domain);
    free(p->full);
    free(p->base);
    free(p->ext);
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

static void split(struct resolver *r, const char *addr, struct parts *p)
{
    memset(p, 0, sizeof *p);
    const char *at = strrchr(addr, '@');
    const char *domain = at ? at + 1 : config_str(r->cfg, PARAM(myorigin));
    size_t llen = at ? (size_t)(at - addr) : strlen(addr);
    /* U-labels (SMTPUTF8) become A-labels; an invalid IDN keeps its bytes and matches nothing. */
    p->domain = idn_domain_ascii(domain ? domain : "");
    if (!p->domain) {
        p->domain = xstrdup(domain ? domain : "");
        lower(p->domain);
    }
    char *local = xstrndup(addr, llen);
    size_t cut = r->delim && *r->delim && llen > 0 ? strcspn(local + 1, r->delim) + 1 : llen;
    if (cut < llen) {
        p->ext = xstrdup(local + cut + 1);
        local[cut] = 0;
        lower(local);
        p->base = xasprintf("%s@%s", local, p->domain);
        free(local);
        local = xstrndup(addr, llen);
    }
    lower(local);
    p->full = xasprintf("%s@%s", local, p->domain);
    free(local);
}

static bool is_postmaster(const struct parts *p)
{
    const char *addr = p->base ? p->base : p->full;
    return strncmp(addr, "postmaster@", 11) == 0;
}

static enum rcpt_class classify(struct resolver *r, const char *addr, bool aliases,
                                char **result, char **extension)
{
    *result = NULL;
    if (extension)
        *extension = NULL;
    struct parts p;
    split(r, addr, &p);
    enum rcpt_class cls = RCPT_UNKNOWN;
    int rc = *p.domain ? accounts_domain_exists(r->acc, p.domain) : 0;
    char *catchall = xasprintf("@%s", p.domain);
    if (rc <= 0)
        cls = rc < 0 ? RCPT_TEMPFAIL : RCPT_REMOTE;
    else if (aliases && (rc = alias_lookup(r, p.full, result)) != 0)
        cls = rc > 0 ? RCPT_ALIAS : RCPT_TEMPFAIL;
    else if ((rc = user_lookup(r, p.full)) != 0) {
        cls = rc > 0 ? RCPT_USER : RCPT_TEMPFAIL;
        if (rc > 0)
            *result = xstrdup(p.full);
    } else if (p.base && aliases && (rc = alias_lookup(r, p.base, result)) != 0)
        cls = rc > 0 ? RCPT_ALIAS : RCPT_TEMPFAIL;
    else if (p.base && (rc = user_lookup(r, p.base)) != 0) {
        cls = rc > 0 ? RCPT_USER : RCPT_TEMPFAIL;
        if (rc > 0) {
            *result = xstrdup(p.base);
            if (extension) {
                *extension = p.ext;
                p.ext = NULL;
            }
        }
    } else if (aliases && (rc = alias_lookup(r, catchall, result)) != 0)
        cls = rc > 0 ? RCPT_ALIAS : RCPT_TEMPFAIL;
    else if (aliases && is_postmaster(&p) && *config_str(r->cfg, PARAM(postmaster_recipient))) {
        /* RFC 5321 sec 4.5.1: every domain we serve must accept postmaster. */
        cls = RCPT_ALIAS;
        *result = xstrdup(config_str(r->cfg, PARAM(postmaster_recipient)));
    }
    if (cls != RCPT_USER && cls != RCPT_ALIAS) {
        free(*result);
        *result = NULL;
    }
    free(catchall);
    parts_free(&p);
    return cls;
}

int resolve_domain_is_ours(struct resolver *r, const char *addr)
{
    struct parts p;
    split(r, addr, &p);
    int rc = *p.domain ? accounts_domain_exists(r->acc, p.domain) : 0;
    parts_free(&p);
    return rc;
}

enum rcpt_class resolve_recipient(struct resolver *r, const char *addr, char **result,
                                  char **extension)
{
    return classify(r, addr, true, result, extension);
}

enum rcpt_class resolve_mailbox(struct resolver *r, const char *addr, char **result,
                                char **extension)
{
    return classify(r, addr, false, result, extension);
}

/* One token of an alias value: "<a@b>", "a@b" or "local". */
static int alias_target(const char *alias, const char *tok,
                        int (*fn)(void *ctx, const char *target, bool supported), void *ctx)
{
    size_t len = strlen(tok);
    char *t = len >= 2 && tok[0] == '<' && tok[len - 1] == '>' ? xstrndup(tok + 1, len - 2) : xstrdup(tok);
    bool supported = !(t[0] == '|' || t[0] == '/' || strncasecmp(t, ":include:", 9) == 0 ||
                       !*t || strpbrk(t, "\"\\<>()[];"));
    if (supported && !strchr(t, '@')) {
        const char *at = strrchr(alias, '@');
        char *q = xasprintf("%s%s", t, at ? at : "");
        free(t);
        t = q;
    }
    int r = fn(ctx, t, supported);
    free(t);
    return r;
}

int resolve_alias_targets(const char *alias, const char *value,
                          int (*fn)(void *ctx, const char *target, bool supported), void *ctx,
                          size_t *count)
{
    char *copy = xstrdup(value), *save = NULL;
    size_t n = 0;
    int r = 0;
    for (char *tok = strtok_r(copy, ", \t\r\n", &save); tok && r == 0;
         tok = strtok_r(NULL, ", \t\r\n", &save), n++)
        r = alias_target(alias, tok, fn, ctx);
    free(copy);
    if (count)
        *count = n;
    return r;
}
