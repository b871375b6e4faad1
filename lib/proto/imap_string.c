/* imap_string.c - IMAP strings for ENVELOPE and BODYSTRUCTURE (RFC 3501 sec 4.3, RFC 9051
 * sec 4.3 and 9, RFC 6855 sec 3): a quoted string when every byte may be in one, else a
 * literal; NUL, which neither may hold, is written as 0x80 (see imap_struct.h). */
#include "imap_struct_int.h"
#include "utf8.h"
#include <stdio.h>
#include <string.h>

/* May s[0..len) be a quoted string? Not with CR, LF or NUL (0x80 in its place is 8-bit),
 * 8-bit bytes only as well-formed UTF-8 and only with IMAP_FMT_UTF8. */
static bool quotable(const char *s, size_t len, unsigned flags)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c == '\r' || c == '\n' || c == '\0')
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n = (flags & IMAP_FMT_UTF8) ? utf8_sequence_length(p + i, len - i) : 0;
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

static void put_quoted(struct buf *out, const char *s, size_t len)
{
    buf_reserve(out, len + 2);
    buf_putc(out, '"');
    size_t from = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '"' && s[i] != '\\')
            continue;
        buf_append(out, s + from, i - from);
        buf_putc(out, '\\');
        from = i;
    }
    buf_append(out, s + from, len - from);
    buf_putc(out, '"');
}

static void put_literal(struct buf *out, const char *s, size_t len)
{
    buf_printf(out, "{%zu}\r\n", len);
    size_t at = out->len;
    buf_append(out, s, len);
    char *z = out->data + at, *end = out->data + out->len;
    while ((z = memchr(z, '\0', (size_t)(end - z))) != NULL)
        *z++ = (char)0x80;
}

void imap_put_string(struct buf *out, const char *s, size_t len, unsigned flags)
{
    if (quotable(s, len, flags))
        put_quoted(out, s, len);
    else
        put_literal(out, s, len);
}

void imap_put_nstring(struct buf *out, const char *s, size_t len, unsigned flags)
{
    if (!s)
        buf_append(out, "NIL", 3);
    else
        imap_put_string(out, s, len, flags);
}

void imap_put_cstring(struct buf *out, const char *s, unsigned flags)
{
    imap_put_nstring(out, s, s ? strlen(s) : 0, flags);
}
