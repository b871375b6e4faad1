/* idn.h - internationalized domain names (RFC 5890/5891, via libidn2): the one place that
 * turns a domain as a client wrote it (U-labels in UTF-8 after SMTPUTF8, RFC 6531) into
 * the lowercase ASCII form (A-labels, "xn--...") under which domains are stored and looked
 * up, so "bücher.test" and "xn--bcher-kva.test" are the same domain everywhere. */
#ifndef POSTHORN_IDN_H
#define POSTHORN_IDN_H
#include <stdbool.h>
#include <stddef.h>

/* A malloc'ed lowercase ASCII form of domain, or NULL when it is not a valid IDN.
 * ASCII input is only lowercased (no IDNA checks, so address literals pass through). */
char *idn_domain_ascii(const char *domain);

/* Is s a host name in the form names are stored in: lowercase LDH labels (RFC 1035 sec
 * 2.3.1; a digit may start one, RFC 1123 sec 2.1) of 1 to 63 characters, '-' at neither end,
 * joined by single dots, no final dot, at most max characters in all? */
bool idn_ldh_name(const char *s, size_t max);

#endif
