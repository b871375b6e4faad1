/* hex.c - hexadecimal digits and strings (see hex.h). */
#include "hex.h"

static const char upper_digits[] = "0123456789ABCDEF";

int hex_upper_digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int hex_digit_value(char c)
{
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return hex_upper_digit_value(c);
}

void hex_encode(const void *data, size_t len, struct buf *out)
{
    const unsigned char *p = data;
    buf_reserve(out, len * 2 + 1);
    for (size_t i = 0; i < len; i++) {
        buf_putc(out, upper_digits[p[i] >> 4]);
        buf_putc(out, upper_digits[p[i] & 15]);
    }
}

bool hex_decode(const char *s, size_t len, struct buf *out)
{
    if (len % 2 != 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (hex_digit_value(s[i]) < 0)
            return false;
    buf_reserve(out, len / 2 + 1);
    for (size_t i = 0; i < len; i += 2)
        buf_putc(out, (char)(hex_digit_value(s[i]) * 16 + hex_digit_value(s[i + 1])));
    return true;
}
