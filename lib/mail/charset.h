/* charset.h - text in a MIME charset (RFC 2045 sec 5.1, RFC 2046 sec 4.1.2) to UTF-8, for
 * SEARCH in headers (RFC 2047 words) and text bodies. The output is always well-formed
 * UTF-8: a byte sequence the charset does not define becomes U+FFFD.
 *
 * Built in: utf-8 (and utf8), us-ascii (and ascii), iso-8859-1 (latin1, l1, iso8859-1,
 * iso_8859-1) decoded as windows-1252 as web browsers do (mail labelled Latin-1 often holds
 * Windows quotes and dashes), iso-8859-15 (latin-9, latin9, iso8859-15, iso_8859-15),
 * windows-1252 (cp1252, x-cp1252). Any other name is handed to iconv(3) from the C library
 * (UTF-16, ISO-2022-JP, KOI8-R, GB2312, ...) when it is made of letters, digits and
 * "-_.:+" only, at most CHARSET_NAME_MAX bytes. us-ascii, a name iconv does not know and
 * no charset at all are read as UTF-8 (8-bit bytes in such text are most often UTF-8).
 *
 * A converter is streaming: a multi-byte character split between two feeds is still read
 * whole. No I/O, no logging; a converter belongs to one thread. */
#ifndef POSTHORN_CHARSET_H
#define POSTHORN_CHARSET_H
#include "buf.h"
#include <stdbool.h>
#include <stddef.h>

#define CHARSET_NAME_MAX 64

struct charset_conv;

/* A converter from charset (NULL: none given). Never fails: see above for the fallback. */
struct charset_conv *charset_conv_new(const char *charset);
/* Did the name select a conversion other than the UTF-8 fallback (or is it UTF-8)? */
bool charset_conv_known(const struct charset_conv *c);
/* Convert the next len bytes, appending UTF-8 to out. */
void charset_conv_feed(struct charset_conv *c, const char *in, size_t len, struct buf *out);
/* The end of the text: an incomplete character left over becomes U+FFFD. */
void charset_conv_finish(struct charset_conv *c, struct buf *out);
void charset_conv_free(struct charset_conv *c);

/* One whole text: convert in[0..len) from charset and append it to out. */
void charset_to_utf8(const char *charset, const char *in, size_t len, struct buf *out);

#endif
