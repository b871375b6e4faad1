/* pop3_proto.h - POP3 wire syntax shared by pop3d's login and mailbox parts: the command
 * line parser (RFC 1939, RFC 2449 sec 4, RFC 5034) and the output filter that serves a
 * Maildir file (LF line ends) as a POP3 multi-line response body: the CRLF/dot-stuffing
 * encoding is lib/mail/dotstuff.h; this filter adds TOP's "the headers plus N body lines".
 * Nothing here does I/O or logs; the parser is fed untrusted lines (t/fuzz/fuzz_pop3.c). */
#ifndef POSTHORN_POP3_PROTO_H
#define POSTHORN_POP3_PROTO_H
#include "buf.h"
#include "dotstuff.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pop3_cmd {
    POP3_UNKNOWN = 0,
    POP3_USER, POP3_PASS, POP3_APOP, POP3_AUTH, POP3_STLS, POP3_CAPA, POP3_QUIT,
    POP3_STAT, POP3_LIST, POP3_RETR, POP3_DELE, POP3_NOOP, POP3_RSET, POP3_TOP, POP3_UIDL,
};

struct pop3_command {
    enum pop3_cmd cmd;
    char keyword[8];   /* upper-cased keyword as sent (for logs), "" when too long */
    unsigned nnum;     /* numeric arguments present (LIST/UIDL: 0 or 1; RETR/DELE 1; TOP 2) */
    uint32_t num[2];   /* message number, TOP's line count */
    const char *arg;   /* USER name, PASS text (rest of line), AUTH mechanism; else NULL */
    const char *arg2;  /* AUTH initial response, or NULL */
};

enum pop3_parse {
    POP3_PARSE_OK,
    POP3_PARSE_UNKNOWN, /* not a command we know */
    POP3_PARSE_SYNTAX   /* known command, bad arguments: *err says what */
};

/* Parse one command line (without its CRLF) in place: line is modified and c->arg/arg2
 * point into it. A NUL byte inside the line (len) is a syntax error. */
enum pop3_parse pop3_parse(char *line, size_t len, struct pop3_command *c, const char **err);
/* The -ERR reply for a line pop3_parse() refused (r and err as it returned them), written
 * into out; false (out untouched) when r is POP3_PARSE_OK. */
bool pop3_parse_reply(enum pop3_parse r, const char *err, char *out, size_t outsize);

/* --- serving a message --- */
struct pop3_filter {
    struct dotstuff enc; /* CRLF line ends and dot-stuffing */
    bool in_body;    /* past the empty line that ends the header */
    bool top;        /* TOP: stop after `lines` body lines */
    bool done;       /* TOP limit reached: ignore further input */
    uint64_t lines;  /* body lines still to send (TOP) */
};

/* top_lines < 0: the whole message (RETR); else TOP with that many body lines. */
void pop3_filter_init(struct pop3_filter *f, long long top_lines);
/* Convert the next chunk of the file: bare LF -> CRLF, '.' at a line start -> "..".
 * Appends to out. */
void pop3_filter_chunk(struct pop3_filter *f, const char *data, size_t len, struct buf *out);
/* End of the message: appends a CRLF when the last line had none, then ".\r\n". */
void pop3_filter_end(struct pop3_filter *f, struct buf *out);
/* True when a TOP filter needs no more input. */
bool pop3_filter_done(const struct pop3_filter *f);

#endif
