/* rfc2047.c - RFC 2047 encoded words to UTF-8 (see rfc2047.h).
 *
 * The value is scanned once. A word's text ends at its first '?', which must be followed by
 * '='; a text can hold no '?', so no byte is scanned as part of two candidate words' texts
 * and a value full of false starts ("=?=?=?...") still costs linear time. */
#include "rfc2047.h"
#include "charset.h"
#include "cte.h"
#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* charset "*" language, the longest honoured */
#define WORD_CHARSET_MAX (CHARSET_NAME_MAX + 32)

struct word {
    size_t cs_start, cs_len; /* the charset without its language */
    char enc;                /* 'b' or 'q' */
    size_t text_start, text_len;
    size_t end;              /* just after "?=" */
};

struct decoder {
    const char *s;
    char charset[WORD_CHARSET_MAX + 1]; /* of the pending bytes */
    struct buf pending;                 /* decoded bytes of adjacent words, one charset */
    struct buf *out;
};

static bool charset_char(char c)
{
    unsigned char u = (unsigned char)c;
    return u > 0x20 && u < 0x7f && !strchr("()<>@,;:\"/[]?.=", c);
}

/* An encoded word starting at s[i] ("=?"); false when there is none. */
static bool parse_word(const char *s, size_t i, size_t len, struct word *w)
{
    size_t j = i + 2;
    while (j < len && j - (i + 2) <= WORD_CHARSET_MAX && charset_char(s[j]))
        j++;
    if (j + 3 > len || s[j] != '?' || j == i + 2 || j - (i + 2) > WORD_CHARSET_MAX)
        return false;
    w->cs_start = i + 2;
    const char *star = memchr(s + i + 2, '*', j - (i + 2));
    w->cs_len = star ? (size_t)(star - (s + i + 2)) : j - (i + 2);
    char enc = s[j + 1];
    if ((enc != 'b' && enc != 'B' && enc != 'q' && enc != 'Q') || s[j + 2] != '?')
        return false;
    w->enc = (char)(enc | 0x20);
    w->text_start = j + 3;
    const char *q = memchr(s + w->text_start, '?', len - w->text_start);
    if (!q || (size_t)(q - s) + 1 >= len || q[1] != '=')
        return false;
    w->text_len = (size_t)(q - s) - w->text_start;
    w->end = (size_t)(q - s) + 2;
    return w->cs_len > 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void decode_q(const char *t, size_t n, struct buf *out)
{
    for (size_t i = 0; i < n; i++) {
        if (t[i] == '_') {
            buf_putc(out, ' ');
        } else if (t[i] == '=' && i + 2 < n && hex_value(t[i + 1]) >= 0 &&
                   hex_value(t[i + 2]) >= 0) {
            buf_putc(out, (char)(hex_value(t[i + 1]) * 16 + hex_value(t[i + 2])));
            i += 2;
        } else {
            buf_putc(out, t[i]);
        }
    }
}

static void flush_pending(struct decoder *d)
{
    if (d->charset[0] == '\0')
        return;
    charset_to_utf8(d->charset, d->pending.data ? d->pending.data : "", d->pending.len, d->out);
    buf_reset(&d->pending);
    d->charset[0] = '\0';
}

static void add_word(struct decoder *d, const struct word *w)
{
    const char *cs = d->s + w->cs_start;
    if (strlen(d->charset) != w->cs_len || strncasecmp(d->charset, cs, w->cs_len) != 0) {
        flush_pending(d);
        memcpy(d->charset, cs, w->cs_len);
        d->charset[w->cs_len] = '\0';
    }
    const char *t = d->s + w->text_start;
    if (w->enc == 'q') {
        decode_q(t, w->text_len, &d->pending);
    } else {
        struct cte_decoder b64;
        cte_decoder_init(&b64, CTE_BASE64);
        cte_decode(&b64, t, w->text_len, &d->pending);
        cte_decode_finish(&b64, &d->pending);
    }
}

static bool all_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

/* Plain text s[from..to) between encoded words (or around them). */
static void plain(struct decoder *d, size_t from, size_t to, bool between_words)
{
    if (from == to || (between_words && all_space(d->s + from, to - from)))
        return;
    flush_pending(d);
    charset_to_utf8(NULL, d->s + from, to - from, d->out);
}

void rfc2047_decode(const char *value, size_t len, struct buf *out)
{
    struct decoder d = { .s = value, .out = out };
    buf_init(&d.pending);
    size_t plain_from = 0, i = 0;
    bool after_word = false;
    while (i + 1 < len) {
        /* memchr, not memmem: sanitizers check memmem's whole haystack on every call */
        const char *eq = memchr(value + i, '=', len - i - 1);
        if (!eq)
            break;
        i = (size_t)(eq - value);
        struct word w;
        if (value[i + 1] != '?' || !parse_word(value, i, len, &w)) {
            i++;
            continue;
        }
        plain(&d, plain_from, i, after_word);
        add_word(&d, &w);
        i = plain_from = w.end;
        after_word = true;
    }
    plain(&d, plain_from, len, false);
    flush_pending(&d);
    buf_free(&d.pending);
    buf_cstr(out);
}
