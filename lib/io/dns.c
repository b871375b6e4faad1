/* dns.c - asynchronous DNS lookups on libunbound and the event loop (see dns.h). */
#include "dns.h"
#include "dns_decode.h"
#include "mem.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>
#include <unistd.h>

#define RR_TYPE_A 1
#define RR_TYPE_PTR 12
#define RR_TYPE_MX 15
#define RR_TYPE_TXT 16
#define RR_TYPE_AAAA 28
#define RR_TYPE_TLSA 52
#define RR_CLASS_IN 1

struct dns {
    struct event_loop *loop;
    struct ub_ctx *ub;
    int fd;
    long timeout_ms;           /* dns_set_timeout(); 0: libunbound's own */
    struct dns_query *queries; /* pending, doubly linked */
};

struct dns_query;

/* One libunbound query of a lookup (an MX lookup becomes A and AAAA queries when the domain
 * has no MX records). */
struct sub_query {
    struct dns_query *q;
    int id;
    bool active;
    enum dns_type type;
};

struct dns_query {
    struct dns *d;
    struct dns_query *prev, *next;
    dns_fn cb;
    void *ctx;
    char name[DNS_NAME_MAX];
    struct sub_query sub[2];
    struct dns_result res;
    enum dns_status addr_status[2]; /* implicit MX: outcome of the A and AAAA queries */
    bool implicit_phase, delivering;
    unsigned long timer;            /* the lookup's deadline (0: none) */
};

const char *dns_type_name(enum dns_type type)
{
    static const char *const names[] = {"MX", "A", "AAAA", "TXT", "PTR", "TLSA"};
    return (unsigned)type < sizeof names / sizeof names[0] ? names[type] : "?";
}

const char *dns_status_name(enum dns_status status)
{
    static const char *const names[] = {"ok", "no data", "no such domain", "temporary failure",
                                        "DNSSEC validation failure"};
    return (unsigned)status < sizeof names / sizeof names[0] ? names[status] : "?";
}

static int rr_type(enum dns_type t)
{
    switch (t) {
    case DNS_MX: return RR_TYPE_MX;
    case DNS_A: return RR_TYPE_A;
    case DNS_AAAA: return RR_TYPE_AAAA;
    case DNS_TXT: return RR_TYPE_TXT;
    case DNS_PTR: return RR_TYPE_PTR;
    case DNS_TLSA: return RR_TYPE_TLSA;
    }
    return 0;
}

/* --- the context --- */

static void on_readable(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct dns *d = ctx;
    (void)ub_process(d->ub); /* non-blocking: delivers what has arrived */
}

/* With one forwarder, every name goes to it: libunbound's built-in local zones (RFC 6761
 * names such as .test and .invalid, the loopback reverse zone) would answer some names
 * itself, differently from the forwarder that dns_resolver names (and that the tests'
 * loopback server is). */
static int forward_everything(struct ub_ctx *ub, const char **what)
{
    static const char *const zones[] = {"test.", "invalid.", "127.in-addr.arpa.", "onion.",
                                        "home.arpa.", "local."};
    int r = 0;
    for (size_t i = 0; i < sizeof zones / sizeof zones[0] && r == 0; i++) {
        char value[64];
        snprintf(value, sizeof value, "%s transparent", zones[i]);
        if ((r = ub_ctx_set_option(ub, "local-zone:", value)) != 0)
            *what = zones[i];
    }
    return r;
}

/* "system": the name servers of /etc/resolv.conf; without that file, the one on this host,
 * as resolv.conf(5) and the C library's resolver take it (a container, a chroot). */
static int system_resolvers(struct ub_ctx *ub)
{
    if (access("/etc/resolv.conf", F_OK) != 0 && errno == ENOENT)
        return ub_ctx_set_fwd(ub, "127.0.0.1");
    return ub_ctx_resolvconf(ub, NULL);
}

