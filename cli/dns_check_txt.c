/* dns_check_txt.c - the TXT-record checks of `posthorn dns check` (see dns_check.h):
 *   spf    exactly one "v=spf1" record (RFC 7208 sec 4.5), every term in the grammar of sec
 *          12, and at most 10 terms that cause DNS lookups (include, a, mx, ptr, exists,
 *          redirect), counted through every include and redirect (sec 4.6.4); an include
 *          target without an SPF record is an error (sec 5.2);
 *   dkim   each key in dkim_key_directory against SELECTOR._domainkey.DOMAIN: the
 *          published k= and p= must be the key's (RFC 6376 sec 3.6.1);
 *   dmarc  exactly one "v=DMARC1" record at _dmarc.DOMAIN with a valid tag list (RFC 7489
 *          sec 6.3, 6.4): p (required), sp, adkim, aspf, pct, fo, rf, ri, rua, ruf. */
#include "dns_check.h"
#include "dkim.h"
#include "mem.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SPF_LOOKUP_LIMIT 10 /* RFC 7208 sec 4.6.4 */
#define MAX_RECORDS 16

/* Exactly one TXT record at name starting with prefix + (space or end): a copy, or NULL
 * with why. */
static char *one_record(struct check_ctx *x, const char *name, const char *prefix,
                        struct buf *why)
{
    struct answer a;
    const char *found[MAX_RECORDS];
    dnsq_lookup(&x->r, DNS_TXT, name, &a);
    size_t n = answer_txt(&a, prefix, found, MAX_RECORDS), k = 0;
    for (size_t i = 0; i < n; i++) { /* "v=spf10" is not "v=spf1" */
        char next = found[i][strlen(prefix)];
        if (next == 0 || next == ' ' || next == ';' || next == '\t')
            found[k++] = found[i];
    }
    char *rec = NULL;
    if (k == 1)
        rec = xstrdup(found[0]);
    else if (k > 1)
        buf_printf(why, "%zu records start with \"%s\" (there must be one)", k, prefix);
    else
        buf_printf(why, "no \"%s\" record at %s (%s)", prefix, name,
                   a.status == DNS_OK ? "only other TXT records" : dc_dns_why(&a));
    answer_free(&a);
    return rec;
}

/* --- SPF --- */

struct spf_walk {
    struct check_ctx *x;
    unsigned lookups;
    bool macros, ptr;
    struct buf err;
};

static bool spf_record_of(struct spf_walk *w, const char *domain);

/* domain-spec (RFC 7208 sec 7.1): a macro-string ending in a domain name; macros are
 * checked for their syntax only (what they expand to is the receiver's business). */
static bool domain_spec(struct spf_walk *w, const char *s)
{
    if (!*s)
        return false;
    if (strchr(s, '%')) {
        w->macros = true;
        for (const char *p = s; (p = strchr(p, '%')); p++) {
            if (p[1] == '%' || p[1] == '_' || p[1] == '-') {
                p++;
            } else if (p[1] == '{' && strchr("slodiphcrtvSLODIPHCRTV", p[2]) && p[2] && strchr(p, '}')) {
                p = strchr(p, '}');
            } else {
                return false;
            }
        }
        return true;
    }
    size_t n = strlen(s), label = 0;
    if (n > 253 || s[n - 1] == '.' || s[0] == '.' || !strchr(s, '.'))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (isalnum(c) || c == '-' || c == '_') {
            label++;
        } else {
            return false;
        }
    }
    return strspn(strrchr(s, '.') + 1, "0123456789") < strlen(strrchr(s, '.') + 1);
}

/* "/n" and "//n" after a/mx (dual-cidr-length). */
static bool cidr(const char *s, int max4, int max6)
{
    for (int part = 0; *s && part < 2; part++) {
        bool six = s[0] == '/' && s[1] == '/';
        if (s[0] != '/' || (part == 1 && !six) || (max6 < 0 && six))
            return false;
        s += six ? 2 : 1;
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || !isdigit((unsigned char)*s) || v > (six ? max6 : max4) || (s[0] == '0' && end - s > 1))
            return false;
        s = end;
        if (six)
            break;
    }
    return *s == 0;
}

