/* smtp_reply.c - the SMTP reply parser of the client side (see smtp_reply.h). */
#include "smtp_reply.h"
#include <stdio.h>
#include <string.h>

void smtp_reply_init(struct smtp_reply *r)
{
    r->code = 0;
    r->status[0] = 0;
    r->text[0] = 0;
    r->text_len = 0;
    r->lines = 0;
    r->truncated = false;
    r->done = false;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* 1 to 3 digits at s[*i]; advances *i. */
static bool digits_1_3(const char *s, size_t len, size_t *i)
{
    size_t start = *i;
    while (*i < len && *i - start < 3 && is_digit(s[*i]))
        (*i)++;
    return *i > start;
}

size_t smtp_status_parse(const char *s, size_t len)
{
    if (len < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
        return 0;
    size_t i = 2;
    if (!digits_1_3(s, len, &i) || i >= len || s[i] != '.')
        return 0;
    i++;
    if (!digits_1_3(s, len, &i))
        return 0;
    return i == len || s[i] == ' ' ? i : 0;
}

/* The reply code of RFC 5321 sec 4.2: first digit 2-5, second 0-5, third 0-9. */
static int parse_code(const char *line, size_t len)
{
    if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' ||
        !is_digit(line[2]))
        return 0;
    return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

static void append_char(struct smtp_reply *r, char c)
{
    if (r->text_len + 1 >= sizeof r->text) {
        r->truncated = true;
        return;
    }
    r->text[r->text_len++] = c;
    r->text[r->text_len] = 0;
}

/* Control bytes (but tab) become '?' so the text is safe to log. */
static void append_text(struct smtp_reply *r, const char *s, size_t len)
{
    for (size_t i = 0; i < len && !r->truncated; i++) {
        unsigned char c = (unsigned char)s[i];
        append_char(r, (c < 32 && c != '\t') || c == 127 ? '?' : (char)c);
    }
}

/* Keep one line's text; the first line's enhanced status is taken out of every line that
 * repeats it (RFC 2034 sec 3 puts it on each line). */
static void keep_text(struct smtp_reply *r, const char *text, size_t len)
{
    size_t st = smtp_status_parse(text, len);
    if (r->lines == 0 && st > 0 && text[0] == '0' + r->code / 100) {
        memcpy(r->status, text, st);
        r->status[st] = 0;
    }
    if (st > 0 && r->status[0] && st == strlen(r->status) && memcmp(text, r->status, st) == 0) {
        text += st;
        len -= st;
        if (len > 0) { /* the space after the status */
            text++;
            len--;
        }
    }
    if (r->lines > 0)
        append_char(r, '\n');
    append_text(r, text, len);
}

static enum smtp_reply_step fail(const char **err, const char *why)
{
    *err = why;
    return SMTP_REPLY_ERROR;
}

enum smtp_reply_step smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len,
                                     const char **err)
{
    *err = NULL;
    if (r->done)
        return fail(err, "line after the end of the reply");
    if (len > SMTP_REPLY_LINE_MAX)
        return fail(err, "reply line too long");
    if (r->lines >= SMTP_REPLY_LINES_MAX)
        return fail(err, "too many reply lines");
    int code = parse_code(line, len);
    if (code == 0)
        return fail(err, "malformed reply code");
    if (r->lines > 0 && code != r->code)
        return fail(err, "reply code changes within a multi-line reply");
    if (len > 3 && line[3] != ' ' && line[3] != '-')
        return fail(err, "malformed reply line (no space or hyphen after the code)");
    bool last = len == 3 || line[3] == ' ';
    r->code = code;
    keep_text(r, len > 4 ? line + 4 : "", len > 4 ? len - 4 : 0);
    r->lines++;
    r->done = last;
    return last ? SMTP_REPLY_DONE : SMTP_REPLY_MORE;
}

static void put_char(char *out, size_t outsize, size_t *n, char c)
{
    if (*n + 1 < outsize)
        out[(*n)++] = c;
}

static void put_str(char *out, size_t outsize, size_t *n, const char *s)
{
    while (*s)
        put_char(out, outsize, n, *s++);
}

void smtp_reply_describe(const struct smtp_reply *r, char *out, size_t outsize)
{
    if (outsize == 0)
        return;
    char code[8];
    size_t n = 0;
    snprintf(code, sizeof code, "%03d", r->code);
    put_str(out, outsize, &n, code);
    if (r->status[0]) {
        put_char(out, outsize, &n, ' ');
        put_str(out, outsize, &n, r->status);
    }
    if (r->text_len > 0)
        put_char(out, outsize, &n, ' ');
    for (size_t i = 0; i < r->text_len; i++) {
        if (r->text[i] == '\n')
            put_str(out, outsize, &n, " / ");
        else
            put_char(out, outsize, &n, r->text[i]);
    }
    out[n] = 0;
}
