/* route.c - where a delivery goes (RFC 5321 sec 5.1, RFC 7505) and the addresses to try.
 *
 * The destination: transport_maps (an "smtp:NEXTHOP" entry for the recipient domain, or
 * for a parent domain as ".parent"), else relayhost, else the recipient domain. NEXTHOP
 * "[host]" or "[host]:port" names the host itself (its A/AAAA records, or a numeric
 * address); "host" or "host:port" is looked up as a mail domain (its MX records).
 *
 * MX resolution: the MX records in ascending preference, hosts of equal preference in a
 * random order (load spread); no MX records: the domain's own addresses (implicit MX, done
 * by lib/io/dns); the null MX "0 ." bounces at once with 5.1.10. An MX host named
 * $myhostname cuts the list at its preference: only better MX hosts remain (RFC 5321 sec
 * 5.1); an address that is one of ours is never connected to; when nothing remains the
 * mail "loops back to myself" (bounced, 5.4.6). An explicit [host] is never second-guessed
 * (a content filter on [127.0.0.1]:10025 is us, on purpose); a recipient domain that is an
 * address literal of ours is a loop (literal_domain). Each remaining host's A and
 * AAAA records are
 * looked up together; the addresses, host by host, become the targets, at most
 * smtp_mx_address_limit of them. DNS temporary failures defer, a name that does not exist
 * bounces (5.4.4). Every lookup goes through lib/io/dns on the loop. */
#include "smtpc.h"
#include "sts.h"
#include "idn.h"
#include "log.h"
#include "mem.h"
#include <arpa/inet.h>
#include <bsd/stdlib.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_MX_HOSTS 16

struct addr_query {
    struct route *rt;
    size_t host;
    enum dns_type type;
    struct dns_query *q;
    enum dns_status status;
    bool secure;
    char error[160];
    char (*addrs)[INET6_ADDRSTRLEN];
    size_t naddrs;
};

struct mx_host {
    char name[DNS_NAME_MAX];
    unsigned pref;
    struct addr_query aq[2]; /* A, AAAA */
};

struct route {
    struct delivery *d;
    struct dns_query *mxq;
    struct mx_host *h;
    size_t nh;
    unsigned outstanding;
    unsigned long timer;
    bool mx_secure; /* the MX answer was DNSSEC-validated (or there was no MX lookup) */
    bool self_skipped; /* an address of an MX host was one of ours */
    char *error; /* the MX lookup could not be started */
};

/* --- the plan: which destination --- */

/* "[host]:port", "[host]", "host:port" or "host" into d; false when malformed. */
static bool parse_nexthop(struct delivery *d, const char *spec)
{
    const char *p = spec, *end;
    d->dest_port = SMTP_PORT;
    d->use_mx = *p != '[';
    if (*p == '[') {
        end = strchr(p, ']');
        if (!end)
            return false;
        p++;
    } else {
        /* host:port, but an IPv6 address has colons of its own: only in brackets */
        end = strrchr(p, ':');
        if (!end || strchr(p, ':') != end)
            end = p + strlen(p);
    }
    size_t len = (size_t)(end - p);
    if (len == 0 || len >= sizeof d->dest_name)
        return false;
    memcpy(d->dest_name, p, len);
    d->dest_name[len] = 0;
    const char *rest = end + (*end == ']');
    if (*rest == ':') {
        char *e;
        long port = strtol(rest + 1, &e, 10);
        if (*e || port < 1 || port > 65535)
            return false;
        d->dest_port = (int)port;
    } else if (*rest) {
        return false;
    }
    for (char *q = d->dest_name; *q; q++) {
        if ((unsigned char)*q <= ' ' || *q == '[' || *q == ']')
            return false;
        *q = (char)tolower((unsigned char)*q);
    }
    return true;
}

/* The transport_maps entry for the domain or a parent ".parent"; NULL when none. */
static char *transport_entry(struct delivery *d, char **err)
{
    char *v = NULL;
    const char *dom = d->nexthop;
    if (maplist_lookup(d->sc->transport_maps, dom, &v, err) != 0)
        return v;
    for (const char *dot = strchr(dom, '.'); dot; dot = strchr(dot + 1, '.'))
        if (maplist_lookup(d->sc->transport_maps, dot, &v, err) != 0)
            return v;
    return NULL;
}

