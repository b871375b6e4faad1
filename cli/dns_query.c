/* dns_query.c - waited-for lookups for `posthorn dns check` (see dns_query.h). */
#include "dns_query.h"
#include "config.h"
#include "https_get.h"
#include "mem.h"
#include "tls.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int dnsq_open(struct cli *c, struct dnsq *r, char **err)
{
    struct config *cfg = cli_config(c);
    const char *ta = config_str(cfg, PARAM(dns_trust_anchor_file));
    const char *ca = config_str(cfg, PARAM(smtp_tls_CAfile));
    const char *cadir = config_str(cfg, PARAM(smtp_tls_CApath));
    memset(r, 0, sizeof *r);
    if (https_global_init(err) < 0)
        return -1;
    r->tls = tls_client_context(*ca ? ca : NULL, *cadir ? cadir : NULL, "TLSv1.2", err);
    if (!r->tls)
        return -1;
    r->loop = event_loop_new();
    r->validating = *ta && access(ta, R_OK) == 0;
    r->fetch_timeout_ms = (long)config_int(cfg, PARAM(smtp_mta_sts_fetch_timeout)) * 1000;
    r->max_size = (size_t)config_int(cfg, PARAM(smtp_mta_sts_policy_size_limit));
    r->dns = dns_new(r->loop, config_str(cfg, PARAM(dns_resolver)), r->validating ? ta : NULL, err);
    if (!r->dns || !(r->https = https_new(r->loop, err))) {
        dnsq_close(r);
        return -1;
    }
    dns_set_timeout(r->dns, config_int(cfg, PARAM(dns_timeout)) * 1000L);
    return 0;
}

void dnsq_close(struct dnsq *r)
{
    https_free(r->https);
    dns_free(r->dns);
    if (r->loop)
        event_loop_free(r->loop);
    if (r->tls)
        SSL_CTX_free(r->tls);
    memset(r, 0, sizeof *r);
}

struct waiting {
    struct event_loop *loop;
    bool done;
    struct answer *a;
    char *body, *err;
    size_t len;
};

static void copy_rrs(const struct dns_rr *in, size_t n, struct answer *a)
{
    a->rr = xcalloc(n ? n : 1, sizeof *a->rr);
    for (size_t i = 0; i < n; i++) {
        a->rr[i] = in[i];
        a->rr[i].data = NULL;
        if (in[i].data) {
            a->rr[i].data = xmalloc(in[i].len + 1);
            memcpy(a->rr[i].data, in[i].data, in[i].len);
            a->rr[i].data[in[i].len] = 0;
        }
    }
    a->n = n;
}

static void on_answer(const struct dns_result *res, void *ctx)
{
    struct waiting *w = ctx;
    struct answer *a = w->a;
    a->status = res->status;
    a->secure = res->secure;
    a->null_mx = res->null_mx;
    memcpy(a->error, res->error, sizeof a->error);
    if (res->implicit_mx) /* addresses are asked for separately */
        a->status = DNS_NODATA;
    else
        copy_rrs(res->rr, res->n, a);
    w->done = true;
    event_stop(w->loop);
}

void dnsq_lookup(struct dnsq *r, enum dns_type type, const char *name, struct answer *out)
{
    struct waiting w = {.loop = r->loop, .a = out};
    char *err = NULL;
    memset(out, 0, sizeof *out);
    if (!dns_lookup(r->dns, type, name, on_answer, &w, &err)) {
        out->status = DNS_NXDOMAIN;
        snprintf(out->error, sizeof out->error, "%s", err);
        free(err);
        return;
    }
    while (!w.done)
        event_run(r->loop);
}

void answer_free(struct answer *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->rr[i].data);
    free(a->rr);
    memset(a, 0, sizeof *a);
}

size_t answer_txt(const struct answer *a, const char *prefix, const char **out, size_t max)
{
    size_t k = 0, pl = strlen(prefix);
    for (size_t i = 0; a->status == DNS_OK && i < a->n && k < max; i++) {
        const char *t = (const char *)a->rr[i].data;
        if (t && strncasecmp(t, prefix, pl) == 0)
            out[k++] = t;
    }
    return k;
}

static void on_policy(const struct sts_fetch_result *res, void *ctx)
{
    struct waiting *w = ctx;
    if (res->ok) {
        w->body = xmalloc(res->len + 1);
        memcpy(w->body, res->body, res->len);
        w->body[res->len] = 0;
        w->len = res->len;
    } else {
        w->err = xstrdup(res->error);
    }
    w->done = true;
    event_stop(w->loop);
}

int dnsq_fetch_policy(struct dnsq *r, const char *domain, char **body, size_t *len,
                          char **err)
{
    struct waiting w = {.loop = r->loop};
    struct sts_fetch_params p = {.trust = SSL_CTX_get_cert_store(r->tls),
                                 .timeout_ms = r->fetch_timeout_ms, .max_size = r->max_size};
    if (!sts_fetch_start(r->dns, r->https, domain, &p, on_policy, &w, err))
        return -1;
    while (!w.done)
        event_run(r->loop);
    *body = w.body;
    *len = w.len;
    *err = w.err;
    return w.body ? 0 : -1;
}
