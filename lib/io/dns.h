/* dns.h - asynchronous DNS for the SMTP client on the event loop, on libunbound.
 *
 * A struct dns owns one libunbound context whose answers arrive on a descriptor (ub_fd)
 * registered with the event loop; ub_process() runs when it is readable, so results are
 * delivered as callbacks on the loop thread and nothing here blocks. libunbound resolves in
 * a thread of its own (ub_ctx_async), so create the struct dns after any fork().
 *
 * Lookups: MX (sorted by preference; RFC 5321 sec 5.1: no MX records means the domain
 * itself is the one mail host, an "implicit MX", when it has an A or AAAA record; RFC 7505:
 * the null MX "0 ." is reported as such), A, AAAA, TXT (the strings of a record joined), PTR
 * (of an IPv4 or IPv6 address, or of a name already under in-addr.arpa/ip6.arpa) and TLSA.
 * MX hosts of equal preference keep DNS order: RFC 5321 sec 5.1 asks the SMTP client to
 * randomize them, which is the caller's choice of randomness. The DNSSEC "secure" flag is
 * passed through (it needs a trust anchor, see dns_new()); a bogus answer is its own status.
 *
 * Ownership: the result handed to a callback belongs to this module and is valid only
 * during the callback. A query handle is valid until its callback returns or dns_cancel().
 * Failures are reported as statuses and error strings, never logged. Single-threaded: use a
 * struct dns from the loop thread only. */
#ifndef POSTHORN_DNS_H
#define POSTHORN_DNS_H
#include "event.h"
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>

#define DNS_NAME_MAX 256 /* a domain name in presentation form, without the final dot */

enum dns_type { DNS_MX, DNS_A, DNS_AAAA, DNS_TXT, DNS_PTR, DNS_TLSA };

enum dns_status {
    DNS_OK,       /* records (or the null MX) in the result */
    DNS_NODATA,   /* the name exists without records of this type (for MX: and without
                   * an address for an implicit MX) */
    DNS_NXDOMAIN, /* the name does not exist */
    DNS_TEMPFAIL, /* timeout, server failure, refusal, network: try again later */
    DNS_BOGUS     /* DNSSEC validation failed: treat as a temporary failure, never as data */
};

struct dns_rr {
    unsigned pref;                 /* MX preference */
    char name[DNS_NAME_MAX];       /* MX exchange, PTR target ("." for the root) */
    char addr[INET6_ADDRSTRLEN];   /* A, AAAA: the address in text form */
    unsigned char usage, selector, mtype; /* TLSA (RFC 6698 sec 2.1) */
    unsigned char *data;           /* TXT: the joined strings (NUL-terminated); TLSA: the
                                    * certificate association data */
    size_t len;                    /* of data */
};

struct dns_result {
    enum dns_type type;
    const char *qname;       /* the name asked for (for PTR: the reverse name) */
    enum dns_status status;
    bool secure;             /* every answer behind this result was DNSSEC-validated */
    bool null_mx;            /* MX: the domain publishes "0 ." and accepts no mail */
    bool implicit_mx;        /* MX: no MX records; rr[0] is the domain itself, preference 0,
                              * and addr[] holds its A and AAAA records */
    char error[160];         /* for DNS_TEMPFAIL and DNS_BOGUS: why */
    size_t n;
    struct dns_rr *rr;       /* the records; MX sorted by preference */
    size_t naddr;
    struct dns_rr *addr;     /* implicit MX only: the domain's addresses */
};

struct dns;
struct dns_query;
typedef void (*dns_fn)(const struct dns_result *r, void *ctx);

/* resolver: "system" (the name servers of /etc/resolv.conf, or 127.0.0.1 when there is no
 * such file, as the C library's resolver does) or "ADDR@PORT" / "ADDR" (one
 * forwarder, e.g. a local validating resolver or a test server on loopback). trust_anchor:
 * a file of root DS/DNSKEY records (e.g. /usr/share/dns/root.key) to validate DNSSEC, or
 * NULL (then no answer is secure). NULL with *err (malloc'ed). */
struct dns *dns_new(struct event_loop *loop, const char *resolver, const char *trust_anchor,
                    char **err);
/* Give every lookup started from now on at most ms milliseconds (dns_timeout): then its
 * callback gets DNS_TEMPFAIL. 0: no deadline of ours (libunbound gives up on a silent
 * server after about 30 s). */
void dns_set_timeout(struct dns *d, long ms);
/* Cancel every pending query (their callbacks are not called) and stop libunbound. Not
 * from inside a dns callback. */
void dns_free(struct dns *d);

/* Start a lookup; cb follows from the loop, never from inside this call. NULL with *err
 * (malloc'ed) if the name is unusable or libunbound refuses the query. */
struct dns_query *dns_lookup(struct dns *d, enum dns_type type, const char *name, dns_fn cb,
                             void *ctx, char **err);
/* The requester went away: drop the query, its callback is not called. Calling it from the
 * query's own callback does nothing. */
void dns_cancel(struct dns_query *q);

const char *dns_type_name(enum dns_type type);
const char *dns_status_name(enum dns_status status);

#endif