/* "smtp:NEXTHOP", "smtp:" or ":NEXTHOP" (Postfix's transport syntax). */
static int apply_transport(struct delivery *d, const char *entry, const char **spec, char **err)
{
    const char *colon = strchr(entry, ':');
    size_t tlen = colon ? (size_t)(colon - entry) : strlen(entry);
    if (tlen && !(tlen == 4 && strncmp(entry, "smtp", 4) == 0) &&
        !(tlen == 5 && strncmp(entry, "relay", 5) == 0)) {
        *err = xasprintf("transport_maps entry \"%s\" for %s: smtp-client handles only the "
                         "smtp transport", entry, d->nexthop);
        return -1;
    }
    *spec = colon && colon[1] ? colon + 1 : NULL;
    return 0;
}

static void lookup_tls_policy(struct delivery *d, const char *spec)
{
    static const char *const levels[] = {"none", "may", "encrypt", "dane", "verify", "secure"};
    char *v = NULL, *err = NULL;
    d->tls_level = d->sc->p.tls_level;
    const char *keys[] = {spec, d->nexthop};
    for (size_t i = 0; i < 2 && !v; i++) {
        if (keys[i] && maplist_lookup(d->sc->tls_policy_maps, keys[i], &v, &err) < 0) {
            log_warn("smtp_tls_policy_maps: %s", err);
            free(err);
            err = NULL;
        }
    }
    if (!v)
        return;
    d->tls_policy_entry = true; /* it decides, MTA-STS does not (doc/smtp-client.md) */
    size_t len = strcspn(v, " \t");
    bool known = false;
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (strlen(levels[i]) == len && strncasecmp(v, levels[i], len) == 0) {
            d->tls_level = (enum tls_level)i;
            known = true;
        }
    if (!known)
        log_warn("smtp_tls_policy_maps: unknown level \"%s\" for %s; using %s", v,
                 keys[0] ? keys[0] : d->nexthop, levels[d->tls_level]);
    free(v);
}

static void lookup_sasl(struct delivery *d, const char *spec)
{
    if (!d->sc->p.sasl_enable)
        return;
    char bracket[DNS_NAME_MAX + 2];
    snprintf(bracket, sizeof bracket, "[%s]", d->dest_name);
    const char *keys[] = {spec, bracket, d->dest_name, d->nexthop};
    char *v = NULL, *err = NULL;
    for (size_t i = 0; i < 4 && !v; i++) {
        if (keys[i] && maplist_lookup(d->sc->sasl_maps, keys[i], &v, &err) < 0) {
            log_warn("smtp_sasl_password_maps: %s", err);
            free(err);
            err = NULL;
        }
    }
    if (!v)
        return;
    char *colon = strchr(v, ':');
    if (colon && colon != v && colon[1]) {
        d->sasl_user = xstrndup(v, (size_t)(colon - v));
        d->sasl_pass = xstrdup(colon + 1);
    } else {
        log_warn("smtp_sasl_password_maps: the entry for %s is not user:password", d->dest_name);
    }
    explicit_bzero(v, strlen(v));
    free(v);
}

/* RFC 5321 sec 4.1.3: a recipient domain that is an address literal names the host itself.
 * Its IPv6 form carries the tag "IPv6:"; other tags name nothing this client can reach.
 * One of our own addresses would come back to us: 0, or -2 (permanent), -3 (a loop). */
static int literal_domain(struct delivery *d, char **err)
{
    unsigned char bin[16];
    if (strncmp(d->dest_name, "ipv6:", 5) == 0) {
        memmove(d->dest_name, d->dest_name + 5, strlen(d->dest_name + 5) + 1);
        if (inet_pton(AF_INET6, d->dest_name, bin) != 1) {
            *err = xasprintf("bad IPv6 address literal in %s", d->nexthop);
            return -2;
        }
    } else if (inet_pton(AF_INET, d->dest_name, bin) != 1) {
        *err = xasprintf("unsupported address literal %s", d->nexthop);
        return -2;
    }
    if (route_is_self(d->sc, d->dest_name)) {
        *err = xasprintf("mail for %s loops back to myself", d->nexthop);
        return -3;
    }
    return 0;
}

