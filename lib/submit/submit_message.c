/* submit_message.c - reading a locally submitted message (see submit_message.h). */
#include "submit_message.h"
#include "header.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES (1024 * 1024)

struct hdr_state {
    struct header_scanner scan; /* the header section, bounded by the message size limit */
    bool in_bcc;                /* the last header line belongs to a Bcc field */
    bool kept_any;              /* a header line that stays in the message has been read */
};

/* A complete header field: note it, collect its addresses, keep it unless it is Bcc. */
static void header_field(void *ctx, const struct header_field *f)
{
    struct submit_message *m = ctx;
    bool bcc = header_field_is(f, "Bcc");
    m->has_date |= header_field_is(f, "Date");
    m->has_message_id |= header_field_is(f, "Message-ID");
    m->has_from |= header_field_is(f, "From");
    if (bcc || header_field_is(f, "To") || header_field_is(f, "Cc")) {
        struct buf value = BUF_INIT;
        header_field_value(f, &value);
        submit_extract_addresses(buf_cstr(&value), &m->to, &m->nto);
        buf_free(&value);
    }
    if (!bcc)
        buf_append(&m->headers, f->text, f->len);
}

/* A header line goes to the scanner; false once the header section has ended (the line
 * is then the empty line or the first body line). */
static bool header_line(struct hdr_state *h, struct submit_message *m, const char *line, size_t len)
{
    if (!header_line_continues(line, len)) {
        struct header_field f = {line, len, header_name_length(line, len), false};
        h->in_bcc = header_field_is(&f, "Bcc");
    }
    h->kept_any |= !h->in_bcc;
    header_scanner_feed(&h->scan, line, len, header_field, m);
    header_scanner_feed(&h->scan, "\n", 1, header_field, m);
    return !header_scanner_done(&h->scan);
}

static void add_line(struct hdr_state *h, struct submit_message *m, const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)line[i] >= 0x80)
            m->eight_bit = true;
    if (!header_scanner_done(&h->scan)) {
        /* An mbox "From " line before the headers is not part of the message. */
        if (!h->kept_any && len >= 5 && strncmp(line, "From ", 5) == 0)
            return;
        if (header_line(h, m, line, len))
            return;
        if (len > 0)
            buf_putc(&m->body, '\n'); /* the header section needs its empty line */
    }
    buf_append(&m->body, line, len);
    buf_putc(&m->body, '\n');
}

int submit_message_read(FILE *in, bool ignore_dots, size_t limit, struct submit_message *m, bool *too_big)
{
    memset(m, 0, sizeof *m);
    *too_big = false;
    struct hdr_state h = {.kept_any = false};
    header_scanner_init(&h.scan, limit);
    char *line = NULL;
    size_t cap = 0, total = 0;
    ssize_t n;
    int rc = 0;
    while ((n = getline(&line, &cap, in)) > 0) {
        total += (size_t)n;
        if (total > limit || (size_t)n > LINE_MAX_BYTES) {
            *too_big = true;
            rc = -1;
            break;
        }
        size_t len = (size_t)n;
        if (line[len - 1] == '\n')
            len--;
        if (len > 0 && line[len - 1] == '\r')
            len--;
        if (!ignore_dots && len == 1 && line[0] == '.')
            break;
        add_line(&h, m, line, len);
    }
    if (ferror(in))
        rc = -1;
    header_scanner_finish(&h.scan, header_field, m);
    header_scanner_free(&h.scan);
    free(line);
    return rc;
}

void submit_message_free(struct submit_message *m)
{
    buf_free(&m->headers);
    buf_free(&m->body);
    for (size_t i = 0; i < m->nto; i++)
        free(m->to[i]);
    free(m->to);
    memset(m, 0, sizeof *m);
}

static void push_address(struct buf *token, bool angle_seen, struct buf *angle, char ***v, size_t *n)
{
    struct buf *src = angle_seen ? angle : token;
    const char *s = buf_cstr(src);
    while (*s == ' ')
        s++;
    size_t len = strlen(s);
    while (len > 0 && s[len - 1] == ' ')
        len--;
    if (len > 0) {
        *v = xreallocarray(*v, *n + 1, sizeof **v);
        (*v)[(*n)++] = xstrndup(s, len);
    }
    buf_reset(token);
    buf_reset(angle);
}

/* RFC 5322 section 3.4: the elements of a mailbox-list or address-list, each the address in
 * its angle brackets when it has them, else the element without its comments. Display
 * names, quoted strings, domain literals ("[IPv6:::1]") and groups ("team: a@x, b@y;") are
 * understood; white space inside an element is kept (as one space), so junk such as "a b@c"
 * stays visibly invalid for the caller's address check instead of becoming another address. */
void submit_extract_addresses(const char *value, char ***v, size_t *n)
{
    struct buf token = BUF_INIT, angle = BUF_INIT;
    bool quoted = false, in_angle = false, angle_seen = false, literal = false;
    int comment = 0;
    for (const char *p = value; *p; p++) {
        char ch = *p;
        struct buf *out = in_angle ? &angle : &token;
        if (literal) { /* a domain literal: "[IPv6:::1]" has colons of its own */
            literal = ch != ']';
            buf_putc(out, ch);
        } else if (ch == '\\' && p[1] && (quoted || comment)) {
            p++;
            if (!comment) {
                buf_putc(out, '\\');
                buf_putc(out, *p);
            }
        } else if (comment) {
            comment += ch == '(' ? 1 : ch == ')' ? -1 : 0;
        } else if (quoted) {
            quoted = ch != '"';
            buf_putc(out, ch);
        } else if (ch == '"') {
            quoted = true;
            buf_putc(out, ch);
        } else if (ch == '[') {
            literal = true;
            buf_putc(out, ch);
        } else if (ch == '(') {
            comment = 1;
        } else if (ch == '<') {
            in_angle = angle_seen = true;
            buf_reset(&angle);
        } else if (ch == '>') {
            in_angle = false;
        } else if (ch == ':' && !in_angle) {
            buf_reset(&token); /* a group's display name */
        } else if ((ch == ',' || ch == ';') && !in_angle) {
            push_address(&token, angle_seen, &angle, v, n);
            angle_seen = false;
        } else if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
            if (out->len && out->data[out->len - 1] != ' ')
                buf_putc(out, ' ');
        } else {
            buf_putc(out, ch);
        }
    }
    push_address(&token, angle_seen, &angle, v, n);
    buf_free(&token);
    buf_free(&angle);
}
