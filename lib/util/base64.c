/* base64.c - strict RFC 4648 base64 (see base64.h). */
#include "base64.h"
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_encode(const void *data, size_t len, struct buf *out)
{
    const unsigned char *p = data;
    buf_reserve(out, (len + 2) / 3 * 4 + 1);
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        buf_putc(out, alphabet[(v >> 18) & 63]);
        buf_putc(out, alphabet[(v >> 12) & 63]);
        buf_putc(out, i + 1 < len ? alphabet[(v >> 6) & 63] : '=');
        buf_putc(out, i + 2 < len ? alphabet[v & 63] : '=');
    }
}

static int alphabet_value(char c)
{
    const char *p = c ? strchr(alphabet, c) : NULL;
    return p ? (int)(p - alphabet) : -1;
}

/* One group of four characters into values; padding ('=') is -1 and allowed only as the
 * last one or two characters of the last group. */
static bool group_values(const char *s, bool last, int v[4])
{
    for (int k = 0; k < 4; k++) {
        v[k] = alphabet_value(s[k]);
        if (v[k] < 0 && !(last && k >= 2 && s[k] == '='))
            return false;
    }
    return !(v[2] < 0 && v[3] >= 0); /* "xx=x" */
}

bool base64_decode(const char *s, size_t len, struct buf *out)
{
    if (len % 4 != 0)
        return false;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        if (!group_values(s + i, i + 4 == len, v))
            return false;
        unsigned bits = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 |
                        (unsigned)(v[2] < 0 ? 0 : v[2]) << 6 | (unsigned)(v[3] < 0 ? 0 : v[3]);
        buf_putc(out, (char)(bits >> 16));
        if (v[2] >= 0)
            buf_putc(out, (char)(bits >> 8));
        if (v[3] >= 0)
            buf_putc(out, (char)bits);
    }
    return true;
}
