/* dns_check_tls.c - the TLS checks of `posthorn dns check` (see dns_check.h):
 *   mta-sts  the _mta-sts TXT record (RFC 8461 sec 3.1), the policy fetched over HTTPS as
 *            smtp-client fetches it (lib/io/sts_fetch: TLS 1.2+, a certificate for
 *            mta-sts.DOMAIN, no redirects, 200, text/plain) and parsed strictly
 *            (lib/proto/mta_sts), and every MX host matched against its mx patterns;
 *   tlsa     _25._tcp.MAILHOST against the certificate chain of smtpd_tls_cert_file: a
 *            DANE-EE(3) or DANE-TA(2) record must match it (RFC 7671, RFC 7672 sec 3.1),
 *            and with a trust anchor the answer must be DNSSEC-validated. */
#include "dns_check.h"
#include "mem.h"
#include "mta_sts.h"
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TXT 16
#define MAX_CHAIN 8

/* --- MTA-STS --- */

/* The policy id of the domain's record: 1, 0 (none) or -1 (added a fail). */
static int sts_record(struct check_ctx *x, const char *name, char id[MTA_STS_ID_MAX + 1])
{
    struct answer a;
    const char *txts[MAX_TXT], *err = NULL;
    size_t lens[MAX_TXT], n = 0;
    dnsq_lookup(&x->r, DNS_TXT, name, &a);
    for (size_t i = 0; a.status == DNS_OK && i < a.n && n < MAX_TXT; i++, n++) {
        txts[n] = (const char *)a.rr[i].data;
        lens[n] = a.rr[i].len;
    }
    int rc = mta_sts_txt_select(txts, lens, n, id, &err);
    if (rc < 0)
        dc_add(x, "mta-sts", V_FAIL, "%s: %s (RFC 8461 sec 3.1)", name, err);
    else if (rc == 0 && (a.status == DNS_TEMPFAIL || a.status == DNS_BOGUS))
        dc_add(x, "mta-sts", V_FAIL, "%s: %s", name, dc_dns_why(&a));
    else if (rc == 0)
        dc_add(x, "mta-sts", V_WARN, "no MTA-STS record at %s: senders use TLS with %s only "
                  "opportunistically (posthorn dns records prints one)", name, x->domain);
    answer_free(&a);
    return rc == 0 && (a.status == DNS_TEMPFAIL || a.status == DNS_BOGUS) ? -1 : rc;
}

static void sts_judge(struct check_ctx *x, const char *id, const struct mta_sts_policy *p)
{
    struct buf mx = BUF_INIT, off = BUF_INIT;
    for (size_t i = 0; i < p->nmx; i++)
        buf_printf(&mx, "%s%s", i ? " " : "", p->mx[i]);
    for (size_t i = 0; i < x->mx.n; i++)
        if (!mta_sts_mx_match(p, x->mx.v[i]))
            buf_printf(&off, "%s%s", off.len ? " " : "", x->mx.v[i]);
    const char *mode = mta_sts_mode_name(p->mode);
    if (p->mode == MTA_STS_NONE)
        dc_add(x, "mta-sts", V_WARN, "id=%s, mode=none: the policy asks for nothing", id);
    else if (off.len)
        dc_add(x, "mta-sts", p->mode == MTA_STS_ENFORCE ? V_FAIL : V_WARN,
                  "id=%s, mode=%s, mx=%s: the MX host%s %s match%s no pattern%s", id, mode,
                  buf_cstr(&mx), strchr(buf_cstr(&off), ' ') ? "s" : "", buf_cstr(&off),
                  strchr(buf_cstr(&off), ' ') ? "" : "es",
                  p->mode == MTA_STS_ENFORCE ? ": senders will not deliver to them" : "");
    else
        dc_add(x, "mta-sts", V_OK, "id=%s, mode=%s, max_age=%ld, mx=%s: every MX host matches",
                  id, mode, p->max_age, buf_cstr(&mx));
    buf_free(&mx);
    buf_free(&off);
}

void dc_mta_sts(struct check_ctx *x)
{
    char id[MTA_STS_ID_MAX + 1], *name = xasprintf("_mta-sts.%s", x->domain);
    char *body = NULL, *err = NULL;
    size_t len = 0;
    struct mta_sts_policy p;
    if (sts_record(x, name, id) <= 0) {
        /* added already */
    } else if (dnsq_fetch_policy(&x->r, x->domain, &body, &len, &err) < 0) {
        dc_add(x, "mta-sts", V_FAIL, "id=%s, but the policy cannot be fetched: %s", id, err);
    } else if (mta_sts_policy_parse(body, len, &p, &err) < 0) {
        dc_add(x, "mta-sts", V_FAIL, "id=%s, but https://mta-sts.%s/.well-known/mta-sts.txt "
                  "is not a valid policy: %s", id, x->domain, err);
    } else {
        sts_judge(x, id, &p);
        mta_sts_policy_free(&p);
    }
    free(body), free(err), free(name);
}

