/* dkim_sign.h - making DKIM-Signature fields (RFC 6376 sec 3.5, 3.7, 5; RFC 8463) for a
 * message in the queue's form (LF line ends), fed in pieces of any size: the header
 * section is kept (up to a limit), the body only hashed, so a large message costs constant
 * memory. Canonicalization is relaxed/relaxed, l= is never used, t= is the signing time,
 * and one body hash (SHA-256) serves every signature of the message.
 *
 * Use: dkim_signer_new, dkim_signer_feed the content, dkim_signer_end, then
 * dkim_signer_domain (which domain signs, or why none does) and dkim_signer_sign once per
 * key. The domain is known as soon as dkim_signer_header_done, so a caller can stop
 * feeding a message that no key will sign. One signer per message, one thread. */
#ifndef POSTHORN_DKIM_SIGN_H
#define POSTHORN_DKIM_SIGN_H
#include "buf.h"
#include "dkim_key.h"
#include <stdbool.h>
#include <stddef.h>

struct dkim_sign_opts {
    char *const *sign_headers; /* field names to sign when present (dkim_header.h) */
    size_t nsign;
    char *const *oversign;     /* ... and those signed once more than present */
    size_t nover;
    size_t header_limit;       /* largest header section kept; a larger one is not signed */
    long long now;             /* t=, seconds since the epoch */
};

struct dkim_signer;

/* The option arrays must outlive the signer. */
struct dkim_signer *dkim_signer_new(const struct dkim_sign_opts *o);
void dkim_signer_free(struct dkim_signer *s);
void dkim_signer_feed(struct dkim_signer *s, const char *data, size_t len);
/* The header section is complete (or too large: then nothing will be signed). */
bool dkim_signer_header_done(const struct dkim_signer *s);
/* The content has ended. */
void dkim_signer_end(struct dkim_signer *s);
/* Once the header is done: the signing domain (lowercase A-labels), or NULL with *why. */
const char *dkim_signer_domain(struct dkim_signer *s, const char **why);
/* After dkim_signer_end, with a domain: append one DKIM-Signature field for key and
 * selector (folded to 78 columns, LF line ends, ending in LF) to out. -1 with *err. */
int dkim_signer_sign(struct dkim_signer *s, const struct dkim_key *key, const char *selector,
                     struct buf *out, char **err);

#endif
