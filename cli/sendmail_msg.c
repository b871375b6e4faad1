/* sendmail_msg.c - reading a message for sendmail(1): line ends normalised to LF (the queue
 * stores LF), the classic single-dot terminator unless -i, the header section found and
 * noted (Date, Message-ID, From present?), Bcc removed (RFC 5322 section 3.6.3 lets the
 * submitter drop it), and To/Cc/Bcc addresses collected for -t. */
#include "sendmail.h"
#include "mem.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LINE_MAX_BYTES (1024 * 1024)

/* A header field starts "name:" with printable ASCII other than ':' (RFC 5322 2.2). */
static size_t field_name_len(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && line[i] > 32 && line[i] < 127 && line[i] != ':')
        i++;
    return i > 0 && i < len && line[i] == ':' ? i : 0;
}

static bool is_field(const char *line, size_t namelen, const char *name)
{
    return strlen(name) == namelen && strncasecmp(line, name, namelen) == 0;
}

struct hdr_state {
    bool in_headers;
    bool skipping;      /* inside a Bcc field being dropped */
    struct buf address; /* the value of the current To/Cc/Bcc field */
    bool collecting;
};

static void end_field(struct hdr_state *h, struct sm_message *m)
{
    if (h->collecting)
        sm_extract_addresses(buf_cstr(&h->address), &m->to, &m->nto);
    h->collecting = false;
    buf_reset(&h->address);
}

/* One header line (without LF); returns false when it is not part of the header section. */
static bool header_line(struct hdr_state *h, struct sm_message *m, const char *line, size_t len)
{
    if (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
        if (h->collecting)
            buf_append(&h->address, line, len);
        if (!h->skipping) {
            buf_append(&m->headers, line, len);
            buf_putc(&m->headers, '\n');
        }
        return true;
    }
    size_t n = field_name_len(line, len);
    if (n == 0)
        return false;
    end_field(h, m);
    m->has_date |= is_field(line, n, "Date");
    m->has_message_id |= is_field(line, n, "Message-ID");
    m->has_from |= is_field(line, n, "From");
    h->skipping = is_field(line, n, "Bcc");
    if (is_field(line, n, "To") || is_field(line, n, "Cc") || is_field(line, n, "Bcc")) {
        h->collecting = true;
        buf_append(&h->address, line + n + 1, len - n - 1);
    }
    if (!h->skipping) {
        buf_append(&m->headers, line, len);
        buf_putc(&m->headers, '\n');
    }
    return true;
}

static void add_line(struct hdr_state *h, struct sm_message *m, const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)line[i] >= 0x80)
            m->eight_bit = true;
    if (h->in_headers) {
        /* An mbox "From " line before the headers is not part of the message. */
        if (m->headers.len == 0 && len >= 5 && strncmp(line, "From ", 5) == 0)
            return;
        if (header_line(h, m, line, len))
            return;
        end_field(h, m);
        h->in_headers = false;
        if (len > 0)
            buf_putc(&m->body, '\n'); /* the header section needs its empty line */
    }
    buf_append(&m->body, line, len);
    buf_putc(&m->body, '\n');
}

int sm_read_message(FILE *in, bool ignore_dots, size_t limit, struct sm_message *m, bool *too_big)
{
    memset(m, 0, sizeof *m);
    *too_big = false;
    struct hdr_state h = {.in_headers = true};
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
    end_field(&h, m);
    buf_free(&h.address);
    free(line);
    return rc;
}

void sm_message_free(struct sm_message *m)
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
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    if (len > 0) {
        *v = xreallocarray(*v, *n + 1, sizeof **v);
        (*v)[(*n)++] = xstrndup(s, len);
    }
    buf_reset(token);
    buf_reset(angle);
}

/* RFC 5322 section 3.4: mailbox-list with display names, angle addresses, quoted strings,
 * comments and groups ("team: a@x, b@y;"). */
void sm_extract_addresses(const char *value, char ***v, size_t *n)
{
    struct buf token = BUF_INIT, angle = BUF_INIT;
    bool quoted = false, in_angle = false, angle_seen = false;
    int comment = 0;
    for (const char *p = value; *p; p++) {
        char ch = *p;
        if (ch == '\\' && p[1] && (quoted || comment)) {
            p++;
            if (!comment)
                buf_putc(in_angle ? &angle : &token, *p);
        } else if (comment) {
            comment += ch == '(' ? 1 : ch == ')' ? -1 : 0;
        } else if (quoted) {
            quoted = ch != '"';
            buf_putc(in_angle ? &angle : &token, ch);
        } else if (ch == '"') {
            quoted = true;
            buf_putc(in_angle ? &angle : &token, ch);
        } else if (ch == '(') {
            comment = 1;
        } else if (ch == '<') {
            in_angle = angle_seen = true;
            buf_reset(&angle);
        } else if (ch == '>') {
            in_angle = false;
        } else if (in_angle) {
            buf_putc(&angle, ch);
        } else if (ch == ':') {
            buf_reset(&token); /* a group's display name */
        } else if (ch == ',' || ch == ';') {
            push_address(&token, angle_seen, &angle, v, n);
            angle_seen = false;
        } else if (!isspace((unsigned char)ch)) {
            buf_putc(&token, ch);
        }
    }
    push_address(&token, angle_seen, &angle, v, n);
    buf_free(&token);
    buf_free(&angle);
}