int route_plan(struct delivery *d, char **err)
{
    char *entry = transport_entry(d, err);
    const char *spec = NULL;
    if (!entry && *err)
        return -1;
    if (entry && apply_transport(d, entry, &spec, err) < 0) {
        free(entry);
        return -1;
    }
    if (!spec && *d->sc->p.relayhost)
        spec = d->sc->p.relayhost;
    d->dest_is_domain = !spec;
    bool ok = parse_nexthop(d, spec ? spec : d->nexthop);
    if (!ok) {
        *err = xasprintf("bad next hop \"%s\" for %s", spec ? spec : d->nexthop, d->nexthop);
        free(entry);
        return -1;
    }
    int lit = d->dest_is_domain && !d->use_mx ? literal_domain(d, err) : 0;
    if (lit < 0) {
        free(entry);
        return lit;
    }
    /* DNS knows only A-labels (RFC 5891): "bücher.example" is asked as "xn--bcher-kva...". */
    char *ascii = idn_domain_ascii(d->dest_name);
    if (!ascii) {
        *err = xasprintf("the domain %s is not a valid internationalized domain name",
                         d->dest_name);
        free(entry);
        return -2;
    }
    snprintf(d->dest_name, sizeof d->dest_name, "%s", ascii);
    free(ascii);
    snprintf(d->dest_key, sizeof d->dest_key, "%s%s%s:%d", d->use_mx ? "" : "[", d->dest_name,
             d->use_mx ? "" : "]", d->dest_port);
    lookup_tls_policy(d, spec);
    lookup_sasl(d, spec);
    free(entry);
    return 0;
}

/* --- this host --- */

static bool same_address(const char *a, const char *b)
{
    unsigned char x[16], y[16];
    if (inet_pton(AF_INET, a, x) == 1)
        return inet_pton(AF_INET, b, y) == 1 && memcmp(x, y, 4) == 0;
    if (inet_pton(AF_INET6, a, x) == 1)
        return inet_pton(AF_INET6, b, y) == 1 && memcmp(x, y, 16) == 0;
    return false;
}

bool route_is_self(struct smtpc *sc, const char *name)
{
    if (strcasecmp(name, sc->p.myhostname) == 0)
        return true;
    for (size_t i = 0; i < sc->nown_addrs; i++)
        if (same_address(name, sc->own_addrs[i]))
            return true;
    return false;
}

/* --- results of the route --- */

static void route_free(struct route *rt)
{
    if (!rt)
        return;
    dns_cancel(rt->mxq);
    for (size_t i = 0; i < rt->nh; i++)
        for (int k = 0; k < 2; k++) {
            dns_cancel(rt->h[i].aq[k].q);
            free(rt->h[i].aq[k].addrs);
        }
    if (rt->timer)
        event_timer_cancel(rt->d->sc->srv->loop, rt->timer);
    free(rt->h);
    free(rt->error);
    free(rt);
}

void route_cancel(struct delivery *d)
{
    route_free(d->route);
    d->route = NULL;
}

static void done(struct route *rt)
{
    struct delivery *d = rt->d;
    route_cancel(d);
    delivery_targets_ready(d);
}

