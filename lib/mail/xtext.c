/* xtext.c - RFC 3461 xtext (see xtext.h). */
#include "xtext.h"
#include "buf.h"
#include "hex.h"

/* xchar of RFC 3461 sec 4: "!" to "~" except '+' and '='. */
static bool is_xchar(unsigned char c)
{
    return c >= 33 && c <= 126 && c != '+' && c != '=';
}

bool xtext_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '+') {
            if (i + 2 >= len || hex_upper_digit_value(s[i + 1]) < 0 ||
                hex_upper_digit_value(s[i + 2]) < 0)
                return false;
            i += 2;
        } else if (!is_xchar(c)) {
            return false;
        }
    }
    return true;
}

/* The byte of the "+XX" escape at p (p[0] == '+'), or -1 when it is not one we decode. */
static int escaped_byte(const char *p)
{
    int high = hex_digit_value(p[1]);
    int low = high >= 0 ? hex_digit_value(p[2]) : -1;
    if (high < 0 || low < 0 || (high == 0 && low == 0))
        return -1;
    return high * 16 + low;
}

char *xtext_decode(const char *s)
{
    struct buf b = BUF_INIT;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '+') {
            int byte = escaped_byte(p);
            if (byte < 0) {
                buf_free(&b);
                return NULL;
            }
            buf_putc(&b, (char)byte);
            p += 2;
        } else if (c < 33 || c == 127 || c == '=') {
            buf_free(&b);
            return NULL;
        } else {
            buf_putc(&b, (char)c);
        }
    }
    buf_cstr(&b);
    return buf_steal(&b);
}

char *xtext_encode(const char *s)
{
    struct buf b = BUF_INIT;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (is_xchar(*p)) {
            buf_putc(&b, (char)*p);
        } else {
            buf_putc(&b, '+');
            hex_encode(p, 1, &b);
        }
    }
    buf_cstr(&b);
    return buf_steal(&b);
}
