/* imap_utf7.c - modified UTF-7 mailbox names (see imap_utf7.h). */
#include "imap_utf7.h"
#include "buf.h"
#include "mem.h"
#include "utf8.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64_value(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

static uint32_t utf8_decode(const unsigned char *s, size_t n)
{
    if (n == 1)
        return s[0];
    uint32_t cp = s[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++)
        cp = (cp << 6) | (s[i] & 0x3f);
    return cp;
}

/* The UTF-16 units of a run of non-ASCII characters, base64 without padding. */
static void encode_run(struct buf *out, const uint16_t *u, size_t n)
{
    uint32_t bits = 0;
    int nbits = 0;
    buf_putc(out, '&');
    for (size_t i = 0; i < n; i++) {
        bits = (bits << 16) | u[i];
        nbits += 16;
        while (nbits >= 6) {
            nbits -= 6;
            buf_putc(out, b64[(bits >> nbits) & 0x3f]);
        }
    }
    if (nbits > 0)
        buf_putc(out, b64[(bits << (6 - nbits)) & 0x3f]);
    buf_putc(out, '-');
}

char *imap_utf8_to_mutf7(const char *s, size_t len)
{
    if (!utf8_valid(s, len))
        return NULL;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return NULL; /* no control characters in mailbox names */
    struct buf out = BUF_INIT;
    uint16_t *run = xreallocarray(NULL, (len + 1) * 2, sizeof *run);
    size_t nrun = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f) {
            if (nrun)
                encode_run(&out, run, nrun), nrun = 0;
            buf_puts(&out, c == '&' ? "&-" : (char[]){(char)c, 0});
            i++;
            continue;
        }
        size_t n = utf8_sequence_length((const unsigned char *)s + i, len - i);
        uint32_t cp = utf8_decode((const unsigned char *)s + i, n);
        i += n;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            run[nrun++] = (uint16_t)(0xd800 | (cp >> 10));
            run[nrun++] = (uint16_t)(0xdc00 | (cp & 0x3ff));
        } else {
            run[nrun++] = (uint16_t)cp;
        }
    }
    if (nrun)
        encode_run(&out, run, nrun);
    free(run);
    if (!out.data)
        buf_puts(&out, "");
    return buf_steal(&out);
}

static void put_utf8(struct buf *out, uint32_t cp)
{
    char t[4];
    size_t n;
    if (cp < 0x80)
        t[0] = (char)cp, n = 1;
    else if (cp < 0x800)
        t[0] = (char)(0xc0 | (cp >> 6)), t[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    else if (cp < 0x10000)
        t[0] = (char)(0xe0 | (cp >> 12)), t[1] = (char)(0x80 | ((cp >> 6) & 0x3f)),
        t[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    else
        t[0] = (char)(0xf0 | (cp >> 18)), t[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), t[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    buf_append(out, t, n);
}

/* One "&...-" run starting after the '&'; *p ends after the '-'. False when invalid. */
static bool decode_run(const char **p, struct buf *out)
{
    uint32_t bits = 0, high = 0;
    int nbits = 0;
    size_t units = 0;
    const char *q = *p;
    for (; *q && *q != '-'; q++) {
        int v = b64_value(*q);
        if (v < 0)
            return false;
        bits = (bits << 6) | (uint32_t)v;
        nbits += 6;
        if (nbits < 16)
            continue;
        nbits -= 16;
        uint32_t u = (bits >> nbits) & 0xffff;
        units++;
        if (high) {
            if (u < 0xdc00 || u > 0xdfff)
                return false;
            put_utf8(out, 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00));
            high = 0;
        } else if (u >= 0xd800 && u <= 0xdbff) {
            high = u;
        } else if ((u >= 0xdc00 && u <= 0xdfff) || u < 0x80) {
            /* a lone low surrogate; printable ASCII must not be encoded, and a mailbox
             * name holds no control characters */
            return false;
        } else {
            put_utf8(out, u);
        }
    }
    /* RFC 3501 sec 5.1.3 (RFC 2152): the leftover bits are zero and fewer than 6. */
    if (*q != '-' || units == 0 || high || nbits >= 6 || (bits & ((1u << nbits) - 1)))
        return false;
    *p = q + 1;
    return true;
}

char *imap_mutf7_to_utf8(const char *s)
{
    struct buf out = BUF_INIT;
    bool after_run = false;
    for (const char *p = s; *p;) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c >= 0x7f)
            goto bad;
        if (c != '&') {
            buf_putc(&out, (char)c);
            p++;
            after_run = false;
        } else if (p[1] == '-') {
            buf_putc(&out, '&');
            p += 2;
            after_run = false;
        } else {
            /* Two runs in a row are one run written twice: not the canonical form, which
             * the names on disk must be (one name, one spelling). */
            if (after_run)
                goto bad;
            p++;
            if (!decode_run(&p, &out))
                goto bad;
            after_run = true;
        }
    }
    if (!out.data)
        buf_puts(&out, "");
    return buf_steal(&out);
bad:
    buf_free(&out);
    return NULL;
}

bool imap_mutf7_valid(const char *s)
{
    char *u = imap_mutf7_to_utf8(s);
    free(u);
    return u != NULL;
}