/* --- TLSA --- */

static size_t load_chain(const char *path, X509 **chain)
{
    FILE *f = fopen(path, "r");
    size_t n = 0;
    if (!f)
        return 0;
    X509 *c;
    while (n < MAX_CHAIN && (c = PEM_read_X509(f, NULL, NULL, NULL)))
        chain[n++] = c;
    fclose(f);
    return n;
}

/* Does the TLSA record match the certificate (RFC 6698 sec 2.1: selector, matching type)? */
static bool tlsa_match_cert(const struct dns_rr *rr, X509 *cert)
{
    unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int len = rr->selector == 0 ? i2d_X509(cert, &der)
            : rr->selector == 1 ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der) : -1;
    bool ok = false;
    if (len > 0) {
        if (rr->mtype == 0)
            ok = rr->len == (size_t)len && memcmp(rr->data, der, rr->len) == 0;
        else if ((rr->mtype == 1 || rr->mtype == 2) &&
                 EVP_Digest(der, (size_t)len, md, &mdlen, rr->mtype == 1 ? EVP_sha256() : EVP_sha512(), NULL))
            ok = rr->len == mdlen && memcmp(rr->data, md, mdlen) == 0;
    }
    OPENSSL_free(der);
    return ok;
}

/* DANE-EE(3) against the leaf, DANE-TA(2) against the rest of the chain. */
static bool tlsa_matches(const struct dns_rr *rr, X509 **chain, size_t n)
{
    if (rr->usage == 3)
        return n > 0 && tlsa_match_cert(rr, chain[0]);
    for (size_t i = 1; rr->usage == 2 && i < n; i++)
        if (tlsa_match_cert(rr, chain[i]))
            return true;
    return false;
}

static void tlsa_judge(struct check_ctx *x, const char *name, const char *cert,
                       const struct answer *a, X509 **chain, size_t n)
{
    const struct dns_rr *hit = NULL;
    for (size_t i = 0; i < a->n && !hit; i++)
        if (tlsa_matches(&a->rr[i], chain, n))
            hit = &a->rr[i];
    if (!hit)
        dc_add(x, name, V_FAIL, "none of the %zu TLSA record%s matches the certificate of %s: "
                  "DANE senders will not deliver (posthorn dns records prints the right one)",
                  a->n, a->n == 1 ? "" : "s", cert);
    else if (x->r.validating && !a->secure)
        dc_add(x, name, V_WARN, "%u %u %u matches %s, but the answer is not DNSSEC-validated: "
                  "senders ignore TLSA records of an unsigned zone", hit->usage, hit->selector,
                  hit->mtype, cert);
    else
        dc_add(x, name, V_OK, "%u %u %u matches the certificate of %s%s", hit->usage,
                  hit->selector, hit->mtype, cert, x->r.validating ? ", DNSSEC-validated"
                  : " (DNSSEC not checked: no readable dns_trust_anchor_file)");
}

void dc_tlsa(struct check_ctx *x)
{
    char *name = xasprintf("tlsa _25._tcp.%s", x->host);
    const char *cert = config_str(cli_config(x->c), PARAM(smtpd_tls_cert_file));
    X509 *chain[MAX_CHAIN];
    size_t n = *cert ? load_chain(cert, chain) : 0;
    struct answer a;
    dnsq_lookup(&x->r, DNS_TLSA, name + 5, &a);
    if (a.status == DNS_NXDOMAIN || a.status == DNS_NODATA)
        dc_add(x, name, V_WARN, "no TLSA records: no DANE for %s (useful only in a DNSSEC-signed zone)", x->host);
    else if (a.status != DNS_OK)
        dc_add(x, name, V_FAIL, "%s", dc_dns_why(&a));
    else if (n == 0)
        dc_add(x, name, V_FAIL, "cannot read the certificate smtpd_tls_cert_file (%s)", *cert ? cert : "not set");
    else
        tlsa_judge(x, name, cert, &a, chain, n);
    for (size_t i = 0; i < n; i++)
        X509_free(chain[i]);
    answer_free(&a);
    free(name);
}
