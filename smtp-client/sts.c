/* sts.c - the MTA-STS policy of a delivery (RFC 8461 sec 3, 5; see sts.h).
 *
 * Discovery (sec 3.1, 5.1): the _mta-sts.DOMAIN TXT records through lib/io/dns; exactly one
 * "v=STSv1" record gives the policy id. With an unexpired cached policy of that id, that
 * policy; with another id or none cached, a fetch (sec 3.3, lib/io/sts_fetch: TLS 1.2+, a
 * certificate for mta-sts.DOMAIN trusted by smtp_tls_CAfile/CApath or the system store, no
 * redirects, 200, text/plain, smtp_mta_sts_policy_size_limit) whose policy, parsed
 * strictly (lib/proto/mta_sts), replaces the cached one. A failed fetch is not repeated for
 * the same id for smtp_mta_sts_fetch_retry_delay (sec 3.3 suggests minutes). Without a
 * usable record (none, several, malformed, a DNS failure) or when the fetch fails, an
 * unexpired cached policy still applies (sec 5.1: a missing record does not remove it),
 * else none does.
 *
 * Application (sec 4, 5): "enforce" leaves out MX hosts that match no mx pattern (route.c
 * asks sts_mx_allowed) and raises the TLS level to verify: STARTTLS with a certificate that
 * chains to the trust store and names the MX host (session_tls.c); anything less defers,
 * never plaintext. "testing" changes nothing but logs what enforce would have refused.
 * "none" (or no policy) changes nothing. DANE first (sec 2): at level dane a host with
 * validated TLSA records is DANE's (dane.c) and the policy is not applied to it. */
#include "smtpc.h"
#include "sts.h"
#include "config.h"
#include "log.h"
#include "mem.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sts {
    struct smtpc *sc;
    struct sts_cache *cache;
    struct https *https;
    struct sts_fetch_params fp;
    long long retry_delay;
};

struct sts *sts_new(struct smtpc *sc, struct config *cfg)
{
    if (!config_bool(cfg, PARAM(smtp_mta_sts_enable)))
        return NULL;
    if (!sc->tls) {
        log_warn("MTA-STS: no TLS client context; MTA-STS policies are not applied");
        return NULL;
    }
    char *err = NULL;
    struct https *https = https_new(sc->srv->loop, &err);
    if (!https) {
        log_warn("MTA-STS: %s; MTA-STS policies are not applied", err);
        free(err);
        return NULL;
    }
    struct sts *st = xcalloc(1, sizeof *st);
    st->sc = sc;
    st->https = https;
    st->fp = (struct sts_fetch_params){
        .trust = SSL_CTX_get_cert_store(sc->tls),
        .timeout_ms = (long)config_int(cfg, PARAM(smtp_mta_sts_fetch_timeout)) * 1000,
        .max_size = (size_t)config_int(cfg, PARAM(smtp_mta_sts_policy_size_limit))};
    st->retry_delay = config_int(cfg, PARAM(smtp_mta_sts_fetch_retry_delay));
    st->cache = sts_cache_new(sc, cfg);
    return st;
}

unsigned sts_busy(const struct sts *st)
{
    return st ? sts_cache_writes(st->cache) : 0;
}

bool sts_applies(const struct delivery *d)
{
    return d->sc->sts && d->use_mx && d->dest_is_domain && !d->tls_policy_entry;
}

/* --- the policy a delivery uses --- */

static void describe_mx(const struct mta_sts_policy *p, struct buf *b)
{
    for (size_t i = 0; i < p->nmx; i++)
        buf_printf(b, "%s%s", i ? " " : "", p->mx[i]);
}

