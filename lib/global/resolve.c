/* resolve.c - recipient classification (see resolve.h).
 *
 * Order of checks for local@domain (domain one of ours), with extension "ext" split off
 * at the first recipient_delimiter character (never at the first character):
 *   1. alias "local+ext@domain"      (the full address)
 *   2. user  "local+ext@domain"
 *   3. alias "local@domain"          (without the extension)
 *   4. user  "local@domain"
 *   5. alias "local+ext"             (local-part keys, aliases(5) style: only in the
 *   6. alias "local"                  domains of alias_local_part_domains, every domain of
 *                                     ours when it is empty; never before a mailbox or an
 *                                     address key, so "info: admin" in a shared aliases
 *                                     file hides no customer's info@ mailbox)
 *   7. alias "@domain"               (catch-all: only when no user matched, so a catch-all
 *                                     never swallows the mail of an existing mailbox)
 * Alias tables are tried in alias_maps order; the first table with the key wins. A table
 * whose compiled file does not exist holds no aliases (it is opened once it appears); a
 * table that exists but cannot be read makes every lookup RCPT_TEMPFAIL, as does an
 * account database error. */
#include "resolve.h"
#include "alias_value.h"
#include "idn.h"
#include "log.h"
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
    bool acc_lent;    /* acc belongs to the caller (resolver_open_shared) */
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

static struct resolver *open_with(struct config *cfg, struct accounts *acc, char **err)
{
    struct resolver *r = xcalloc(1, sizeof *r);
    r->cfg = cfg;
    r->delim = config_str(cfg, PARAM(recipient_delimiter));
    r->acc_lent = acc != NULL;
    r->acc = acc ? acc : accounts_open(cfg, false, err);
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

struct resolver *resolver_open(struct config *cfg, char **err)
{
    return open_with(cfg, NULL, err);
}

struct resolver *resolver_open_shared(struct config *cfg, struct accounts *acc, char **err)
{
    return open_with(cfg, acc, err);
}

void resolver_close(struct resolver *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nmaps; i++)
        map_close(r->maps[i].m);
    free(r->maps);
    if (!r->acc_lent)
        accounts_close(r->acc);
    free(r);
}

struct accounts *resolver_accounts(struct resolver *r) { return r->acc; }
struct config *resolver_config(struct resolver *r) { return r->cfg; }

/* What the caller learns of a table hit besides the value (hit may be NULL). */
static void note_hit(struct alias_map *am, const char *key, struct alias_hit *hit)
{
    if (!hit)
        return;
    hit->key = xstrdup(key);
    hit->from_table = true;
    hit->local_part = !strchr(key, '@');
    if (map_file_owner(am->m, &hit->owner, &hit->mode) < 0) {
        hit->owner = (uid_t)-1; /* unknown: trusted by no one */
        hit->mode = 0777;
    }
}

