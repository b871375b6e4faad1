/* rfc2047.h - RFC 2047 encoded words ("=?charset?B?...?=", "=?charset?Q?...?=") to UTF-8,
 * for IMAP SEARCH in header fields (ENVELOPE and BODY[HEADER] stay raw, as RFC 3501 and
 * RFC 9051 require). Charsets are converted by charset.h.
 *
 * Lenient like the readers users have: an encoded word is recognised anywhere, not only as
 * a whole word; its text may hold white space and be longer than 75 bytes; the charset may
 * carry an RFC 2231 language ("utf-8*en"); B text is decoded leniently (cte.h), Q text maps
 * '_' to a space and "=XX" to the byte, and keeps a '=' that starts no valid pair. White
 * space between two encoded words is dropped (sec 6.2); adjacent words of the same charset
 * are joined before conversion, so a multi-byte character split between two words comes
 * out whole. Text outside encoded words is read as UTF-8 (RFC 6532), bytes that are not
 * become U+FFFD. The output is well-formed UTF-8.
 *
 * No I/O, no logging, no global state; work is linear in the input. */
#ifndef POSTHORN_RFC2047_H
#define POSTHORN_RFC2047_H
#include "buf.h"
#include <stddef.h>

/* Decode value[0..len) (an unfolded field body) and append the UTF-8 text to out. */
void rfc2047_decode(const char *value, size_t len, struct buf *out);

#endif