/* d takes a copy of e's policy when it is unexpired, else goes on without one. */
static void use_entry(struct delivery *d, const struct sts_entry *e, time_t now)
{
    d->sts_wait = NULL;
    if (e && sts_entry_valid(e, now) && e->pol.mode != MTA_STS_NONE) {
        d->sts.mode = e->pol.mode;
        d->sts.max_age = e->pol.max_age;
        d->sts.mx = xcalloc(e->pol.nmx, sizeof *d->sts.mx);
        for (size_t i = 0; i < e->pol.nmx; i++)
            d->sts.mx[d->sts.nmx++] = xstrdup(e->pol.mx[i]);
        snprintf(d->sts_id, sizeof d->sts_id, "%s", e->id);
        log_debug("%s: MTA-STS policy of %s: mode=%s, id=%s", d->req.queue_id, d->dest_name,
                  mta_sts_mode_name(d->sts.mode), d->sts_id);
    }
    delivery_sts_ready(d);
}

static void unwait(struct delivery *d)
{
    struct sts_entry *e = d->sts_wait;
    if (!e)
        return;
    for (size_t i = 0; i < e->nwait; i++)
        if (e->wait[i] == d) {
            e->wait[i] = e->wait[--e->nwait];
            break;
        }
    d->sts_wait = NULL;
}

void sts_cancel(struct delivery *d)
{
    dns_cancel(d->sts_q);
    d->sts_q = NULL;
    unwait(d);
}

/* --- fetching --- */

static void fetched_policy(struct sts *st, struct sts_entry *e, const struct sts_fetch_result *r,
                           time_t now, char **why)
{
    struct mta_sts_policy pol;
    char *err = NULL;
    if (!r->ok) {
        *why = xstrdup(r->error);
    } else if (mta_sts_policy_parse(r->body, r->len, &pol, &err) < 0) {
        *why = xasprintf("mta-sts.%s: %s", e->domain, err);
        free(err);
    } else {
        struct buf mx = BUF_INIT;
        describe_mx(&pol, &mx);
        log_info("MTA-STS policy for %s: id=%s, mode=%s, max_age=%ld, mx=%s (fetched)", e->domain,
                 e->fetch_id, mta_sts_mode_name(pol.mode), pol.max_age, buf_cstr(&mx));
        buf_free(&mx);
        sts_cache_store(st->cache, e, e->fetch_id, r->body, r->len, &pol, now);
    }
}

static void on_fetched(const struct sts_fetch_result *r, void *ctx)
{
    struct sts_entry *e = ctx;
    struct sts *st = e->owner;
    time_t now = time(NULL);
    char *why = NULL;
    e->fetch = NULL;
    fetched_policy(st, e, r, now, &why);
    if (why) {
        if (sts_entry_valid(e, now))
            log_info("MTA-STS policy fetch for %s failed: %s; using the cached policy (id=%s, "
                     "mode=%s)", e->domain, why, e->id, mta_sts_mode_name(e->pol.mode));
        else
            log_info("MTA-STS policy fetch for %s failed: %s; no MTA-STS policy applies",
                     e->domain, why);
        snprintf(e->failed_id, sizeof e->failed_id, "%s", e->fetch_id);
        e->failed_at = now;
        free(why);
    }
    /* The waiters go on; none of them can end (and leave) while the list is walked, as
     * delivery_sts_ready only starts a lookup. */
    struct delivery **wait = e->wait;
    size_t n = e->nwait;
    e->wait = NULL;
    e->nwait = 0;
    for (size_t i = 0; i < n; i++)
        use_entry(wait[i], e, now);
    free(wait);
}

static void wait_for(struct delivery *d, struct sts_entry *e)
{
    e->wait = xreallocarray(e->wait, e->nwait + 1, sizeof *e->wait);
    e->wait[e->nwait++] = d;
    d->sts_wait = e;
}