static bool configure(struct ub_ctx *ub, const char *resolver, const char *trust_anchor,
                      char **err)
{
    int r;
    const char *what = resolver;
    /* A forwarder or a resolv.conf entry on loopback (a local resolver) must be usable. */
    if ((r = ub_ctx_set_option(ub, "do-not-query-localhost:", "no")) != 0)
        what = "do-not-query-localhost";
    /* Records come in the server's order; randomizing equal MX preferences is the caller's
     * job (RFC 5321 sec 5.1), not a side effect of libunbound's rotation. */
    else if ((r = ub_ctx_set_option(ub, "rrset-roundrobin:", "no")) != 0)
        what = "rrset-roundrobin";
    else if (strcmp(resolver, "system") == 0)
        r = system_resolvers(ub);
    else if (!*resolver || strspn(resolver, "0123456789abcdefABCDEF.:@") != strlen(resolver))
        r = UB_SYNTAX;
    else if ((r = ub_ctx_set_fwd(ub, resolver)) == 0)
        r = forward_everything(ub, &what);
    if (r == 0 && trust_anchor) {
        what = trust_anchor; /* libunbound reads it only at the first lookup: check now */
        r = access(trust_anchor, R_OK) == 0 ? ub_ctx_add_ta_file(ub, trust_anchor) : UB_READFILE;
    }
    if (r == 0 && (r = ub_ctx_async(ub, 1)) != 0)
        what = "async mode";
    if (r != 0) {
        *err = xasprintf("DNS resolver %s: %s", what,
                         r == UB_READFILE ? strerror(errno) : ub_strerror(r));
        return false;
    }
    return true;
}

struct dns *dns_new(struct event_loop *loop, const char *resolver, const char *trust_anchor,
                    char **err)
{
    struct ub_ctx *ub = ub_ctx_create();
    if (!ub) {
        *err = xstrdup("DNS: cannot create a libunbound context");
        return NULL;
    }
    if (!configure(ub, resolver, trust_anchor, err)) {
        ub_ctx_delete(ub);
        return NULL;
    }
    struct dns *d = xcalloc(1, sizeof *d);
    d->loop = loop;
    d->ub = ub;
    d->fd = ub_fd(ub);
    if (d->fd < 0 || event_add(loop, d->fd, EPOLLIN, on_readable, d) < 0) {
        *err = xasprintf("DNS: cannot watch the libunbound descriptor: %s", strerror(errno));
        ub_ctx_delete(ub);
        free(d);
        return NULL;
    }
    return d;
}

static void free_rrs(struct dns_rr *rr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(rr[i].data);
    free(rr);
}

static void query_free(struct dns_query *q)
{
    dns_result_release(&q->res);
    free(q);
}

static void unlink_query(struct dns_query *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else
        q->d->queries = q->next;
    if (q->next)
        q->next->prev = q->prev;
    q->prev = q->next = NULL;
}

static void cancel_subs(struct dns_query *q)
{
    for (int i = 0; i < 2; i++)
        if (q->sub[i].active) {
            (void)ub_cancel(q->d->ub, q->sub[i].id);
            q->sub[i].active = false;
        }
    event_timer_cancel(q->d->loop, q->timer);
    q->timer = 0;
}

void dns_cancel(struct dns_query *q)
{
    if (!q || q->delivering)
        return;
    cancel_subs(q);
    unlink_query(q);
    query_free(q);
}

void dns_free(struct dns *d)
{
    if (!d)
        return;
    while (d->queries)
        dns_cancel(d->queries);
    event_del(d->loop, d->fd);
    ub_ctx_delete(d->ub);
    free(d);
}

/* --- decoding records --- */

/* A wire-format name at p[*off..len) into presentation form (no final dot; "." for the
 * root). Compression pointers are refused (libunbound hands out uncompressed rdata), and so
 * are bytes that have no business in a host name (controls, space, '.', '\\' in a label).
 * Returns false when the name is malformed or too long for out. */
static bool wire_name(const unsigned char *p, size_t len, size_t *off, char *out, size_t outsize)
{
    size_t o = 0, i = *off;
    for (;;) {
        if (i >= len || (p[i] & 0xc0) != 0)
            return false;
        size_t l = p[i++];
        if (l == 0)
            break;
        if (i + l > len || o + l + 2 > outsize)
            return false;
        if (o > 0)
            out[o++] = '.';
        for (size_t k = 0; k < l; k++) {
            unsigned char c = p[i + k];
            if (c <= ' ' || c >= 127 || c == '.' || c == '\\')
                return false;
            out[o++] = (char)c;
        }
        i += l;
    }
    if (o == 0)
        out[o++] = '.';
    out[o] = 0;
    *off = i;
    return true;
}

