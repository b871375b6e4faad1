/* dns_check_txt.c - the DKIM and DMARC checks of `posthorn dns check` (see dns_check.h),
 * and the lookup of one TXT record by its prefix that they and SPF share:
 *   dkim   each key in dkim_key_directory against SELECTOR._domainkey.DOMAIN: the
 *          published k= and p= must be the key's (RFC 6376 sec 3.6.1);
 *   dmarc  exactly one "v=DMARC1" record at _dmarc.DOMAIN with a valid tag list (RFC 7489
 *          sec 6.3, 6.4): p (required), sp, adkim, aspf, pct, fo, rf, ri, rua, ruf;
 *   tls-rpt  at most one "v=TLSRPTv1" record at _smtp._tls.DOMAIN, with rua= a list of
 *          mailto: or https: URIs (RFC 8460 sec 3). */
#include "dns_check.h"
#include "dkim.h"
#include "mem.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RECORDS 16

char *dc_one_record(struct check_ctx *x, const char *name, const char *prefix,
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
    char *rec = dc_one_record(x, name, "v=DMARC1", &why), *p = rec ? tag_value(rec, "p") : NULL;
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

/* --- TLS reporting --- */

static bool rua_ok(const char *v)
{
    char *copy = xstrdup(v), *save = NULL;
    bool ok = *v != 0;
    for (char *u = strtok_r(copy, ",", &save); u && ok; u = strtok_r(NULL, ",", &save))
        ok = (strncasecmp(u, "mailto:", 7) == 0 && strchr(u + 7, '@') && u[7] != '@') ||
             (strncasecmp(u, "https://", 8) == 0 && u[8]);
    free(copy);
    return ok;
}

void dc_tls_rpt(struct check_ctx *x)
{
    struct buf why = BUF_INIT;
    char *name = xasprintf("_smtp._tls.%s", x->domain);
    char *rec = dc_one_record(x, name, "v=TLSRPTv1", &why);
    char *rua = rec ? tag_value(rec, "rua") : NULL;
    if (!rec && strncmp(buf_cstr(&why), "no ", 3) == 0) /* optional: absent is no error */
        dc_add(x, "tls-rpt", V_WARN, "%s: nobody reports TLS failures to %s (RFC 8460)",
               buf_cstr(&why), x->domain);
    else if (!rec)
        dc_add(x, "tls-rpt", V_FAIL, "%s", buf_cstr(&why));
    else if (!rua || !rua_ok(rua))
        dc_add(x, "tls-rpt", V_FAIL, "\"%s\": rua is not a list of mailto: or https: URIs "
               "(RFC 8460 sec 3)", rec);
    else
        dc_add(x, "tls-rpt", V_OK, "\"%s\"", rec);
    free(rec), free(rua), free(name);
    buf_free(&why);
}