static void start_fetch(struct delivery *d, struct sts_entry *e, const char *id)
{
    struct sts *st = d->sc->sts;
    char *err = NULL;
    snprintf(e->fetch_id, sizeof e->fetch_id, "%s", id);
    e->owner = st;
    e->fetch = sts_fetch_start(d->sc->dns, st->https, e->domain, &st->fp, on_fetched, e, &err);
    if (!e->fetch) {
        log_info("MTA-STS policy fetch for %s failed: %s", e->domain, err);
        free(err);
        use_entry(d, e, time(NULL));
        return;
    }
    log_debug("%s: fetching the MTA-STS policy of %s (id %s)", d->req.queue_id, e->domain, id);
    wait_for(d, e);
}

/* --- the TXT record --- */

/* 1 with the id, 0 without a record, -1 (*err) for a bad one. */
static int record_id(const struct dns_result *r, char id[MTA_STS_ID_MAX + 1], const char **err)
{
    if (r->status != DNS_OK)
        return 0;
    const char **txts = xcalloc(r->n ? r->n : 1, sizeof *txts);
    size_t *lens = xcalloc(r->n ? r->n : 1, sizeof *lens);
    for (size_t i = 0; i < r->n; i++) {
        txts[i] = (const char *)r->rr[i].data;
        lens[i] = r->rr[i].len;
    }
    int rc = mta_sts_txt_select(txts, lens, r->n, id, err);
    free(txts);
    free(lens);
    return rc;
}

static void on_txt(const struct dns_result *r, void *ctx)
{
    struct delivery *d = ctx;
    struct sts *st = d->sc->sts;
    d->sts_q = NULL;
    struct sts_entry *e = sts_cache_get(st->cache, d->dest_name);
    time_t now = time(NULL);
    char id[MTA_STS_ID_MAX + 1];
    const char *err = NULL;
    int rc = record_id(r, id, &err);
    if (rc < 0)
        log_info("%s: MTA-STS record of %s: %s", d->req.queue_id, d->dest_name, err);
    if (rc <= 0) /* no usable record: the cached policy while it lasts */
        use_entry(d, e, now);
    else if (sts_entry_valid(e, now) && strcmp(e->id, id) == 0)
        use_entry(d, e, now);
    else if (e->fetch) /* one fetch per domain: wait for the one under way */
        wait_for(d, e);
    else if (strcmp(e->failed_id, id) == 0 && now - e->failed_at < st->retry_delay)
        use_entry(d, e, now);
    else
        start_fetch(d, e, id);
}

void sts_lookup(struct delivery *d)
{
    char name[DNS_NAME_MAX + 16], *err = NULL;
    snprintf(name, sizeof name, "_mta-sts.%s", d->dest_name);
    d->sts_q = dns_lookup(d->sc->dns, DNS_TXT, name, on_txt, d, &err);
    if (!d->sts_q) { /* an unusable name has no record: the cached policy, if any */
        log_debug("%s: %s", d->req.queue_id, err);
        free(err);
        use_entry(d, sts_cache_get(d->sc->sts->cache, d->dest_name), time(NULL));
    }
}

/* --- applying it --- */

bool sts_mx_allowed(struct delivery *d, const char *host)
{
    if (d->sts.mode == MTA_STS_NONE || mta_sts_mx_match(&d->sts, host))
        return true;
    if (d->sts.mode == MTA_STS_TESTING) {
        char *what = xasprintf("MX host %s does not match the policy", host);
        sts_testing_failure(d, what);
        free(what);
        return true;
    }
    log_info("%s: MX host %s does not match the MTA-STS policy of %s (id=%s): not used",
             d->req.queue_id, host, d->dest_name, d->sts_id);
    d->sts_skipped = true;
    return false;
}

char *sts_no_mx_reason(const struct delivery *d)
{
    return xasprintf("MTA-STS policy of %s (mode=enforce, id=%s) allows none of its MX hosts",
                     d->dest_name, d->sts_id);
}

void sts_testing_failure(const struct delivery *d, const char *what)
{
    log_info("%s: MTA-STS policy testing for %s (id=%s): would have deferred: %s",
             d->req.queue_id, d->dest_name, d->sts_id, what);
}
