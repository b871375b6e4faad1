/* sts_fetch.c - the MTA-STS policy fetch: addresses, then HTTPS (see sts_fetch.h). One
 * timer bounds the whole fetch, DNS included. */
#include "sts_fetch.h"
#include "mem.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STS_PATH "/.well-known/mta-sts.txt"
#define MAX_ADDRS 8

struct sts_fetch {
    struct dns *dns;
    struct https *https;
    struct event_loop *loop;
    struct sts_fetch_params p;
    sts_fetch_fn cb;
    void *ctx;
    char host[DNS_NAME_MAX];
    struct dns_query *q[2]; /* A, AAAA */
    enum dns_status st[2];
    char addrs[MAX_ADDRS][INET6_ADDRSTRLEN];
    size_t naddrs;
    unsigned outstanding;
    struct https_get *get;
    unsigned long timer;
    char *early; /* an error found while starting, reported from the loop */
};

void sts_fetch_cancel(struct sts_fetch *f)
{
    if (!f)
        return;
    for (int i = 0; i < 2; i++)
        dns_cancel(f->q[i]);
    https_cancel(f->get);
    if (f->timer)
        event_timer_cancel(f->loop, f->timer);
    free(f->early);
    free(f);
}

static void finish(struct sts_fetch *f, const struct https_result *hr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish(struct sts_fetch *f, const struct https_result *hr, const char *fmt, ...)
{
    struct sts_fetch_result r = {0};
    if (hr && hr->ok) {
        r.ok = true;
        r.body = hr->body;
        r.len = hr->len;
    } else {
        va_list ap;
        va_start(ap, fmt);
        int n = snprintf(r.error, sizeof r.error, "%s: ", f->host);
        vsnprintf(r.error + n, sizeof r.error - (size_t)n, fmt, ap);
        va_end(ap);
    }
    f->get = NULL; /* the https handle ends with its callback */
    f->q[0] = f->q[1] = NULL;
    f->cb(&r, f->ctx);
    sts_fetch_cancel(f);
}

static void on_https(const struct https_result *hr, void *ctx)
{
    struct sts_fetch *f = ctx;
    finish(f, hr, "%s", hr->error);
}

static void start_https(struct sts_fetch *f)
{
    const char *list[MAX_ADDRS];
    for (size_t i = 0; i < f->naddrs; i++)
        list[i] = f->addrs[i];
    struct https_get_params hp = {.host = f->host, .path = STS_PATH, .addrs = list,
                                  .naddrs = f->naddrs, .trust = f->p.trust,
                                  .timeout_ms = f->p.timeout_ms, .max_size = f->p.max_size,
                                  .media_type = "text/plain"};
    char *err = NULL;
    f->get = https_get(f->https, &hp, on_https, f, &err);
    if (!f->get) {
        finish(f, NULL, "%s", err);
        free(err);
    }
}

static void on_addr(const struct dns_result *r, void *ctx)
{
    struct sts_fetch *f = ctx;
    int k = r->type == DNS_A ? 0 : 1;
    f->q[k] = NULL;
    f->st[k] = r->status;
    for (size_t i = 0; r->status == DNS_OK && i < r->n && f->naddrs < MAX_ADDRS; i++)
        snprintf(f->addrs[f->naddrs++], INET6_ADDRSTRLEN, "%s", r->rr[i].addr);
    if (--f->outstanding > 0)
        return;
    if (f->naddrs == 0)
        finish(f, NULL, "no address (A: %s, AAAA: %s)", dns_status_name(f->st[0]),
               dns_status_name(f->st[1]));
    else
        start_https(f);
}

static void on_timeout(struct event_loop *loop, void *ctx)
{
    struct sts_fetch *f = ctx;
    f->timer = 0;
    if (f->early) {
        char *e = f->early;
        f->early = NULL;
        finish(f, NULL, "%s", e);
        free(e);
        return;
    }
    for (int i = 0; i < 2; i++)
        dns_cancel(f->q[i]);
    https_cancel(f->get);
    finish(f, NULL, "policy fetch timed out after %ld ms", f->p.timeout_ms);
}

struct sts_fetch *sts_fetch_start(struct dns *dns, struct https *https, const char *domain,
                                  const struct sts_fetch_params *p, sts_fetch_fn cb, void *ctx,
                                  char **err)
{
    static const enum dns_type types[2] = {DNS_A, DNS_AAAA};
    struct sts_fetch *f = xcalloc(1, sizeof *f);
    f->dns = dns;
    f->https = https;
    f->loop = https_loop(https);
    f->p = *p;
    f->cb = cb;
    f->ctx = ctx;
    if ((size_t)snprintf(f->host, sizeof f->host, "mta-sts.%s", domain) >= sizeof f->host) {
        *err = xasprintf("mta-sts.%.200s: name too long", domain);
        free(f);
        return NULL;
    }
    f->outstanding = 1;
    for (int k = 0; k < 2 && !f->early; k++) {
        f->q[k] = dns_lookup(dns, types[k], f->host, on_addr, f, &f->early);
        f->outstanding += f->q[k] != NULL;
    }
    if (f->early) { /* reported from the loop like every outcome */
        for (int k = 0; k < 2; k++)
            dns_cancel(f->q[k]);
        f->q[0] = f->q[1] = NULL;
        f->timer = event_timer(f->loop, 0, on_timeout, f);
        return f;
    }
    f->outstanding--;
    f->timer = event_timer(f->loop, p->timeout_ms, on_timeout, f);
    return f;
}