static bool decode_mx(const unsigned char *p, size_t len, struct dns_rr *rr)
{
    size_t off = 2;
    if (len < 3)
        return false;
    rr->pref = (unsigned)p[0] << 8 | p[1];
    return wire_name(p, len, &off, rr->name, sizeof rr->name) && off == len;
}

static bool decode_ptr(const unsigned char *p, size_t len, struct dns_rr *rr)
{
    size_t off = 0;
    return wire_name(p, len, &off, rr->name, sizeof rr->name) && off == len;
}

static bool decode_addr(int family, const unsigned char *p, size_t len, struct dns_rr *rr)
{
    if (len != (family == AF_INET ? 4u : 16u))
        return false;
    return inet_ntop(family, p, rr->addr, sizeof rr->addr) != NULL;
}

/* TXT: the character-strings of one record joined without separator (RFC 7208 sec 3.3). */
static bool decode_txt(const unsigned char *p, size_t len, struct dns_rr *rr)
{
    rr->data = xmalloc(len + 1);
    for (size_t i = 0; i < len;) {
        size_t l = p[i++];
        if (i + l > len)
            return false;
        memcpy(rr->data + rr->len, p + i, l);
        rr->len += l;
        i += l;
    }
    rr->data[rr->len] = 0;
    return true;
}

static bool decode_tlsa(const unsigned char *p, size_t len, struct dns_rr *rr)
{
    if (len < 4)
        return false;
    rr->usage = p[0];
    rr->selector = p[1];
    rr->mtype = p[2];
    rr->len = len - 3;
    rr->data = xmalloc(rr->len);
    memcpy(rr->data, p + 3, rr->len);
    return true;
}

static bool decode(enum dns_type t, const unsigned char *p, size_t len, struct dns_rr *rr)
{
    switch (t) {
    case DNS_MX: return decode_mx(p, len, rr);
    case DNS_A: return decode_addr(AF_INET, p, len, rr);
    case DNS_AAAA: return decode_addr(AF_INET6, p, len, rr);
    case DNS_TXT: return decode_txt(p, len, rr);
    case DNS_PTR: return decode_ptr(p, len, rr);
    case DNS_TLSA: return decode_tlsa(p, len, rr);
    }
    return false;
}

/* Append the decodable records of r to *rrs; malformed ones are skipped. */
static void collect(enum dns_type t, const struct ub_result *r, struct dns_rr **rrs, size_t *n)
{
    size_t count = 0;
    while (r->data[count])
        count++;
    *rrs = xreallocarray(*rrs, *n + count + 1, sizeof **rrs);
    for (size_t i = 0; i < count; i++) {
        struct dns_rr *rr = &(*rrs)[*n];
        memset(rr, 0, sizeof *rr);
        if (r->len[i] >= 0 && decode(t, (const unsigned char *)r->data[i], (size_t)r->len[i], rr))
            (*n)++;
        else
            free(rr->data);
    }
}

/* Status of one libunbound answer; error text into res->error. */
static enum dns_status answer_status(int err, const struct ub_result *r, struct dns_result *res)
{
    if (err != 0) {
        snprintf(res->error, sizeof res->error, "%s", ub_strerror(err));
        return DNS_TEMPFAIL;
    }
    if (r->bogus) {
        snprintf(res->error, sizeof res->error, "%s",
                 r->why_bogus ? r->why_bogus : "DNSSEC validation failed");
        return DNS_BOGUS;
    }
    if (r->nxdomain)
        return DNS_NXDOMAIN;
    if (r->rcode != 0) {
        snprintf(res->error, sizeof res->error, "server answered with rcode %d%s", r->rcode,
                 r->rcode == 2 ? " (server failure)" : r->rcode == 5 ? " (refused)" : "");
        return DNS_TEMPFAIL;
    }
    return r->havedata ? DNS_OK : DNS_NODATA;
}