static bool ip_network(const char *s, int family)
{
    char addr[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    unsigned char buf[16];
    if (n == 0 || n >= sizeof addr)
        return false;
    memcpy(addr, s, n);
    addr[n] = 0;
    return inet_pton(family, addr, buf) == 1 && (!slash || cidr(slash, family == AF_INET ? 32 : 128, -1));
}

/* One directive; false (w->err) when it is not in the grammar or breaks a rule. */
static bool spf_mechanism(struct spf_walk *w, const char *t)
{
    if (strchr("+-~?", *t))
        t++;
    size_t n = strcspn(t, ":/");
    const char *arg = t[n] == ':' ? t + n + 1 : NULL, *rest = t + n;
    char spec[300];
    if (arg) {
        size_t al = strcspn(arg, "/");
        if (al >= sizeof spec)
            return false;
        memcpy(spec, arg, al);
        spec[al] = 0;
        rest = arg + al;
    }
#define IS(name) (n == strlen(name) && strncasecmp(t, name, n) == 0)
    if (IS("all"))
        return !arg && !*rest;
    if (IS("ip4") || IS("ip6"))
        return arg && ip_network(arg, IS("ip4") ? AF_INET : AF_INET6);
    if (IS("a") || IS("mx")) {
        w->lookups++;
        return (!arg || domain_spec(w, spec)) && cidr(rest, 32, 128);
    }
    if (IS("ptr")) {
        w->lookups++;
        w->ptr = true;
        return (!arg || domain_spec(w, spec)) && !*rest;
    }
    if (IS("exists")) {
        w->lookups++;
        return arg && domain_spec(w, spec) && !*rest;
    }
    if (IS("include")) {
        w->lookups++;
        if (!arg || *rest || !domain_spec(w, spec))
            return false;
        return strchr(spec, '%') || w->lookups > SPF_LOOKUP_LIMIT || spf_record_of(w, spec);
    }
#undef IS
    return false;
}

/* The terms of one record (after "v=spf1"); redirect is followed when there is no "all". */
static bool spf_terms(struct spf_walk *w, const char *domain, const char *rec)
{
    char *copy = xstrdup(rec), *save = NULL, *redirect = NULL;
    bool ok = true, all = false, exp = false;
    for (char *t = strtok_r(copy + 6, " ", &save); t && ok; t = strtok_r(NULL, " ", &save)) {
        size_t name = strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");
        if (isalpha((unsigned char)t[0]) && t[name] == '=') { /* a modifier */
            bool is_redirect = name == 8 && strncasecmp(t, "redirect", 8) == 0;
            bool is_exp = name == 3 && strncasecmp(t, "exp", 3) == 0;
            if ((is_redirect && redirect) || (is_exp && exp) ||
                ((is_redirect || is_exp) && !domain_spec(w, t + name + 1))) {
                buf_printf(&w->err, "%s: bad or repeated modifier \"%s\"", domain, t);
                ok = false;
            } else if (is_redirect) {
                redirect = t + name + 1;
            }
            exp |= is_exp;
            continue;
        }
        const char *m = t + (strchr("+-~?", *t) ? 1 : 0);
        all |= strncasecmp(m, "all", 3) == 0 && !m[3];
        if (!spf_mechanism(w, t)) {
            if (!w->err.len)
                buf_printf(&w->err, "%s: invalid term \"%s\"", domain, t);
            ok = false;
        }
    }
    if (ok && redirect && !all) { /* RFC 7208 sec 6.1: ignored when "all" is there */
        w->lookups++;
        ok = strchr(redirect, '%') || w->lookups > SPF_LOOKUP_LIMIT || spf_record_of(w, redirect);
    }
    free(copy);
    return ok;
}

static bool spf_record_of(struct spf_walk *w, const char *domain)
{
    struct buf why = BUF_INIT;
    char *rec = one_record(w->x, domain, "v=spf1", &why);
    bool ok = rec != NULL;
    if (!rec)
        buf_printf(&w->err, "%s: %s", domain, buf_cstr(&why));
    else
        ok = spf_terms(w, domain, rec);
    free(rec);
    buf_free(&why);
    return ok;
}

void dc_spf(struct check_ctx *x)
{
    struct spf_walk w = {.x = x};
    struct buf why = BUF_INIT;
    char *rec = one_record(x, x->domain, "v=spf1", &why);
    if (!rec) {
        dc_add(x, "spf", V_FAIL, "%s", buf_cstr(&why));
    } else if (!spf_terms(&w, x->domain, rec)) {
        dc_add(x, "spf", V_FAIL, "%s (\"%s\")", buf_cstr(&w.err), rec);
    } else if (w.lookups > SPF_LOOKUP_LIMIT) {
        dc_add(x, "spf", V_FAIL, "%u DNS-querying terms with includes and redirects, more than "
                  "the %d of RFC 7208 sec 4.6.4: receivers get a permerror (\"%s\")", w.lookups,
                  SPF_LOOKUP_LIMIT, rec);
    } else if (w.ptr) {
        dc_add(x, "spf", V_WARN, "\"%s\": the ptr mechanism should not be used (RFC 7208 sec "
                  "5.5); %u of %d DNS lookups", rec, w.lookups, SPF_LOOKUP_LIMIT);
    } else {
        dc_add(x, "spf", V_OK, "\"%s\": %u of %d DNS lookups%s", rec, w.lookups,
                  SPF_LOOKUP_LIMIT, w.macros ? " (macros not expanded)" : "");
    }
    free(rec);
    buf_free(&why);
    buf_free(&w.err);
}

/* --- DKIM --- */

/* The value of tag in a tag=value list (RFC 6376 sec 3.2), white space removed; NULL when
 * the tag is absent. */
static char *tag_value(const char *rec, const char *tag)
{
    size_t tl = strlen(tag);
    for (const char *p = rec; p && *p; p = strchr(p, ';'), p = p ? p + 1 : NULL) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (strncmp(p, tag, tl) != 0)
            continue;
        const char *q = p + tl;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q != '=')
            continue;
        struct buf v = BUF_INIT;
        for (q++; *q && *q != ';'; q++)
            if (!isspace((unsigned char)*q))
                buf_putc(&v, *q);
        return buf_steal(&v);
    }
    return NULL;
}