static void fail(struct route *rt, int cls, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(struct route *rt, int cls, const char *dsn, const char *fmt, ...)
{
    va_list ap;
    struct buf b = BUF_INIT;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    delivery_all_result(rt->d, cls, dsn, buf_cstr(&b), NULL);
    buf_free(&b);
    done(rt);
}

/* MTA-STS holds MX hosts against the policy here, except where DANE may take a host
 * (level dane and a validated MX answer): delivery.c holds those once DANE said no. */
static bool sts_here(const struct delivery *d, bool mx_secure)
{
    return !(d->tls_level == TLSL_DANE && mx_secure);
}

/* The MTA-STS policy (enforce) allows none of the MX hosts: defer (RFC 8461 sec 4.2: never
 * a bounce before a newer policy could be seen). */
static void fail_sts(struct route *rt)
{
    char *why = sts_no_mx_reason(rt->d);
    fail(rt, 4, "4.7.5", "%s", why);
    free(why);
}

static void add_target(struct delivery *d, const char *host, const char *addr, unsigned pref,
                       bool dnssec, bool mx_secure)
{
    if (d->nt >= d->sc->p.mx_address_limit)
        return;
    d->t = xreallocarray(d->t, d->nt + 1, sizeof *d->t);
    struct target *t = &d->t[d->nt++];
    memset(t, 0, sizeof *t);
    snprintf(t->host, sizeof t->host, "%s", host);
    snprintf(t->addr, sizeof t->addr, "%s", addr);
    t->port = d->dest_port;
    t->pref = pref;
    t->dnssec = dnssec;
    t->sts_checked = sts_here(d, mx_secure);
}

/* The family order of one host's addresses: IPv4 first, IPv6 first, or random. */
static int first_family(const struct smtpc *sc)
{
    switch (sc->p.address_pref) {
    case PREF_IPV4: return 0;
    case PREF_IPV6: return 1;
    case PREF_ANY: break;
    }
    return (int)arc4random_uniform(2);
}

/* Status text as Postfix words it for a failed name lookup. */
static const char *not_found_text(enum dns_status st)
{
    switch (st) {
    case DNS_NXDOMAIN: return "Host not found";
    case DNS_NODATA: return "Host found but no data record of requested type";
    case DNS_BOGUS: return "DNSSEC validation failed";
    default: return "Host not found, try again";
    }
}

/* Every address lookup is back: targets in host order. */
static void addresses_done(struct route *rt)
{
    struct delivery *d = rt->d;
    struct smtpc *sc = d->sc;
    const struct addr_query *soft = NULL, *hard = NULL;
    for (size_t i = 0; i < rt->nh; i++) {
        struct mx_host *h = &rt->h[i];
        int f = first_family(sc);
        for (int k = 0; k < 2; k++) {
            const struct addr_query *aq = &h->aq[(f + k) % 2];
            for (size_t j = 0; j < aq->naddrs; j++)
                add_target(d, h->name, aq->addrs[j], h->pref, rt->mx_secure && aq->secure,
                           rt->mx_secure);
            if (aq->status == DNS_TEMPFAIL || aq->status == DNS_BOGUS)
                soft = soft ? soft : aq;
            else if (aq->status != DNS_OK)
                hard = hard ? hard : aq;
        }
    }
    if (d->nt > 0) {
        done(rt);
    } else if (rt->self_skipped) {
        fail(rt, 5, "5.4.6", "mail for %s loops back to myself", d->dest_name);
    } else if (soft) {
        fail(rt, 4, "4.4.3", "Host or domain name not found. Name service error for name=%s type=%s: %s%s%s",
             rt->h[soft->host].name, dns_type_name(soft->type), not_found_text(soft->status),
             soft->error[0] ? ": " : "", soft->error);
    } else {
        fail(rt, 5, "5.4.4", "Host or domain name not found. Name service error for name=%s type=%s: %s",
             hard ? rt->h[hard->host].name : d->dest_name, hard ? dns_type_name(hard->type) : "A",
             not_found_text(hard ? hard->status : DNS_NXDOMAIN));
    }
}

static void on_addr(const struct dns_result *r, void *ctx)
{
    struct addr_query *aq = ctx;
    struct route *rt = aq->rt;
    aq->q = NULL;
    aq->status = r->status;
    aq->secure = r->secure;
    snprintf(aq->error, sizeof aq->error, "%s", r->error);
    if (r->status == DNS_OK) {
        aq->addrs = xcalloc(r->n ? r->n : 1, sizeof *aq->addrs);
        for (size_t i = 0; i < r->n; i++) {
            if (rt->d->use_mx && route_is_self(rt->d->sc, r->rr[i].addr)) {
                rt->self_skipped = true; /* an MX host that is us: never mail ourselves */
                continue;
            }
            snprintf(aq->addrs[aq->naddrs++], INET6_ADDRSTRLEN, "%s", r->rr[i].addr);
        }
    }
    if (--rt->outstanding == 0)
        addresses_done(rt);
}

static void lookup_addresses(struct route *rt)
{
    static const enum dns_type types[2] = {DNS_A, DNS_AAAA};
    struct delivery *d = rt->d;
    rt->outstanding = 1; /* held until every query is started */
    for (size_t i = 0; i < rt->nh; i++)
        for (int k = 0; k < 2; k++) {
            struct addr_query *aq = &rt->h[i].aq[k];
            char *err = NULL;
            *aq = (struct addr_query){.rt = rt, .host = i, .type = types[k]};
            aq->q = dns_lookup(d->sc->dns, types[k], rt->h[i].name, on_addr, aq, &err);
            if (aq->q) {
                rt->outstanding++;
            } else {
                aq->status = DNS_NXDOMAIN; /* an unusable name: nothing to look up */
                snprintf(aq->error, sizeof aq->error, "%s", err);
                free(err);
            }
        }
    if (--rt->outstanding == 0)
        addresses_done(rt);
}

static void shuffle_equal_preferences(struct mx_host *h, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && h[j].pref == h[i].pref)
            j++;
        for (size_t k = j - 1; k > i; k--) { /* Fisher-Yates within [i, j) */
            size_t m = i + arc4random_uniform((uint32_t)(k - i + 1));
            struct mx_host tmp = h[k];
            h[k] = h[m];
            h[m] = tmp;
        }
        i = j;
    }
}