/* --- MX specifics --- */

/* A stable insertion sort by preference: equal preferences keep DNS order. */
static void sort_by_pref(struct dns_rr *rr, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct dns_rr x = rr[i];
        size_t j = i;
        for (; j > 0 && rr[j - 1].pref > x.pref; j--)
            rr[j] = rr[j - 1];
        rr[j] = x;
    }
}

/* RFC 7505: "0 ." means no mail; "." at another preference names no host and is dropped;
 * the rest is sorted by preference. */
static void finish_mx_list(struct dns_result *res)
{
    size_t kept = 0;
    for (size_t i = 0; i < res->n; i++) {
        if (strcmp(res->rr[i].name, ".") != 0) {
            res->rr[kept++] = res->rr[i];
            continue;
        }
        res->null_mx |= res->rr[i].pref == 0;
        free(res->rr[i].data);
    }
    res->n = kept;
    if (res->null_mx) {
        free_rrs(res->rr, res->n);
        res->rr = NULL;
        res->n = 0;
        return;
    }
    sort_by_pref(res->rr, res->n);
    if (res->n == 0) { /* MX records, but none usable: no implicit MX then */
        res->status = DNS_NODATA;
        snprintf(res->error, sizeof res->error, "no usable MX record");
    }
}

/* Combine the A and AAAA outcomes into the implicit MX of RFC 5321 sec 5.1. */
static void finish_implicit_mx(struct dns_query *q)
{
    struct dns_result *res = &q->res;
    if (res->naddr > 0) {
        res->status = DNS_OK;
        res->implicit_mx = true;
        res->rr = xcalloc(1, sizeof *res->rr);
        res->n = 1;
        snprintf(res->rr[0].name, sizeof res->rr[0].name, "%s", q->name);
        return;
    }
    enum dns_status a = q->addr_status[0], aaaa = q->addr_status[1];
    if (a == DNS_BOGUS || aaaa == DNS_BOGUS)
        res->status = DNS_BOGUS;
    else if (a == DNS_TEMPFAIL || aaaa == DNS_TEMPFAIL)
        res->status = DNS_TEMPFAIL;
    else if (a == DNS_NXDOMAIN && aaaa == DNS_NXDOMAIN)
        res->status = DNS_NXDOMAIN;
    else
        res->status = DNS_NODATA;
}

static bool start_sub(struct dns_query *q, int slot, enum dns_type type, char **err);

/* The domain has no MX records: look for its addresses instead. */
static bool start_implicit(struct dns_query *q)
{
    char *err = NULL;
    q->implicit_phase = true;
    if (start_sub(q, 0, DNS_A, &err) && start_sub(q, 1, DNS_AAAA, &err))
        return true;
    snprintf(q->res.error, sizeof q->res.error, "%s", err);
    free(err);
    if (q->sub[0].active)
        (void)ub_cancel(q->d->ub, q->sub[0].id);
    q->sub[0].active = false;
    q->res.status = DNS_TEMPFAIL;
    return false;
}

/* --- decoding one answer (dns_decode.h) --- */

void dns_decode(enum dns_type type, int err, const struct ub_result *r, struct dns_result *res)
{
    enum dns_status st = answer_status(err, r, res);
    res->status = st;
    res->secure = err == 0 && r && r->secure;
    if (st == DNS_OK)
        collect(type, r, &res->rr, &res->n);
    if (type == DNS_MX && st == DNS_OK)
        finish_mx_list(res);
}

void dns_result_release(struct dns_result *res)
{
    free_rrs(res->rr, res->n);
    free_rrs(res->addr, res->naddr);
    res->rr = res->addr = NULL;
    res->n = res->naddr = 0;
}

/* --- delivering results --- */

static void deliver(struct dns_query *q)
{
    event_timer_cancel(q->d->loop, q->timer);
    q->timer = 0;
    unlink_query(q);
    q->delivering = true;
    q->cb(&q->res, q->ctx);
    query_free(q);
}

