/* utf8.c - UTF-8 well-formedness (see utf8.h). */
#include "utf8.h"
#include <stdint.h>

/* The sequence length announced by a lead byte and the value bits it carries; 0 for a
 * byte that cannot start a sequence (C0, C1 are always overlong; F5..FF exceed U+10FFFF). */
static size_t lead_byte(unsigned char c, uint32_t *bits)
{
    size_t n = 0;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, *bits = c & 0x1Fu;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, *bits = c & 0x0Fu;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, *bits = c & 0x07u;
    return n;
}

size_t utf8_sequence_length(const unsigned char *s, size_t len)
{
    if (s[0] < 0x80)
        return 1;
    uint32_t cp = 0;
    size_t n = lead_byte(s[0], &cp);
    if (n == 0 || len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0; /* overlong or out of range */
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return 0; /* surrogate */
    return n;
}

bool utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    while (len > 0) {
        size_t n = utf8_sequence_length(p, len);
        if (n == 0)
            return false;
        p += n;
        len -= n;
    }
    return true;
}

bool utf8_is_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] & 0x80)
            return false;
    return true;
}
