/* smtp_reply.h - a pure parser for the replies an SMTP server sends (RFC 5321 sec 4.2), for
 * the SMTP client: fed one line at a time (without its CRLF), it collects a possibly
 * multi-line reply ("250-..." lines ending with one "250 ..." line), checks that every line
 * carries the same code, picks up an RFC 3463 enhanced status code when the first line has
 * one, and keeps the text for logs and for EHLO keyword parsing.
 *
 * Contract: no I/O, no logging, no allocation; the state lives in a caller-owned struct
 * smtp_reply (one per connection, not shared between threads). Every bound is fixed: a line
 * longer than SMTP_REPLY_LINE_MAX or a reply of more than SMTP_REPLY_LINES_MAX lines is an
 * error (the peer is broken or hostile: drop the connection); text beyond
 * SMTP_REPLY_TEXT_MAX is cut off and flagged, never an error. Control bytes in the text are
 * replaced by '?' so the text is safe to log. */
#ifndef POSTHORN_SMTP_REPLY_H
#define POSTHORN_SMTP_REPLY_H
#include <stdbool.h>
#include <stddef.h>

/* RFC 5321 sec 4.5.3.1.5 allows 512 octets per reply line; real servers send longer text,
 * so accept the text-line limit of sec 4.5.3.1.6 (1000 including CRLF). */
#define SMTP_REPLY_LINE_MAX 998
#define SMTP_REPLY_LINES_MAX 100  /* EHLO replies have about 15 lines */
#define SMTP_REPLY_TEXT_MAX 4096  /* kept text, lines joined by '\n' */
#define SMTP_STATUS_MAX 12        /* "5.123.123" and its NUL */

struct smtp_reply {
    int code;                      /* 200..559, set by the first line */
    char status[SMTP_STATUS_MAX];  /* enhanced status "5.1.1" of the first line, or "" */
    char text[SMTP_REPLY_TEXT_MAX]; /* each line's text (code, separator and status removed),
                                    * joined by '\n'; NUL-terminated */
    size_t text_len;
    unsigned lines;   /* lines accepted so far */
    bool truncated;   /* text was cut at SMTP_REPLY_TEXT_MAX */
    bool done;        /* the last line ("250 ...") was seen */
};

enum smtp_reply_step {
    SMTP_REPLY_MORE,  /* a continuation line was accepted: feed the next line */
    SMTP_REPLY_DONE,  /* the reply is complete */
    SMTP_REPLY_ERROR  /* malformed or over a bound: *err says why (static string) */
};

/* Start a new reply (also after DONE, for the next pipelined reply). */
void smtp_reply_init(struct smtp_reply *r);
/* Feed one line without its line end; line need not be NUL-terminated and may contain any
 * byte. After DONE or ERROR, feeding again is an error until smtp_reply_init(). */
enum smtp_reply_step smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len,
                                     const char **err);

/* The reply class: 2 (positive), 3 (intermediate), 4 (transient), 5 (permanent). */
static inline int smtp_reply_class(const struct smtp_reply *r) { return r->code / 100; }

/* One line for logs: "550 5.1.1 User unknown / second line"; always NUL-terminated, cut to
 * outsize. */
void smtp_reply_describe(const struct smtp_reply *r, char *out, size_t outsize);

/* Parse an RFC 3463 enhanced status code ("class.subject.detail", class 2, 4 or 5,
 * subject and detail 1 to 3 digits) at the start of s[0..len) that ends at len or a space.
 * Returns its length (0 when there is none). */
size_t smtp_status_parse(const char *s, size_t len);

#endif