/* The key record at name: the one TXT record that starts with "v=DKIM1" or, as v= is
 * optional (RFC 6376 sec 3.6.1), has no v= and a p= tag. */
static char *dkim_record(struct check_ctx *x, const char *name, struct buf *why)
{
    struct answer a;
    dnsq_lookup(&x->r, DNS_TXT, name, &a);
    char *rec = NULL;
    size_t k = 0;
    for (size_t i = 0; a.status == DNS_OK && i < a.n; i++) {
        const char *t = (const char *)a.rr[i].data;
        char *v = tag_value(t, "v"), *p = tag_value(t, "p");
        bool key = v ? strncmp(t, "v=DKIM1", 7) == 0 && strcmp(v, "DKIM1") == 0 : p != NULL;
        if (key && k++ == 0)
            rec = xstrdup(t);
        free(v), free(p);
    }
    if (k > 1) {
        buf_printf(why, "%zu key records at %s (there must be one)", k, name);
        free(rec);
        rec = NULL;
    } else if (k == 0) {
        buf_printf(why, "no key record at %s (%s)", name,
                   a.status == DNS_OK ? "only other TXT records" : dc_dns_why(&a));
    }
    answer_free(&a);
    return rec;
}

static void dc_key(struct check_ctx *x, const struct dkim_keyfile *k)
{
    struct buf want = BUF_INIT, why = BUF_INIT;
    const char *type;
    unsigned bits;
    char *check = xasprintf("dkim %s", k->selector), *name = dkim_record_name(x->domain, k->selector);
    if (dkim_key_describe(k, &want, &type, &bits) < 0) {
        dc_add(x, check, V_FAIL, "cannot read the key %s (run as root)", k->path);
        goto out;
    }
    char *rec = dkim_record(x, name, &why);
    char *p = rec ? tag_value(rec, "p") : NULL, *kt = rec ? tag_value(rec, "k") : NULL;
    char *wp = tag_value(buf_cstr(&want), "p"), *wk = tag_value(buf_cstr(&want), "k");
    bool same = p && wp && strcmp(p, wp) == 0 && strcmp(kt ? kt : "rsa", wk ? wk : "rsa") == 0;
    const char *state = dkim_key_state_name(k->state);
    if (k->state == DKIM_KEY_RETIRED)
        dc_add(x, check, V_OK, "%s key (%s)%s", state, name,
                  rec ? ": still published; delete the record once its mail is delivered" : ": not published");
    else if (!rec)
        dc_add(x, check, k->state == DKIM_KEY_PENDING ? V_WARN : V_FAIL, "%s key: %s%s", state,
                  buf_cstr(&why), k->state == DKIM_KEY_PENDING ? " (publish it before activating)" : "");
    else if (p && !*p)
        dc_add(x, check, V_FAIL, "%s key: the record at %s is revoked (empty p=)", state, name);
    else if (!same)
        dc_add(x, check, V_FAIL, "%s key: the record at %s is not this key's public key "
                  "(%s %u bits in %s)", state, name, type, bits, k->path);
    else
        dc_add(x, check, V_OK, "%s key: %s matches the %s %u-bit key", state, name, type, bits);
    free(rec), free(p), free(kt), free(wp), free(wk);
out:
    free(check), free(name);
    buf_free(&want), buf_free(&why);
}

