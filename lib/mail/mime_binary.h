/* mime_binary.h - binary MIME parts made storable: a message whose leaf parts carry binary
 * content (Content-Transfer-Encoding: binary, or a NUL anywhere in the body) is rewritten
 * with those bodies in base64, the rest copied byte for byte. IMAP's APPEND of a literal8
 * (RFC 3516 sec 4.4, RFC 9051 sec 6.3.12) goes through it: the store keeps line-oriented
 * text with LF line ends (doc/store.md), where NULs and bare CRs would not come back as they
 * were, while BINARY[section] decodes base64 and returns the octets the client appended.
 *
 * Only discrete parts are rewritten (a multipart or message part must stay 7bit, 8bit or
 * binary, RFC 2045 sec 6.4); a composite the parser left opaque (past its depth or part
 * limits) is copied as it came. The rewritten part's Content-Transfer-Encoding field (with
 * its continuation lines) becomes "Content-Transfer-Encoding: base64", or that field is
 * added at the end of the part's header; the base64 text is cut into lines of 76
 * characters ending in CRLF (RFC 2045 sec 6.8), and the line end after the last line is the
 * one the body was followed by (the boundary's, RFC 2046 sec 5.1.1).
 *
 * Pure: no I/O, no logging, linear in the input; safe from any thread. */
#ifndef POSTHORN_MIME_BINARY_H
#define POSTHORN_MIME_BINARY_H
#include "buf.h"
#include "mime.h"
#include <stddef.h>

/* Append the rewritten msg[0..len) to out and return how many parts were rewritten; when
 * none needed it, return 0 and leave out untouched (the message is stored as it came).
 * limits NULL means MIME_LIMITS_DEFAULT. */
size_t mime_binary_to_base64(const char *msg, size_t len, const struct mime_limits *limits,
                             struct buf *out);

#endif