/* Hosts from the sorted MX list, cut at our own preference. false when we are the best. */
static bool take_mx_hosts(struct route *rt, const struct dns_result *r)
{
    struct smtpc *sc = rt->d->sc;
    unsigned cut = ~0u;
    for (size_t i = 0; i < r->n; i++)
        if (route_is_self(sc, r->rr[i].name) && r->rr[i].pref < cut)
            cut = r->rr[i].pref;
    rt->h = xcalloc(r->n ? r->n : 1, sizeof *rt->h);
    for (size_t i = 0; i < r->n && rt->nh < MAX_MX_HOSTS; i++) {
        if (r->rr[i].pref >= cut)
            break;
        if (sts_here(rt->d, rt->mx_secure) && !sts_mx_allowed(rt->d, r->rr[i].name))
            continue; /* RFC 8461 sec 4.1: enforce uses only the hosts the policy names */
        struct mx_host *h = &rt->h[rt->nh++];
        snprintf(h->name, sizeof h->name, "%s", r->rr[i].name);
        h->pref = r->rr[i].pref;
    }
    shuffle_equal_preferences(rt->h, rt->nh);
    return rt->nh > 0 || cut == ~0u;
}

static void on_mx(const struct dns_result *r, void *ctx)
{
    struct route *rt = ctx;
    struct delivery *d = rt->d;
    rt->mxq = NULL;
    if (r->status == DNS_TEMPFAIL || r->status == DNS_BOGUS) {
        fail(rt, 4, "4.4.3", "Host or domain name not found. Name service error for name=%s type=MX: %s%s%s",
             d->dest_name, not_found_text(r->status), r->error[0] ? ": " : "", r->error);
    } else if (r->status == DNS_NXDOMAIN || r->status == DNS_NODATA) {
        fail(rt, 5, "5.4.4", "Host or domain name not found. Name service error for name=%s type=%s: %s",
             d->dest_name, r->status == DNS_NXDOMAIN ? "MX" : "A", not_found_text(r->status));
    } else if (r->null_mx) {
        fail(rt, 5, "5.1.10", "Domain %s does not accept mail (nullMX)", d->dest_name);
    } else if (r->implicit_mx && sts_here(d, r->secure) && !sts_mx_allowed(d, d->dest_name)) {
        fail_sts(rt);
    } else if (r->implicit_mx) {
        for (size_t i = 0; i < r->naddr; i++)
            if (!route_is_self(d->sc, r->addr[i].addr))
                add_target(d, d->dest_name, r->addr[i].addr, 0, r->secure, r->secure);
        if (d->nt == 0)
            fail(rt, 5, "5.4.6", "mail for %s loops back to myself", d->dest_name);
        else
            done(rt);
    } else if ((rt->mx_secure = r->secure), !take_mx_hosts(rt, r)) {
        fail(rt, 5, "5.4.6", "mail for %s loops back to myself", d->dest_name);
    } else if (rt->nh == 0) {
        fail_sts(rt);
    } else {
        lookup_addresses(rt);
    }
}

static void on_numeric(struct event_loop *loop, void *ctx)
{
    struct route *rt = ctx;
    rt->timer = 0;
    struct delivery *d = rt->d;
    add_target(d, d->dest_name, d->dest_name, 0, false, false);
    done(rt);
}

static void on_bad_name(struct event_loop *loop, void *ctx)
{
    struct route *rt = ctx;
    rt->timer = 0;
    fail(rt, 4, "4.4.3", "Host or domain name not found. Name service error for name=%s type=MX: %s",
         rt->d->dest_name, rt->error);
}

void route_resolve(struct delivery *d)
{
    struct route *rt = xcalloc(1, sizeof *rt);
    unsigned char a[16];
    char *err = NULL;
    rt->d = d;
    d->route = rt;
    free(d->t);
    d->t = NULL;
    d->nt = d->next_t = 0;
    if (!d->use_mx && (inet_pton(AF_INET, d->dest_name, a) == 1 ||
                       inet_pton(AF_INET6, d->dest_name, a) == 1)) {
        rt->timer = event_timer(d->sc->srv->loop, 0, on_numeric, rt);
        return;
    }
    if (!d->use_mx) { /* [host]: its addresses, no MX */
        rt->mx_secure = true;
        rt->h = xcalloc(1, sizeof *rt->h);
        rt->nh = 1;
        snprintf(rt->h[0].name, sizeof rt->h[0].name, "%s", d->dest_name);
        lookup_addresses(rt);
        return;
    }
    rt->mxq = dns_lookup(d->sc->dns, DNS_MX, d->dest_name, on_mx, rt, &err);
    if (!rt->mxq) {
        /* from the loop, like every other outcome */
        log_warn("%s: %s", d->req.queue_id, err);
        rt->error = err;
        rt->timer = event_timer(d->sc->srv->loop, 0, on_bad_name, rt);
    }
}