void dc_dkim(struct check_ctx *x)
{
    struct dkim_keylist l;
    if (dkim_keys_of(x->c, x->domain, &l) < 0) {
        dc_add(x, "dkim", V_FAIL, "cannot read dkim_key_directory");
        return;
    }
    if (l.n == 0)
        dc_add(x, "dkim", V_WARN, "no DKIM key for %s (posthorn dkim keygen %s)", x->domain, x->domain);
    for (size_t i = 0; i < l.n; i++)
        dc_key(x, &l.v[i]);
    dkim_keylist_free(&l);
}

/* --- DMARC --- */

static bool one_of(const char *v, const char *const *words)
{
    for (; *words; words++)
        if (strcasecmp(v, *words) == 0)
            return true;
    return false;
}

static bool uri_list(const char *v)
{
    char *copy = xstrdup(v), *save = NULL;
    bool ok = *v != 0;
    for (char *u = strtok_r(copy, ",", &save); u && ok; u = strtok_r(NULL, ",", &save))
        ok = strncasecmp(u, "mailto:", 7) == 0 && strchr(u + 7, '@') && u[7] != '@';
    free(copy);
    return ok;
}

static bool number_upto(const char *v, long max)
{
    char *end;
    long n = strtol(v, &end, 10);
    return *v && isdigit((unsigned char)*v) && !*end && n >= 0 && n <= max;
}

/* One tag; NULL when valid, else why. */
static const char *dmarc_tag(const char *tag, const char *v)
{
    static const char *const policies[] = {"none", "quarantine", "reject", NULL};
    static const char *const modes[] = {"r", "s", NULL};
    if (!strcmp(tag, "p") || !strcmp(tag, "sp"))
        return one_of(v, policies) ? NULL : "is not none, quarantine or reject";
    if (!strcmp(tag, "adkim") || !strcmp(tag, "aspf"))
        return one_of(v, modes) ? NULL : "is not r or s";
    if (!strcmp(tag, "pct"))
        return number_upto(v, 100) ? NULL : "is not 0 to 100";
    if (!strcmp(tag, "ri"))
        return number_upto(v, 4294967295L) ? NULL : "is not a number of seconds";
    if (!strcmp(tag, "rua") || !strcmp(tag, "ruf"))
        return uri_list(v) ? NULL : "is not a list of mailto: URIs";
    if (!strcmp(tag, "fo"))
        return *v && strspn(v, "01ds:") == strlen(v) ? NULL : "is not a list of 0, 1, d, s";
    if (!strcmp(tag, "rf"))
        return *v ? NULL : "is empty";
    return NULL; /* unknown tags are ignored (RFC 7489 sec 6.3) */
}

void dc_dmarc(struct check_ctx *x)
{
    struct buf why = BUF_INIT;
    char *name = xasprintf("_dmarc.%s", x->domain);
    char *rec = one_record(x, name, "v=DMARC1", &why), *p = rec ? tag_value(rec, "p") : NULL;
    const char *bad = NULL;
    char badtag[40] = "";
    for (const char *t = rec ? strchr(rec, ';') : NULL; t && !bad; t = strchr(t + 1, ';')) {
        const char *s = t + 1 + strspn(t + 1, " \t");
        size_t tl = strcspn(s, "= \t;");
        if (!*s) /* a final ";" */
            break;
        snprintf(badtag, sizeof badtag, "%.*s", (int)(tl < 30 ? tl : 30), s);
        char *v = tag_value(s, badtag);
        bad = !v ? "is not tag=value" : dmarc_tag(badtag, v);
        free(v);
    }
    if (!rec)
        dc_add(x, "dmarc", V_FAIL, "%s", buf_cstr(&why));
    else if (bad)
        dc_add(x, "dmarc", V_FAIL, "\"%s\": %s %s (RFC 7489 sec 6.3)", rec, badtag, bad);
    else if (!p)
        dc_add(x, "dmarc", V_FAIL, "\"%s\": no p= tag (RFC 7489 sec 6.3: required)", rec);
    else
        dc_add(x, "dmarc", V_OK, "\"%s\"%s", rec, strcasecmp(p, "none") == 0 ? " (p=none: monitoring only)" : "");
    free(rec), free(p), free(name);
    buf_free(&why);
}
