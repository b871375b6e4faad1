/* dns_check_spf_eval.c - does the domain's SPF record let this host send? `posthorn dns
 * check` evaluates it for each sending address as a receiver would (RFC 7208 sec 4.6, 5):
 * the first mechanism that matches gives its qualifier's result; ip4, ip6, a, mx, include
 * (its pass is a match; fail, softfail and neutral are not; anything else is an error),
 * exists and all are evaluated, redirect when nothing matched. What a receiver's macros or
 * the ptr mechanism would give is not known here: the answer is then "cannot tell" rather
 * than a guess. Called by dns_check_spf.c once the record's syntax and lookup count are
 * right, so the recursion is bounded by those checks (and by a depth limit). */
#include "dns_check.h"
#include "mem.h"
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EVAL_DEPTH_MAX 10

enum spf_result { R_NONE, R_NEUTRAL, R_PASS, R_FAIL, R_SOFTFAIL, R_UNKNOWN };

static const char *const result_names[] = {"none", "neutral", "pass", "fail", "softfail",
                                           "cannot tell"};

struct eval {
    struct check_ctx *x;
    int family;
    unsigned char ip[16];
    unsigned depth;
    char decided[300]; /* the term that decided */
};

static enum spf_result eval_domain(struct eval *e, const char *domain);

/* Are the first bits of a and b equal? */
static bool prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
    int bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)bytes) != 0)
        return false;
    return rest == 0 || ((a[bytes] ^ b[bytes]) & (0xff << (8 - rest))) == 0;
}

static bool addr_in(const struct eval *e, const char *text, int bits)
{
    unsigned char a[16];
    return inet_pton(e->family, text, a) == 1 && prefix_match(a, e->ip, bits);
}

/* The prefix lengths of "/n//m" (a, mx) or "/n" (ip4, ip6) after a mechanism. */
static int cidr_for(const struct eval *e, const char *rest)
{
    int v4 = 32, v6 = 128;
    if (rest[0] == '/' && rest[1] != '/')
        v4 = atoi(rest + 1);
    const char *six = strstr(rest, "//");
    if (six)
        v6 = atoi(six + 2);
    return e->family == AF_INET ? v4 : v6;
}

/* Does host have an address of our family within bits of ours? */
static int host_match(struct eval *e, const char *host, int bits)
{
    struct answer a;
    dnsq_lookup(&e->x->r, e->family == AF_INET ? DNS_A : DNS_AAAA, host, &a);
    int m = a.status == DNS_TEMPFAIL || a.status == DNS_BOGUS ? -1 : 0;
    for (size_t i = 0; a.status == DNS_OK && i < a.n && m == 0; i++)
        m = addr_in(e, a.rr[i].addr, bits);
    answer_free(&a);
    return m;
}

static int mx_match(struct eval *e, const char *domain, int bits)
{
    struct answer a;
    dnsq_lookup(&e->x->r, DNS_MX, domain, &a);
    int m = a.status == DNS_TEMPFAIL || a.status == DNS_BOGUS ? -1 : 0;
    for (size_t i = 0; a.status == DNS_OK && i < a.n && i < 10 && m == 0; i++) /* sec 4.6.4 */
        m = host_match(e, a.rr[i].name, bits);
    answer_free(&a);
    return m;
}

