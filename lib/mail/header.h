/* header.h - the header section of an RFC 5322 message (sec 2.1, 2.2, 2.2.3) with LF line
 * ends, as Posthorn queues and stores it. One set of rules, three ways to use them:
 *
 *  - line rules: a field starts with "name:" (the name is printable ASCII except ':';
 *    white space may stand before the colon, the obsolete form of RFC 5322 sec 4.5), a
 *    line starting with SP or HT continues (folds) the field before it, and the empty line
 *    ends the section;
 *  - header_iter: the fields of a message held in memory, up to its empty line. A line that
 *    is neither a field nor a continuation comes back as a field without a name
 *    (name_len 0) for the caller to judge;
 *  - header_scanner: the fields of a message as it streams in (smtpd, sendmail) in bounded
 *    memory. There a line that can be neither ends the header section: the message lacks
 *    its empty line and that line is the first of the body.
 *
 * No I/O, no logging, no global state. An iterator or scanner belongs to one thread; the
 * field it hands out points into its input (iterator) or its own buffer (scanner) and is
 * valid only until the next call. */
#ifndef POSTHORN_HEADER_H
#define POSTHORN_HEADER_H
#include "buf.h"
#include <stdbool.h>
#include <stddef.h>

struct header_field {
    const char *text; /* the first line and its continuation lines, each ending in LF */
    size_t len;
    size_t name_len;  /* length of the name (before ':' and any white space before it); 0: the
                       * first line is not "name:" */
    bool truncated;   /* scanner only: a line was cut or left out to stay within max, or the
                       * message ended inside the field's last line */
};

/* Length of the field name that starts line[0..len) ("name:"), 0 when none does. */
size_t header_name_length(const char *line, size_t len);
/* Does line[0..len) continue the field before it (start with SP or HT)? */
bool header_line_continues(const char *line, size_t len);
/* Is f the field called name (compared case-insensitively)? */
bool header_field_is(const struct header_field *f, const char *name);
/* Append f's value, everything after the ':' (all of a nameless field), to out unfolded
 * (sec 2.2.3: each line end is removed, the white space after it stays). */
void header_field_value(const struct header_field *f, struct buf *out);

/* Where the header section of text[0..len) ends: true with *end the offset of its empty
 * line (so text[0..*end) is the header section, last line end included; 0 for a message
 * that starts with the empty line). false when text holds no empty line. */
bool header_section_end(const char *text, size_t len, size_t *end);
/* The same for a text that grows: text[0..searched) was already searched in vain, so only
 * what follows (and the line end just before it) is looked at. */
bool header_section_end_resume(const char *text, size_t len, size_t searched, size_t *end);

/* --- a message in memory --- */

struct header_iter {
    const char *next; /* start of the next line */
    const char *end;
};

void header_iter_init(struct header_iter *it, const char *text, size_t len);
/* The next complete field into *f. false at the empty line (it->next then points at it),
 * at the end of text, or at a last line without its LF (an incomplete continuation line
 * ends the field before it and is not returned). */
bool header_iter_next(struct header_iter *it, struct header_field *f);

/* --- a message as it arrives --- */

/* Called for each complete field; name_len may be 0 only for continuation lines that
 * came before any field. */
typedef void (*header_field_fn)(void *ctx, const struct header_field *f);

struct header_scanner {
    size_t max;       /* longest field kept, LF line ends included: a line keeps at most
                         max - 1 bytes, a continuation line that does not fit is left out */
    struct buf line;  /* the line being read, without its LF */
    struct buf field; /* the field being collected, LF line ends */
    bool line_cut;    /* the line being read was cut to max - 1 bytes */
    bool cut;         /* a line of the field being collected was cut or left out */
    bool done;        /* the header section has ended */
};

void header_scanner_init(struct header_scanner *s, size_t max);
/* Scan the next bytes of the message. Returns how many of them belong to the header
 * section: len, or fewer when it ended inside data (the line that ended it, the empty line
 * or the first body line, is counted as consumed). fn sees each field once it is complete. */
size_t header_scanner_feed(struct header_scanner *s, const char *data, size_t len,
                           header_field_fn fn, void *ctx);
/* The message ended: hand out the last field. An incomplete last line counts as a line of
 * it (or of a field of its own), and that field comes out truncated. */
void header_scanner_finish(struct header_scanner *s, header_field_fn fn, void *ctx);
bool header_scanner_done(const struct header_scanner *s);
/* Release the buffers; the scanner can be initialised again. */
void header_scanner_free(struct header_scanner *s);

#endif
