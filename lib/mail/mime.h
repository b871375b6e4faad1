/* mime.h - a streaming MIME structure parser (RFC 2045, RFC 2046): fed a message in chunks of
 * any size, it reports the tree of parts with the byte offsets, sizes and line counts of each
 * part's header and body and the Content-* fields IMAP (ENVELOPE, BODYSTRUCTURE) and DKIM
 * need. The tree does not depend on how the input is split into chunks.
 *
 * Contract:
 * - No I/O, no logging. The parser copies what it keeps; the caller owns the chunks it feeds
 *   and may reuse them at once. The tree returned by mime_finish() belongs to the parser and
 *   lives until mime_parser_free(). One parser per message, one thread at a time.
 * - Every input is accepted: malformed structure still gives a tree (see the MIME_PART_*
 *   flags). Running out of memory is fatal (mem.h), as everywhere in Posthorn.
 * - Bounded: at most max_depth levels of nesting and max_parts parts; a header field is kept
 *   up to max_header_line bytes (unfolded). Past a limit the rest of the composite part is
 *   opaque: it is reported as one body without children (flags say which limit). Work is
 *   linear in the input (times the nesting depth for boundary checks).
 *
 * Structure rules:
 * - Lines end in LF or CRLF. A header ends at its first empty line (which the header
 *   includes) or, when there is none, at the end of the part (MIME_PART_HEADER_UNTERMINATED).
 * - multipart (any subtype): a delimiter line is "--" boundary, optionally "--" (the closing
 *   one), then only spaces and tabs (transport padding) up to the line end; the line end
 *   before it belongs to the delimiter, not to the body before it (RFC 2046 sec 5.1.1), unless
 *   that line end is the one ending the header of the part it closes. A delimiter
 *   line longer than MIME_DELIMITER_LINE_MAX bytes is ordinary text. Every enclosing
 *   multipart's delimiters are recognised, innermost first, so a missing closing delimiter
 *   ends at the enclosing one or at the end of the message (MIME_PART_UNTERMINATED). The
 *   preamble and epilogue belong to the multipart's body and to no child.
 * - message/rfc822 and message/global bodies are parsed as one nested message (one child).
 * - Composite types are parsed only with no Content-Transfer-Encoding or 7bit/8bit/binary.
 * - Of each Content-* field the first occurrence counts.
 * - Line counts: the number of LFs in the range, plus one when the range is not empty and
 *   does not end in LF (IMAP's body "lines"). */
#ifndef POSTHORN_MIME_H
#define POSTHORN_MIME_H
#include <stddef.h>

#define MIME_NONE ((size_t)-1)
/* Longest boundary parameter value honoured (RFC 2046 allows 70), and the longest line that
 * can be a delimiter line ("--" boundary "--" and transport padding). */
#define MIME_BOUNDARY_MAX 200
#define MIME_DELIMITER_LINE_MAX 256
/* Hard caps on the limits a caller may ask for. */
#define MIME_DEPTH_CAP 1000
#define MIME_HEADER_LINE_CAP (1024 * 1024)

struct mime_limits {
    unsigned max_depth;     /* the top-level message is depth 0; its children depth 1 */
    size_t max_parts;       /* parts in the whole tree, the top-level message included (>= 1) */
    size_t max_header_line; /* longest header field kept, unfolded, in bytes (>= 1) */
};

#define MIME_LIMITS_DEFAULT { 32, 10000, 16384 }

enum mime_part_flag {
    MIME_PART_DEFAULT_TYPE = 1 << 0,        /* no valid Content-Type: the default type applies */
    MIME_PART_LONG_FIELD = 1 << 1,          /* a Content-* field over max_header_line: ignored */
    MIME_PART_NO_BOUNDARY = 1 << 2,         /* multipart without a usable boundary: a leaf */
    MIME_PART_OPAQUE = 1 << 3,              /* composite not parsed: depth limit or encoding */
    MIME_PART_TRUNCATED = 1 << 4,           /* part limit: later children are not reported */
    MIME_PART_UNTERMINATED = 1 << 5,        /* multipart without its closing delimiter */
    MIME_PART_HEADER_UNTERMINATED = 1 << 6, /* the header has no empty line ending it */
};

/* A parameter (RFC 2045 sec 5.1): name lower-cased; value with quotes and quoted-pairs
 * removed, case kept. RFC 2231 names ("name*", "name*0*") are kept as they are, undecoded. */
struct mime_param {
    char *name;
    char *value;
};

struct mime_part {
    /* Tree, as indexes into the array mime_finish() returns (MIME_NONE when absent). Parts
     * are in document order, so a part's children and descendants come after it. */
    size_t parent, first_child, next_sibling;
    unsigned depth;
    unsigned flags; /* enum mime_part_flag */
    /* Byte offsets in the message; body_offset == header_offset + header_size. */
    size_t header_offset, header_size, header_lines;
    size_t body_offset, body_size, body_lines;
    /* Content-Type, lower-cased; always set (default text/plain, or message/rfc822 inside
     * multipart/digest). */
    char *type, *subtype;
    struct mime_param *params;
    size_t n_params;
    char *encoding;           /* Content-Transfer-Encoding lower-cased, or NULL */
    char *id;                 /* Content-ID as written (unfolded, trimmed), or NULL */
    char *description;        /* Content-Description likewise, or NULL */
    char *disposition;        /* Content-Disposition type lower-cased, or NULL */
    struct mime_param *disposition_params;
    size_t n_disposition_params;
    char *language;           /* Content-Language as written (unfolded, trimmed), or NULL */
};

struct mime_parser;

/* A parser for one message; limits NULL means MIME_LIMITS_DEFAULT. Returns NULL and sets
 * *err when a limit is zero or above its cap. */
struct mime_parser *mime_parser_new(const struct mime_limits *limits, const char **err);
/* Feed the next len bytes of the message (ignored after mime_finish). */
void mime_feed(struct mime_parser *p, const void *data, size_t len);
/* The end of the message: closes every open part and returns the tree (part 0 is the whole
 * message) and its size in *count. Calling it again returns the same tree. */
const struct mime_part *mime_finish(struct mime_parser *p, size_t *count);
void mime_parser_free(struct mime_parser *p);

/* The value of the parameter named name (ASCII case-insensitive), or NULL. */
const char *mime_param_get(const struct mime_param *params, size_t n, const char *name);

#endif
