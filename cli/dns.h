/* dns.h - the pieces of `posthorn dns records` (doc/dkim.md, "DNS records"): dns.c
 * assembles and prints the records, dns_sources.c finds what goes into them (addresses,
 * reverse names, the certificate's TLSA data, the MTA-STS policy). */
#ifndef POSTHORN_CLI_DNS_H
#define POSTHORN_CLI_DNS_H
#include "buf.h"
#include "cli.h"
#include <stdbool.h>

struct addr_list {
    char **v;
    size_t n;
};

/* Is s an IPv4 or IPv6 address (in the form it should be written: canonical)? *v6 tells
 * which; the canonical text goes to out (INET6_ADDRSTRLEN bytes). */
bool dns_addr_parse(const char *s, bool *v6, char *out);
/* The specific addresses smtpd listens on (master.cf inet services of smtpd), split into
 * public ones and others (loopback, private, link-local: not for DNS). */
void dns_config_addrs(struct cli *c, struct addr_list *public_, struct addr_list *other);
void addr_list_add(struct addr_list *l, const char *s);
void addr_list_free(struct addr_list *l);
/* The reverse name of addr ("4.3.2.1.in-addr.arpa", nibbles under ip6.arpa), malloc'ed. */
char *dns_reverse_name(const char *addr);
/* The TLSA 3 1 1 data of the certificate in path: the SHA-256 of its SubjectPublicKeyInfo
 * in hex (RFC 6698 sec 2.1, RFC 7671 sec 5.1). -1 with *err. */
int dns_tlsa_311(const char *path, struct buf *hex, char **err);
/* The MTA-STS policy file (RFC 8461 sec 3.2) for mail host host, and its id (the first
 * 20 hex digits of its SHA-256: it changes when the policy does). */
void dns_mta_sts_policy(const char *mode, const char *host, struct buf *policy, char id[21]);

#endif
