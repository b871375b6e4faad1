/* dns_query.h - lookups for `posthorn dns check` (cli/dns_check*.c), one at a time: the
 * asynchronous layers smtp-client uses (lib/io/dns on libunbound, lib/io/sts_fetch on
 * libcurl) driven by a private event loop until the answer is in, so the checks read as
 * straight-line code and ask exactly what smtp-client would ask, of dns_resolver (with
 * dns_trust_anchor_file for DNSSEC when it is readable). Answers are owned copies. */
#ifndef POSTHORN_CLI_DNS_QUERY_H
#define POSTHORN_CLI_DNS_QUERY_H
#include "cli.h"
#include "dns.h"       /* cli/dns.h (this directory first) */
#include "sts_fetch.h" /* and through it lib/io/dns.h */

struct dnsq {
    struct event_loop *loop;
    struct dns *dns;
    struct https *https;
    void *tls; /* SSL_CTX: the trust store of smtp_tls_CAfile/CApath or the system's */
    bool validating; /* a trust anchor was loaded: "secure" means something */
    long fetch_timeout_ms; /* smtp_mta_sts_fetch_timeout */
    size_t max_size;       /* smtp_mta_sts_policy_size_limit */
};

/* A copy of a struct dns_result. */
struct answer {
    enum dns_status status;
    bool secure, null_mx;
    char error[160];
    size_t n;
    struct dns_rr *rr;
};

/* 0, or -1 with *err (malloc'ed). */
int dnsq_open(struct cli *c, struct dnsq *r, char **err);
void dnsq_close(struct dnsq *r);
/* Look up and wait; MX answers are as lib/io/dns gives them (an implicit MX is NODATA
 * here: the caller asks for addresses itself). */
void dnsq_lookup(struct dnsq *r, enum dns_type type, const char *name, struct answer *out);
void answer_free(struct answer *a);
/* Every TXT string of an answer that starts with prefix (case-insensitively), as pointers
 * into the answer; returns the count. */
size_t answer_txt(const struct answer *a, const char *prefix, const char **out, size_t max);
/* Fetch the MTA-STS policy of domain and wait: 0 with the body (malloc'ed, *len), or -1
 * with *err (malloc'ed). */
int dnsq_fetch_policy(struct dnsq *r, const char *domain, char **body, size_t *len,
                          char **err);

#endif