/* 1 found (*value), 0 not found, -1 a table could not be read. */
static int alias_lookup(struct resolver *r, const char *key, char **value, struct alias_hit *hit)
{
    for (size_t i = 0; i < r->nmaps; i++) {
        struct alias_map *am = &r->maps[i];
        if (!am->m && time(NULL) != am->last_try)
            try_open(am, NULL);
        if (!am->m) {
            if (am->open_errno == ENOENT)
                continue;
            log_warn("%s: cannot open the alias table: %s", am->spec, strerror(am->open_errno));
            return -1;
        }
        char *err = NULL;
        int rc = map_lookup(am->m, key, value, &err);
        if (rc < 0)
            log_warn("%s: lookup of \"%s\": %s", am->spec, key, err ? err : "failed");
        free(err);
        if (rc > 0)
            note_hit(am, key, hit);
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
    if (rc < 0)
        log_warn("account database: lookup of %s: %s", addr, err ? err : "failed");
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
    char *local_full, *local_base; /* the local parts of full and base (local-part keys) */
};

static void parts_free(struct parts *p)
{
    free(p->domain);
    free(p->full);
    free(p->base);
    free(p->ext);
    free(p->local_full);
    free(p->local_base);
}

/* Do local-part keys apply in domain (alias_local_part_domains)? */
static bool local_keys_apply(struct resolver *r, const char *domain)
{
    size_t n;
    config_list(r->cfg, PARAM(alias_local_part_domains), &n);
    return n == 0 || config_list_has(r->cfg, PARAM(alias_local_part_domains), domain);
}

/* Steps 5 and 6 of the order above. */
static int local_part_lookup(struct resolver *r, const struct parts *p, char **value,
                             struct alias_hit *hit)
{
    if (!local_keys_apply(r, p->domain))
        return 0;
    int rc = alias_lookup(r, p->local_full, value, hit);
    if (rc == 0 && p->local_base)
        rc = alias_lookup(r, p->local_base, value, hit);
    return rc;
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
    p->local_full = xstrndup(p->full, strlen(p->full) - strlen(p->domain) - 1);
    if (p->base)
        p->local_base = xstrndup(p->base, strlen(p->base) - strlen(p->domain) - 1);
}

static bool is_postmaster(const struct parts *p)
{
    const char *addr = p->base ? p->base : p->full;
    return strncmp(addr, "postmaster@", 11) == 0;
}

static enum rcpt_class classify(struct resolver *r, const char *addr, bool aliases,
                                char **result, char **extension, struct alias_hit *hit)
{
    *result = NULL;
    if (extension)
        *extension = NULL;
    struct parts p;
    split(r, addr, &p);
    enum rcpt_class cls = RCPT_UNKNOWN;
    int rc = *p.domain ? accounts_domain_exists(r->acc, p.domain) : 0;
    char *catchall = xasprintf("@%s", p.domain);
    if (rc < 0)
        log_warn("account database: lookup of the domain %s failed", p.domain);
    if (rc <= 0)
        cls = rc < 0 ? RCPT_TEMPFAIL : RCPT_REMOTE;
    else if (aliases && (rc = alias_lookup(r, p.full, result, hit)) != 0)
        cls = rc > 0 ? RCPT_ALIAS : RCPT_TEMPFAIL;
    else if ((rc = user_lookup(r, p.full)) != 0) {
        cls = rc > 0 ? RCPT_USER : RCPT_TEMPFAIL;
        if (rc > 0)
            *result = xstrdup(p.full);
    } else if (p.base && aliases && (rc = alias_lookup(r, p.base, result, hit)) != 0)
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
    } else if (aliases && (rc = local_part_lookup(r, &p, result, hit)) != 0)
        cls = rc > 0 ? RCPT_ALIAS : RCPT_TEMPFAIL;
    else if (aliases && (rc = alias_lookup(r, catchall, result, hit)) != 0)
        cls = rc > 0 ? RCPT_ALIAS : RCPT_TEMPFAIL;
    else if (aliases && is_postmaster(&p) && *config_str(r->cfg, PARAM(postmaster_recipient))) {
        /* RFC 5321 sec 4.5.1: every domain we serve must accept postmaster. */
        cls = RCPT_ALIAS;
        *result = xstrdup(config_str(r->cfg, PARAM(postmaster_recipient)));
        if (hit)
            hit->key = xstrdup(p.base ? p.base : p.full);
    }
    if (cls != RCPT_USER && cls != RCPT_ALIAS) {
        free(*result);
        *result = NULL;
    }
    if (hit && cls != RCPT_ALIAS)
        alias_hit_free(hit);
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
    return classify(r, addr, true, result, extension, NULL);
}

enum rcpt_class resolve_alias(struct resolver *r, const char *addr, char **result,
                              struct alias_hit *hit)
{
    memset(hit, 0, sizeof *hit);
    return classify(r, addr, true, result, NULL, hit);
}

void alias_hit_free(struct alias_hit *hit)
{
    free(hit->key);
    memset(hit, 0, sizeof *hit);
}

enum rcpt_class resolve_mailbox(struct resolver *r, const char *addr, char **result,
                                char **extension)
{
    return classify(r, addr, false, result, extension, NULL);
}

/* One target of an alias value (lib/global/alias_value.h): an address or a mailbox ("\user")
 * qualified with the alias's domain when it has none, anything else as written. */
static int alias_target(const char *alias, const struct alias_target *t,
                        int (*fn)(void *ctx, const char *target, bool supported), void *ctx)
{
    bool supported = t->kind == ALIAS_ADDRESS || t->kind == ALIAS_MAILBOX;
    const char *at = strrchr(alias, '@');
    char *q = supported && !strchr(t->text, '@') ? xasprintf("%s%s", t->text, at ? at : "")
            : t->kind == ALIAS_COMMAND ? xasprintf("|%s", t->text)
            : t->kind == ALIAS_INCLUDE ? xasprintf(":include:%s", t->text)
                                       : xstrdup(t->text);
    int r = fn(ctx, q, supported);
    free(q);
    return r;
}

int resolve_alias_targets(const char *alias, const char *value,
                          int (*fn)(void *ctx, const char *target, bool supported), void *ctx,
                          size_t *count)
{
    struct alias_list l = {0};
    char *err = NULL;
    alias_value_parse(value, &l, &err); /* on an error, the targets before it */
    free(err);
    int r = 0;
    size_t n = 0;
    for (; n < l.n && r == 0; n++)
        r = alias_target(alias, &l.v[n], fn, ctx);
    alias_list_free(&l);
    if (count)
        *count = n;
    return r;
}
