/* mail_text.h - the text of a message as IMAP SEARCH reads it (RFC 3501 sec 6.4.4, RFC
 * 9051 sec 6.4.4): header fields with their RFC 2047 words decoded, and the bodies of text
 * parts with their Content-Transfer-Encoding undone and converted from their charset, all
 * as UTF-8 (rfc2047.h, cte.h, charset.h), handed out in chunks for a text_match.h search.
 *
 * Walked in the order of the MIME tree (mime.h), each part's header before its body:
 * - a header (every part's: the message's, each MIME part's, each attached message's) comes
 *   as one line per field, "Name: value\n", the value unfolded and decoded; lines of the
 *   header that are no field come as they are, decoded likewise;
 * - a body comes only for a part without children whose type is text (any subtype; HTML is
 *   not reduced to its text), decoded in slices of MAIL_TEXT_SLICE input bytes, so memory
 *   stays bounded whatever the size of the part. An unknown transfer encoding is read as
 *   the identity; a missing or unknown charset as UTF-8.
 * The message and the tree are the caller's; work is linear in the message. No I/O, no
 * logging. */
#ifndef POSTHORN_MAIL_TEXT_H
#define POSTHORN_MAIL_TEXT_H
#include "mime.h"
#include <stdbool.h>
#include <stddef.h>

#define MAIL_TEXT_SLICE 65536

enum mail_text_kind { MAIL_TEXT_HEADER, MAIL_TEXT_BODY };

/* What to walk (flags). */
enum { MAIL_TEXT_HEADERS = 1 << 0, MAIL_TEXT_BODIES = 1 << 1 };

struct mail_text_chunk {
    enum mail_text_kind kind;
    size_t part;      /* index in the tree */
    bool start;       /* the first chunk of this header or body: a new text begins */
    const char *data; /* UTF-8, valid until the callback returns */
    size_t len;
};

/* Return false to stop the walk. */
typedef bool (*mail_text_fn)(void *ctx, const struct mail_text_chunk *c);

/* Walk msg[0..len) with its tree parts[0..n). Returns false when fn stopped the walk. */
bool mail_text_walk(const char *msg, size_t len, const struct mime_part *parts, size_t n,
                    unsigned what, mail_text_fn fn, void *ctx);

/* Does a field called name in the header section hdr[0..len) hold needle in its decoded
 * value (case-insensitively, text_match.h)? SEARCH HEADER, SUBJECT, FROM, TO, CC, BCC. An
 * empty needle matches any message that has the field. */
bool mail_header_contains(const char *hdr, size_t len, const char *name, const char *needle,
                          size_t nlen);

#endif
