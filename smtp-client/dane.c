/* dane.c - DANE for SMTP (RFC 7672 sec 2.2) at smtp_tls_security_level = dane: per MX host,
 * decide whether TLS is mandatory and authenticated by TLSA records.
 *
 * Only a host whose MX and address records were DNSSEC-validated (struct target's dnssec)
 * can have DANE; its TLSA records are looked up at _PORT._tcp.HOST (RFC 7672 sec 2.2.3):
 *   - validated records, at least one usable (usages 2 or 3): TLS is required and the chain
 *     must match them (lib/io/tls); a mismatch or no STARTTLS defers, never plaintext;
 *   - validated records, none usable: TLS is required, any certificate (sec 2.2);
 *   - no records (validated denial), or an answer that is not validated: opportunistic TLS
 *     ("may"), as without DANE, or what the domain's MTA-STS policy asks (sts.c: DANE
 *     takes precedence over MTA-STS where it applies, RFC 8461 sec 2);
 *   - a failed or bogus lookup: this host is not used (4.7.5; RFC 7672 sec 2.2.1 forbids
 *     going on as if there were no records), the next one is tried.
 * The lookup goes through lib/io/dns on the loop; the delivery owns it while it runs. */
#include "smtpc.h"
#include "log.h"
#include "mem.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tlsa_set_free(struct tlsa_set *ts)
{
    for (size_t i = 0; i < ts->n; i++)
        free((void *)ts->rr[i].data);
    free(ts->rr);
    ts->rr = NULL;
    ts->n = 0;
}

/* The usable records of a validated answer, copied. */
static size_t take_usable(const struct dns_result *r, struct tlsa_set *ts)
{
    ts->rr = xcalloc(r->n ? r->n : 1, sizeof *ts->rr);
    for (size_t i = 0; i < r->n; i++) {
        const struct dns_rr *rr = &r->rr[i];
        struct tls_tlsa t = {.usage = rr->usage, .selector = rr->selector, .mtype = rr->mtype,
                             .data = rr->data, .len = rr->len};
        if (!tls_tlsa_usable(&t))
            continue;
        unsigned char *copy = xmalloc(rr->len);
        memcpy(copy, rr->data, rr->len);
        t.data = copy;
        ts->rr[ts->n++] = t;
    }
    return ts->n;
}

static void on_tlsa(const struct dns_result *r, void *ctx)
{
    struct delivery *d = ctx;
    struct target t = d->tlsa_t;
    struct tlsa_set ts = {0};
    d->tlsa_q = NULL;
    if (r->status == DNS_TEMPFAIL || r->status == DNS_BOGUS) {
        char *why = xasprintf("TLSA lookup error for %s:%d: %s%s%s", t.host, t.port,
                              dns_status_name(r->status), r->error[0] ? ": " : "", r->error);
        log_info("%s: %s", d->req.queue_id, why);
        delivery_target_failed(d, "4.7.5", why);
        free(why);
        return;
    }
    if (r->status != DNS_OK || !r->secure) { /* no DANE: MTA-STS may apply */
        delivery_open_without_dane(d, &t);
        return;
    }
    if (take_usable(r, &ts) == 0) {
        tlsa_set_free(&ts);
        delivery_open_target(d, &t, TLSL_ENCRYPT, NULL);
        return;
    }
    log_debug("%s: %zu usable TLSA records for %s:%d", d->req.queue_id, ts.n, t.host, t.port);
    delivery_open_target(d, &t, TLSL_DANE, &ts);
    tlsa_set_free(&ts);
}

void dane_open(struct delivery *d, const struct target *t)
{
    char name[DNS_NAME_MAX + 16], *err = NULL;
    if (!t->dnssec) { /* no validated path to this host: DANE cannot apply */
        delivery_open_without_dane(d, t);
        return;
    }
    snprintf(name, sizeof name, "_%d._tcp.%s", t->port, t->host);
    d->tlsa_t = *t;
    d->tlsa_q = dns_lookup(d->sc->dns, DNS_TLSA, name, on_tlsa, d, &err);
    if (!d->tlsa_q) {
        char *why = xasprintf("TLSA lookup error for %s:%d: %s", t->host, t->port, err);
        free(err);
        delivery_target_failed(d, "4.7.5", why);
        free(why);
    }
}

void dane_cancel(struct delivery *d)
{
    dns_cancel(d->tlsa_q);
    d->tlsa_q = NULL;
}