static void on_answer(void *mydata, int err, struct ub_result *r)
{
    struct sub_query *sub = mydata;
    struct dns_query *q = sub->q;
    struct dns_result *res = &q->res;
    sub->active = false;
    bool secure = err == 0 && r && r->secure;
    if (!q->implicit_phase) {
        dns_decode(sub->type, err, r, res);
        if (r)
            ub_resolve_free(r);
        if (sub->type == DNS_MX && res->status == DNS_NODATA && start_implicit(q))
            return;
        deliver(q);
        return;
    }
    int slot = (int)(sub - q->sub);
    q->addr_status[slot] = answer_status(err, r, res);
    res->secure = res->secure && secure;
    if (q->addr_status[slot] == DNS_OK)
        collect(sub->type, r, &res->addr, &res->naddr);
    if (r)
        ub_resolve_free(r);
    if (!q->sub[0].active && !q->sub[1].active) {
        finish_implicit_mx(q);
        deliver(q);
    }
}

static bool start_sub(struct dns_query *q, int slot, enum dns_type type, char **err)
{
    struct sub_query *sub = &q->sub[slot];
    sub->q = q;
    sub->type = type;
    int r = ub_resolve_async(q->d->ub, q->name, rr_type(type), RR_CLASS_IN, sub, on_answer,
                             &sub->id);
    if (r != 0) {
        *err = xasprintf("DNS %s lookup of %s: %s", dns_type_name(type), q->name, ub_strerror(r));
        return false;
    }
    sub->active = true;
    return true;
}

/* The deadline passed (a forwarder that does not answer: libunbound would retry for
 * about half a minute): a temporary failure now, whatever part of the answer came. */
static void on_timeout(struct event_loop *loop, void *ctx)
{
    struct dns_query *q = ctx;
    q->timer = 0;
    cancel_subs(q);
    dns_result_release(&q->res);
    q->res.status = DNS_TEMPFAIL;
    q->res.secure = q->res.null_mx = q->res.implicit_mx = false;
    snprintf(q->res.error, sizeof q->res.error, "no answer within %ld s",
             (q->d->timeout_ms + 999) / 1000);
    deliver(q);
}

void dns_set_timeout(struct dns *d, long ms) { d->timeout_ms = ms > 0 ? ms : 0; }

/* --- starting lookups --- */

/* The in-addr.arpa or ip6.arpa name of a numeric address; false if name is not one. */
static bool reverse_name(const char *name, char *out, size_t outsize)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, name, a) == 1) {
        snprintf(out, outsize, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
        return true;
    }
    if (inet_pton(AF_INET6, name, a) != 1)
        return false;
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 15; i >= 0 && o + 4 < outsize; i--) {
        out[o++] = hex[a[i] & 15];
        out[o++] = '.';
        out[o++] = hex[a[i] >> 4];
        out[o++] = '.';
    }
    snprintf(out + o, outsize - o, "ip6.arpa");
    return true;
}

static bool valid_query_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= DNS_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] <= ' ' || (unsigned char)name[i] >= 127 || name[i] == '\\')
            return false;
    return true;
}

struct dns_query *dns_lookup(struct dns *d, enum dns_type type, const char *name, dns_fn cb,
                             void *ctx, char **err)
{
    if ((unsigned)type > DNS_TLSA || !valid_query_name(name)) {
        *err = xasprintf("DNS lookup: unusable name \"%.*s\"", DNS_NAME_MAX, name);
        return NULL;
    }
    struct dns_query *q = xcalloc(1, sizeof *q);
    q->d = d;
    q->cb = cb;
    q->ctx = ctx;
    if (type != DNS_PTR || !reverse_name(name, q->name, sizeof q->name))
        snprintf(q->name, sizeof q->name, "%s", name);
    q->res.type = type;
    q->res.qname = q->name;
    q->res.secure = true; /* until an answer says otherwise */
    if (!start_sub(q, 0, type, err)) {
        free(q);
        return NULL;
    }
    if (d->timeout_ms)
        q->timer = event_timer(d->loop, d->timeout_ms, on_timeout, q);
    q->next = d->queries;
    if (d->queries)
        d->queries->prev = q;
    d->queries = q;
    return q;
}
