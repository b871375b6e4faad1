/* pop3_proto.c - POP3 command parser and message output filter (see pop3_proto.h). */
#include "pop3_proto.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum argspec {
    A_NONE,     /* no argument */
    A_NAME,     /* one word (USER) */
    A_REST,     /* the rest of the line, spaces included (PASS: RFC 1939 sec 7) */
    A_APOP,     /* name and digest: parsed only to be refused */
    A_AUTH,     /* [mechanism [initial-response]] (RFC 5034 sec 4) */
    A_OPTNUM,   /* [msg] */
    A_NUM,      /* msg */
    A_TWO_NUM,  /* msg n */
};

static const struct {
    const char *kw;
    enum pop3_cmd cmd;
    enum argspec args;
} commands[] = {
    {"USER", POP3_USER, A_NAME}, {"PASS", POP3_PASS, A_REST}, {"APOP", POP3_APOP, A_APOP},
    {"AUTH", POP3_AUTH, A_AUTH}, {"STLS", POP3_STLS, A_NONE}, {"CAPA", POP3_CAPA, A_NONE},
    {"QUIT", POP3_QUIT, A_NONE}, {"STAT", POP3_STAT, A_NONE}, {"LIST", POP3_LIST, A_OPTNUM},
    {"RETR", POP3_RETR, A_NUM},  {"DELE", POP3_DELE, A_NUM},  {"NOOP", POP3_NOOP, A_NONE},
    {"RSET", POP3_RSET, A_NONE}, {"TOP", POP3_TOP, A_TWO_NUM}, {"UIDL", POP3_UIDL, A_OPTNUM},
};

/* Next space-separated word of *p (runs of spaces are one separator); NULL at the end. */
static char *word(char **p)
{
    char *s = *p;
    while (*s == ' ')
        s++;
    if (!*s) {
        *p = s;
        return NULL;
    }
    char *e = s;
    while (*e && *e != ' ')
        e++;
    if (*e)
        *e++ = 0;
    *p = e;
    return s;
}

/* RFC 1939 sec 3: numbers are decimal; at most 10 digits and within 32 bits. */
static bool number(const char *s, uint32_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 10)
        return false;
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

static enum pop3_parse numbers(char *rest, struct pop3_command *c, unsigned min, unsigned max,
                               const char **err)
{
    char *w;
    while ((w = word(&rest)) != NULL) {
        if (c->nnum == max) {
            *err = "Too many arguments";
            return POP3_PARSE_SYNTAX;
        }
        if (!number(w, &c->num[c->nnum])) {
            *err = "Invalid number";
            return POP3_PARSE_SYNTAX;
        }
        c->nnum++;
    }
    if (c->nnum < min) {
        *err = "Missing argument";
        return POP3_PARSE_SYNTAX;
    }
    return POP3_PARSE_OK;
}

static enum pop3_parse arguments(enum argspec spec, char *rest, struct pop3_command *c,
                                 const char **err)
{
    switch (spec) {
    case A_NONE:
        if (word(&rest)) {
            *err = "Unexpected argument";
            return POP3_PARSE_SYNTAX;
        }
        return POP3_PARSE_OK;
    case A_NAME:
        c->arg = word(&rest);
        if (!c->arg || word(&rest)) {
            *err = c->arg ? "Too many arguments" : "Missing user name";
            return POP3_PARSE_SYNTAX;
        }
        return POP3_PARSE_OK;
    case A_REST:
        if (!*rest) {
            *err = "Missing argument";
            return POP3_PARSE_SYNTAX;
        }
        c->arg = rest;
        return POP3_PARSE_OK;
    case A_APOP:
        c->arg = word(&rest);
        return POP3_PARSE_OK;
    case A_AUTH:
        c->arg = word(&rest);
        c->arg2 = word(&rest);
        if (c->arg2 && word(&rest)) {
            *err = "Too many arguments";
            return POP3_PARSE_SYNTAX;
        }
        return POP3_PARSE_OK;
    case A_OPTNUM:
        return numbers(rest, c, 0, 1, err);
    case A_NUM:
        return numbers(rest, c, 1, 1, err);
    case A_TWO_NUM:
        return numbers(rest, c, 2, 2, err);
    }
    return POP3_PARSE_SYNTAX;
}

enum pop3_parse pop3_parse(char *line, size_t len, struct pop3_command *c, const char **err)
{
    memset(c, 0, sizeof *c);
    *err = "Syntax error";
    if (memchr(line, 0, len)) {
        *err = "NUL byte in command";
        return POP3_PARSE_SYNTAX;
    }
    line[len] = 0;
    size_t kwlen = strcspn(line, " ");
    if (kwlen > 0 && kwlen < sizeof c->keyword) {
        for (size_t i = 0; i < kwlen; i++)
            c->keyword[i] = (char)(line[i] >= 'a' && line[i] <= 'z' ? line[i] - 32 : line[i]);
        c->keyword[kwlen] = 0;
    }
    char *rest = line + kwlen;
    if (*rest == ' ')
        rest++;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strlen(commands[i].kw) != kwlen || strncasecmp(commands[i].kw, line, kwlen) != 0)
            continue;
        c->cmd = commands[i].cmd;
        /* Trailing spaces are tolerated except inside a password. */
        if (commands[i].args != A_REST) {
            size_t n = strlen(rest);
            while (n > 0 && rest[n - 1] == ' ')
                rest[--n] = 0;
        }
        enum pop3_parse r = arguments(commands[i].args, rest, c, err);
        if (r != POP3_PARSE_OK) {
            c->arg = c->arg2 = NULL; /* never let a half-parsed password travel on */
            c->nnum = 0;
        }
        return r;
    }
    *err = "Unknown command";
    return POP3_PARSE_UNKNOWN;
}

/* --- the output filter --- */

void pop3_filter_init(struct pop3_filter *f, long long top_lines)
{
    memset(f, 0, sizeof *f);
    dotstuff_init(&f->enc);
    f->top = top_lines >= 0;
    f->lines = top_lines >= 0 ? (uint64_t)top_lines : 0;
}

bool pop3_filter_done(const struct pop3_filter *f) { return f->done; }

/* A complete line was written; empty: it had nothing but its line end. */
static void line_ended(struct pop3_filter *f, bool empty)
{
    if (!f->in_body) {
        if (empty) {
            f->in_body = true;
            if (f->top && f->lines == 0)
                f->done = true;
        }
        return;
    }
    if (f->top && --f->lines == 0)
        f->done = true;
}

void pop3_filter_chunk(struct pop3_filter *f, const char *data, size_t len, struct buf *out)
{
    buf_reserve(out, len + len / 16 + 16);
    while (len > 0 && !f->done) {
        struct dotstuff_line line;
        size_t used = dotstuff_encode_line(&f->enc, data, len, out, &line);
        if (line.ended)
            line_ended(f, line.empty);
        data += used;
        len -= used;
    }
}

void pop3_filter_end(struct pop3_filter *f, struct buf *out)
{
    dotstuff_finish(&f->enc, out);
}

bool pop3_parse_reply(enum pop3_parse r, const char *err, char *out, size_t outsize)
{
    if (r == POP3_PARSE_OK)
        return false;
    if (r == POP3_PARSE_UNKNOWN)
        snprintf(out, outsize, "-ERR Unknown command.");
    else
        snprintf(out, outsize, "-ERR %s.", err);
    return true;
}
