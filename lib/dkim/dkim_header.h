/* dkim_header.h - what a DKIM signature covers and for whom (RFC 6376 sec 5.4, 5.4.2).
 *
 * The h= list: every configured name whose field is present, once per instance, and the
 * oversigned names once more than present (sec 5.4.2: a verifier then finds "no field" for
 * the extra entry, so a field of that name added later breaks the signature). Instances are
 * taken from the bottom up, as a verifier takes them (sec 5.4.2).
 *
 * The signing domain is the domain of the header From: exactly one From field holding
 * exactly one mailbox with a domain, as its lowercase A-label form (doc/dkim.md, "Which
 * domain signs"). Pure functions: no I/O, no logging, no global state. */
#ifndef POSTHORN_DKIM_HEADER_H
#define POSTHORN_DKIM_HEADER_H
#include "buf.h"
#include "header.h"
#include <stddef.h>

struct dkim_hlist {
    char **names; /* lowercase field names in h= order, a name repeated per instance */
    size_t n;
};

/* The h= list for the fields f[0..n) (names compared without case; a name listed twice in
 * sign counts once; names of oversign that are not in sign are signed too). */
void dkim_hlist_make(const struct header_field *f, size_t n, char *const *sign, size_t nsign,
                     char *const *oversign, size_t nover, struct dkim_hlist *out);
/* Append "name:name:..." (h='s value) to out. */
void dkim_hlist_format(const struct dkim_hlist *h, struct buf *out);
void dkim_hlist_free(struct dkim_hlist *h);

/* Append the canonical form (dkim_canon_header, with CRLF) of the fields h names, in h's
 * order, each entry taking the lowest instance not yet taken; an entry without one adds
 * nothing. */
void dkim_hlist_canon(const struct header_field *f, size_t n, const struct dkim_hlist *h,
                      struct buf *out);

/* The signing domain of the fields f[0..n): 0 with *domain (malloc'ed), or -1 with *why
 * (a static string) when there is none. */
int dkim_from_domain(const struct header_field *f, size_t n, char **domain, const char **why);

#endif
