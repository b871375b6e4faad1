/* sts_fetch.h - fetch a domain's MTA-STS policy file (RFC 8461 sec 3.3): the addresses of
 * "mta-sts.DOMAIN" through lib/io/dns (the configured resolver; A and AAAA together), then
 * GET https://mta-sts.DOMAIN/.well-known/mta-sts.txt with lib/io/https_get: TLS 1.2+, a
 * certificate valid for mta-sts.DOMAIN under the given trust store, no redirects, status
 * 200, Content-Type text/plain, at most max_size bytes. The body is handed back unparsed
 * (lib/proto/mta_sts parses it). Used by smtp-client and `posthorn dns check`.
 *
 * Ownership and threading as lib/io/dns and https_get: loop thread only; the result is valid
 * during the callback; a handle until its callback returns or sts_fetch_cancel(). */
#ifndef POSTHORN_STS_FETCH_H
#define POSTHORN_STS_FETCH_H
#include "dns.h"
#include "https_get.h"

struct sts_fetch_result {
    bool ok;
    const char *body;   /* the policy file as served (ok only) */
    size_t len;
    char error[320];    /* when !ok: "mta-sts.example.com: ..." */
};

struct sts_fetch_params {
    X509_STORE *trust;
    long timeout_ms;
    size_t max_size;
};

struct sts_fetch;
typedef void (*sts_fetch_fn)(const struct sts_fetch_result *r, void *ctx);

/* Start; cb follows from the loop. NULL with *err (malloc'ed) for an unusable domain. */
struct sts_fetch *sts_fetch_start(struct dns *dns, struct https *https, const char *domain,
                                  const struct sts_fetch_params *p, sts_fetch_fn cb, void *ctx,
                                  char **err);
void sts_fetch_cancel(struct sts_fetch *f);

#endif
