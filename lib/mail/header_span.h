/* header_span.h - the fields of one header section held in memory, as IMAP FETCH and SEARCH
 * read stored messages: lines end in LF or CRLF, and the section may lack its empty line
 * and even its last line end (a message that is all header). Unlike header_iter
 * (header.h), which smtpd uses on complete fields only, every line up to the empty line or
 * the end of the text is handed out, the last one included.
 *
 * A field is a line "name:" (obsolete syntax: white space may come before the colon, RFC
 * 5322 sec 4.5) and the lines starting with SP or HT after it. Any other line (no colon, a
 * continuation line at the very start) is a field without a name (name_len 0). No I/O, no
 * logging; the field points into the caller's text. */
#ifndef POSTHORN_HEADER_SPAN_H
#define POSTHORN_HEADER_SPAN_H
#include "buf.h"
#include <stdbool.h>
#include <stddef.h>

struct header_span {
    const char *text;  /* the whole field, its line ends included */
    size_t len;
    const char *name;  /* == text; name_len 0 for a line that is not a field */
    size_t name_len;   /* without white space before the colon */
    const char *value; /* everything after the colon (all of a nameless line), folded */
    size_t value_len;
};

struct header_span_iter {
    const char *p, *end;
};

void header_span_init(struct header_span_iter *it, const char *text, size_t len);
/* The next field into *f; false at the empty line or the end of the text. */
bool header_span_next(struct header_span_iter *it, struct header_span *f);
/* Is f the field called name (ASCII case-insensitive)? */
bool header_span_is(const struct header_span *f, const char *name);
/* Append v[0..len) unfolded (every CR LF or LF removed, RFC 5322 sec 2.2.3) and with the
 * white space at both ends trimmed. */
void header_unfold(const char *v, size_t len, struct buf *out);

#endif
