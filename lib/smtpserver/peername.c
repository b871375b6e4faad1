/* peername.c - the client's host name, for every log line that names the client and for
 * the Received: header (doc/smtpd.md, "Client names"). The PTR record of the client's
 * address gives a name; it is kept only when that name's A (IPv4 client) or AAAA (IPv6
 * client) records include the address again - forward-confirmed reverse DNS, as Postfix's
 * smtpd does, since anyone who controls the reverse zone of an address can write any name
 * there. Otherwise the client is "unknown". The lookups run on the event loop
 * (lib/io/dns.h), each bounded by smtpd_peername_lookup_timeout; reading the client's
 * input waits for them, so the greeting follows the name as in Postfix's logs. */
#include "log.h"
#include "smtpd.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void peername_set(struct session *s, const char *name)
{
    if (name != s->name)
        snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->client, sizeof s->client, "%s[%s]", s->name, s->addr);
    sess_set_tag(s->sess, "%s", s->client);
}

/* RFC 1123 sec 2.1 host names: labels of 1 to 63 letters, digits and hyphens (underscores,
 * common in real reverse zones, pass as with Postfix), at most 253 octets. A last label of
 * digits is refused: "1.2.3.4" as a name would read as an address in every log line. */
static bool valid_hostname(const char *name)
{
    size_t len = strlen(name), label = 0;
    if (len == 0 || len > 253 || name[0] == '.' || name[len - 1] == '.')
        return false;
    const char *last = strrchr(name, '.');
    last = last ? last + 1 : name;
    if (strspn(last, "0123456789") == strlen(last))
        return false;
    for (const char *p = name; *p; p++) {
        if (*p == '.') {
            if (label == 0 || p[-1] == '-')
                return false;
            label = 0;
        } else if (isalnum((unsigned char)*p) || *p == '_' || (*p == '-' && label > 0)) {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return name[len - 1] != '-';
}

/* The name is settled: go on with the session (this is an entry point: reap after). */
static void settle(struct session *s, const char *name, enum peer_name status)
{
    s->dns_q = NULL;
    s->name_status = status;
    s->wait_dns = false;
    peername_set(s, name);
    sess_touch(s->sess); /* smtpd_timeout counts from the greeting, not from the accept */
    conn_set_reading(s->conn, true);
    session_begin(s);
    session_reap(s);
}

static void on_addresses(const struct dns_result *r, void *ctx)
{
    struct session *s = ctx;
    for (size_t i = 0; r->status == DNS_OK && i < r->n; i++) {
        if (strcmp(r->rr[i].addr, s->addr) == 0) { /* both in inet_ntop's canonical form */
            settle(s, s->name, PEER_CONFIRMED);
            return;
        }
    }
    bool answered = r->status == DNS_OK || r->status == DNS_NODATA || r->status == DNS_NXDOMAIN;
    if (r->status == DNS_OK) /* Postfix's lines, with getaddrinfo()'s EAI_NONAME text */
        log_warn("hostname %s does not resolve to address %s", s->name, s->addr);
    else if (answered)
        log_warn("hostname %s does not resolve to address %s: Name or service not known",
                 s->name, s->addr);
    else
        log_warn("hostname %s does not resolve to address %s: %s", s->name, s->addr,
                 r->error[0] ? r->error : dns_status_name(r->status));
    settle(s, "unknown", answered ? PEER_UNCONFIRMED : PEER_TEMPFAIL);
}

static void on_ptr(const struct dns_result *r, void *ctx)
{
    struct session *s = ctx;
    s->dns_q = NULL;
    if (r->status != DNS_OK || r->n == 0) { /* no PTR, or none in time: Postfix says nothing */
        bool answered = r->status == DNS_OK || r->status == DNS_NODATA ||
                        r->status == DNS_NXDOMAIN;
        settle(s, "unknown", answered ? PEER_NO_PTR : PEER_TEMPFAIL);
        return;
    }
    const char *name = r->rr[0].name;
    if (!valid_hostname(name)) {
        if (strspn(name, "0123456789.") == strlen(name)) /* Postfix's line for an address */
            log_warn("numeric hostname: %s", name);
        else
            log_warn("%s: malformed host name in its PTR record: %s", s->addr, name);
        settle(s, "unknown", PEER_NO_PTR);
        return;
    }
    snprintf(s->name, sizeof s->name, "%s", name); /* the candidate, until confirmed */
    char *err = NULL;
    s->dns_q = dns_lookup(s->d->dns, strchr(s->addr, ':') ? DNS_AAAA : DNS_A, s->name,
                          on_addresses, s, &err);
    if (!s->dns_q) {
        log_warn("hostname %s: %s", s->name, err);
        free(err);
        settle(s, "unknown", PEER_UNCONFIRMED);
    }
}

void peername_lookup(struct session *s)
{
    unsigned char bin[16];
    if (inet_pton(AF_INET, s->addr, bin) != 1 && inet_pton(AF_INET6, s->addr, bin) != 1) {
        session_begin(s); /* not an IP address ("unknown": a UNIX-domain peer) */
        return;
    }
    char *err = NULL;
    s->dns_q = dns_lookup(s->d->dns, DNS_PTR, s->addr, on_ptr, s, &err);
    if (!s->dns_q) {
        log_warn("%s: no lookup of its name: %s", s->addr, err);
        free(err);
        s->name_status = PEER_TEMPFAIL;
        session_begin(s);
        return;
    }
    s->wait_dns = true;
    conn_set_reading(s->conn, false); /* wrapper mode: the ClientHello waits for TLS */
}

/* Postfix's replies for reject_unknown_reverse_client_hostname and
 * reject_unknown_client_hostname, with RFC 7372's 4.7.25 ("reverse DNS validation failed").
 * Always 450: a missing or broken name is fixed in DNS, and the sender retries meanwhile. A
 * session whose name could not be asked for (the resolver did not start) is refused too;
 * one that logged in, or that its role lets relay (smtpd: mynetworks), is exempt. */
const char *peername_refusal(struct session *s, char *buf, size_t size)
{
    enum name_rule rule = s->d->p.name_rule;
    enum peer_name st = s->name_status;
    bool may_relay = s->d->hooks->relay && s->d->hooks->relay(s);
    if (rule == NAME_RULE_NONE || !s->d->p.peername_lookup || s->auth_user || may_relay ||
        st == PEER_CONFIRMED || (st == PEER_NOT_ASKED && s->d->dns))
        return NULL;
    if (rule == NAME_RULE_REVERSE && st == PEER_UNCONFIRMED)
        return NULL;
    snprintf(buf, size, "450 4.7.25 Client host rejected: cannot find your %shostname, [%s]",
             rule == NAME_RULE_REVERSE ? "reverse " : "", s->addr);
    return buf;
}

void peername_cancel(struct session *s)
{
    if (s->dns_q)
        dns_cancel(s->dns_q);
    s->dns_q = NULL;
}
