/* dns_check.h - the pieces of `posthorn dns check DOMAIN` (doc/dkim.md, "Checking the
 * records"): dns_check.c runs the checks and prints them (MX, addresses, PTR), the others
 * are dns_check_spf.c, dns_check_txt.c (DKIM, DMARC) and dns_check_tls.c (MTA-STS, TLSA). Every check
 * adds lines "ok|warn|fail CHECK: reason"; any fail makes the exit status 1. */
#ifndef POSTHORN_CLI_DNS_CHECK_H
#define POSTHORN_CLI_DNS_CHECK_H
#include "dns.h"
#include "dns_query.h"

enum verdict { V_OK, V_WARN, V_FAIL };

struct check_line {
    char *name, *reason;
    enum verdict v;
};

struct check_ctx {
    struct cli *c;
    struct dnsq r;
    const char *domain;
    const char *host;        /* myhostname: the mail host `dns records` publishes */
    struct addr_list addrs;  /* the sending addresses (--ip, smtp_bind_address or master.cf) */
    struct addr_list mx;     /* the domain's MX host names, as found */
    struct check_line *v;
    size_t n;
};

void dc_add(struct check_ctx *x, const char *name, enum verdict v, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "no such domain", "no record", or "temporary failure: ..." for an answer without data. */
const char *dc_dns_why(const struct answer *a);

/* Exactly one TXT record at name that starts with prefix and then a space, ';' or its end
 * (dns_check_txt.c): a copy, or NULL with why. */
char *dc_one_record(struct check_ctx *x, const char *name, const char *prefix, struct buf *why);
/* dns_check_spf.c */
void dc_spf(struct check_ctx *x);
/* dns_check_spf_eval.c: the SPF result of each sending address (after dc_spf's checks). */
void dc_spf_hosts(struct check_ctx *x);
/* dns_check_txt.c */
void dc_dkim(struct check_ctx *x);
void dc_dmarc(struct check_ctx *x);
void dc_tls_rpt(struct check_ctx *x);
/* dns_check_tls.c */
void dc_mta_sts(struct check_ctx *x);
void dc_tlsa(struct check_ctx *x);

int cmd_dns_check(struct cli *c, int argc, char **argv);

#endif
