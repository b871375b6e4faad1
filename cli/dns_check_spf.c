/* dns_check_spf.c - the SPF check of `posthorn dns check` (see dns_check.h): exactly one
 * "v=spf1" record (RFC 7208 sec 4.5), every term in the grammar of sec 12, and at most 10
 * terms that cause DNS lookups (include, a, mx, ptr, exists, redirect), counted through
 * every include and redirect (sec 4.6.4); an include or redirect target without exactly
 * one SPF record is an error (sec 5.2). Macros are checked for their syntax only. */
#include "dns_check.h"
#include "mem.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SPF_LOOKUP_LIMIT 10 /* RFC 7208 sec 4.6.4 */

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
    char *rec = dc_one_record(w->x, domain, "v=spf1", &why);
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
    char *rec = dc_one_record(x, x->domain, "v=spf1", &why);
    if (!rec) {
        dc_add(x, "spf", V_FAIL, "%s", buf_cstr(&why));
    } else if (!spf_terms(&w, x->domain, rec)) {
        dc_add(x, "spf", V_FAIL, "%s (\"%s\")", buf_cstr(&w.err), rec);
    } else if (w.lookups > SPF_LOOKUP_LIMIT) {
        dc_add(x, "spf", V_FAIL, "%u DNS-querying terms with includes and redirects, more than "
                  "the %d of RFC 7208 sec 4.6.4: receivers get a permerror (\"%s\")", w.lookups,
                  SPF_LOOKUP_LIMIT, rec);
    } else {
        if (w.ptr)
            dc_add(x, "spf", V_WARN, "\"%s\": the ptr mechanism should not be used (RFC 7208 "
                   "sec 5.5); %u of %d DNS lookups", rec, w.lookups, SPF_LOOKUP_LIMIT);
        else
            dc_add(x, "spf", V_OK, "\"%s\": %u of %d DNS lookups%s", rec, w.lookups,
                   SPF_LOOKUP_LIMIT, w.macros ? " (macros not expanded)" : "");
        dc_spf_hosts(x);
    }
    free(rec);
    buf_free(&why);
    buf_free(&w.err);
}

