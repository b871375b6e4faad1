/* dotstuff.h - the encoding side of the SMTP/POP3 transparency codec (RFC 5321 sec 4.5.2,
 * RFC 1939 sec 3): message text with LF (or CRLF) line ends becomes wire text with CRLF line
 * ends, a '.' that starts a line doubled, and the ".\r\n" terminator at the end. The
 * decoding side is smtp_data.h (smtp_data_decode); encoding a text and decoding the result
 * gives the text back with LF line ends. Used for POP3 RETR/TOP (lib/proto/pop3_proto.h)
 * and the SMTP client's DATA.
 *
 * A streaming state machine: the output does not depend on how the input is split into
 * chunks. A bare CR is data; CR LF stays one line end. Optionally (max_line) long lines are
 * broken, and (no_dots) the CRLF conversion runs alone. No I/O, no logging; one encoder
 * belongs to one thread; output is appended to a caller's buf. */
#ifndef POSTHORN_DOTSTUFF_H
#define POSTHORN_DOTSTUFF_H
#include "buf.h"
#include <stdbool.h>
#include <stddef.h>

struct dotstuff {
    bool line_start; /* the next byte starts a line */
    bool prev_cr;    /* the last byte of the current line was CR */
    size_t line_len; /* bytes of the current line so far, line end excluded */
    /* Set after dotstuff_init: */
    size_t max_line; /* a line longer than this is broken with CR LF SP (0: never), as
                      * Postfix's smtp_line_length_limit does (RFC 5321 sec 4.5.3.1.6) */
    bool no_dots;    /* CRLF line ends only, no dot doubling (BDAT, RFC 3030) */
};

/* What the line end consumed by dotstuff_encode_line() closed. */
struct dotstuff_line {
    bool ended; /* a line end was consumed */
    bool empty; /* that line held nothing but its line end (LF or CR LF) */
};

/* A new encoder: no line limit, dots doubled. */
void dotstuff_init(struct dotstuff *e);
/* Encode data[0..len) up to and including its first LF, appending to out; returns the
 * bytes consumed (all of them when there is no LF). For callers that count lines. */
size_t dotstuff_encode_line(struct dotstuff *e, const char *data, size_t len, struct buf *out,
                            struct dotstuff_line *line);
/* Encode all of data[0..len), appending to out. */
void dotstuff_encode(struct dotstuff *e, const char *data, size_t len, struct buf *out);
/* The end of the text: a CRLF when its last line had no line end, then ".\r\n". */
void dotstuff_finish(struct dotstuff *e, struct buf *out);

#endif
