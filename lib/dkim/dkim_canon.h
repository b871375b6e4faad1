/* dkim_canon.h - DKIM "relaxed" canonicalization (RFC 6376 sec 3.4.2 and 3.4.4) of a
 * message in the queue's form: LF line ends (every LF is a CRLF on the wire; CR is an
 * ordinary byte). Output uses CRLF, as the hash input must.
 *
 * The body canonicalizer streams: feed it the body in pieces of any size and the output is
 * the same however the input is split; it holds back only the white space and empty lines
 * whose fate depends on what follows (a counter, not the bytes), so memory is constant
 * however large the body. Pure: no I/O, no logging, no global state. */
#ifndef POSTHORN_DKIM_CANON_H
#define POSTHORN_DKIM_CANON_H
#include "buf.h"
#include <stdbool.h>
#include <stddef.h>

/* Receives canonical bytes; ctx is the caller's. */
typedef void (*dkim_out_fn)(void *ctx, const char *data, size_t len);

/* Sec 3.4.2: one header field (its name, the ':', the value and its continuation lines,
 * LF line ends) as "lowercased-name:value" with the line ends removed, every run of SP and
 * HTAB made one SP, the white space around the ':' and at the end removed; then CRLF when
 * crlf is true (every signed field but the DKIM-Signature field itself). Appended to out.
 * A field without ':' is taken as a name with an empty value. */
void dkim_canon_header(const char *field, size_t len, bool crlf, struct buf *out);

/* Sec 3.4.4: the body. */
struct dkim_body_canon {
    dkim_out_fn out;
    void *ctx;
    size_t empty_lines; /* empty lines held back: they count only if content follows */
    bool wsp;           /* white space seen on this line since its last content */
    bool content;       /* this line has content */
};

void dkim_body_init(struct dkim_body_canon *c, dkim_out_fn out, void *ctx);
void dkim_body_feed(struct dkim_body_canon *c, const char *data, size_t len);
/* The body ended: a last line without its LF gets CRLF; trailing empty lines and an empty
 * body give nothing (sec 3.4.4: the canonical empty body is empty, its hash that of ""). */
void dkim_body_finish(struct dkim_body_canon *c);

#endif