/* 1 the mechanism matches, 0 it does not, -1 no telling. */
static int mechanism(struct eval *e, const char *domain, const char *t)
{
    size_t n = strcspn(t, ":/");
    char target[300];
    const char *arg = t[n] == ':' ? t + n + 1 : NULL, *rest = arg ? arg + strcspn(arg, "/") : t + n;
    snprintf(target, sizeof target, "%.*s", arg ? (int)(rest - arg) : (int)strlen(domain),
             arg ? arg : domain);
    bool macro = strchr(target, '%') != NULL;
#define IS(name) (n == strlen(name) && strncasecmp(t, name, n) == 0)
    if (IS("all"))
        return 1;
    if (IS("ip4") || IS("ip6")) {
        if ((e->family == AF_INET) != IS("ip4"))
            return 0;
        const char *slash = strchr(arg, '/');
        char addr[64];
        snprintf(addr, sizeof addr, "%.*s", slash ? (int)(slash - arg) : (int)strlen(arg), arg);
        return addr_in(e, addr, slash ? atoi(slash + 1) : (e->family == AF_INET ? 32 : 128));
    }
    if (macro || IS("ptr"))
        return -1;
    if (IS("a"))
        return host_match(e, target, cidr_for(e, rest));
    if (IS("mx"))
        return mx_match(e, target, cidr_for(e, rest));
    if (IS("exists")) {
        struct answer a;
        dnsq_lookup(&e->x->r, DNS_A, target, &a);
        int m = a.status == DNS_OK ? 1 : a.status == DNS_NXDOMAIN || a.status == DNS_NODATA ? 0 : -1;
        answer_free(&a);
        return m;
    }
    if (IS("include")) {
        enum spf_result r = eval_domain(e, target);
        return r == R_PASS ? 1 : r == R_FAIL || r == R_SOFTFAIL || r == R_NEUTRAL ? 0 : -1;
    }
#undef IS
    return -1;
}

static enum spf_result qualified(char q)
{
    return q == '-' ? R_FAIL : q == '~' ? R_SOFTFAIL : q == '?' ? R_NEUTRAL : R_PASS;
}

static enum spf_result eval_record(struct eval *e, const char *domain, const char *rec)
{
    char *copy = xstrdup(rec), *save = NULL, *redirect = NULL;
    enum spf_result r = R_NEUTRAL; /* sec 4.7: nothing matched, no redirect */
    bool decided = false;
    for (char *t = strtok_r(copy + 6, " ", &save); t && !decided; t = strtok_r(NULL, " ", &save)) {
        if (strncasecmp(t, "redirect=", 9) == 0)
            redirect = t + 9;
        size_t mod = strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");
        if (mod > 0 && t[mod] == '=') /* a modifier */
            continue;
        char q = strchr("+-~?", *t) ? *t : '+';
        int m = mechanism(e, domain, t + (q == *t));
        if (m != 0) {
            decided = true;
            r = m < 0 ? R_UNKNOWN : qualified(q);
            snprintf(e->decided, sizeof e->decided, "\"%s\" of %s", t, domain);
        }
    }
    if (!decided && redirect) {
        char *target = xstrdup(redirect);
        r = strchr(target, '%') ? R_UNKNOWN : eval_domain(e, target);
        r = r == R_NONE ? R_UNKNOWN : r; /* sec 6.1: a redirect to nothing is a permerror */
        free(target);
    }
    free(copy);
    return r;
}

static enum spf_result eval_domain(struct eval *e, const char *domain)
{
    if (++e->depth > EVAL_DEPTH_MAX)
        return R_UNKNOWN;
    struct buf why = BUF_INIT;
    char *rec = dc_one_record(e->x, domain, "v=spf1", &why);
    enum spf_result r = rec ? eval_record(e, domain, rec) : R_NONE;
    free(rec);
    buf_free(&why);
    e->depth--;
    return r;
}

void dc_spf_hosts(struct check_ctx *x)
{
    for (size_t i = 0; i < x->addrs.n; i++) {
        const char *addr = x->addrs.v[i];
        struct eval e = {.x = x, .family = strchr(addr, ':') ? AF_INET6 : AF_INET};
        if (inet_pton(e.family, addr, e.ip) != 1)
            continue;
        char *name = xasprintf("spf %s", addr);
        enum spf_result r = eval_domain(&e, x->domain);
        const char *why = e.decided[0] ? e.decided : "nothing matched";
        if (r == R_PASS)
            dc_add(x, name, V_OK, "pass (%s)", why);
        else if (r == R_FAIL)
            dc_add(x, name, V_FAIL, "fail (%s): receivers that check SPF refuse mail from this host",
                   why);
        else
            dc_add(x, name, V_WARN, "%s (%s): mail from this host is not authorized by SPF",
                   result_names[r], why);
        free(name);
    }
}
