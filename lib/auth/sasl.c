/* sasl.c - base64 and the PLAIN/LOGIN mechanisms' message formats (see sasl.h). */
#include "sasl.h"
#include "mem.h"
#include <bsd/string.h>
#include <stdlib.h>
#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

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
        buf_putc(out, b64[(v >> 18) & 63]);
        buf_putc(out, b64[(v >> 12) & 63]);
        buf_putc(out, i + 1 < len ? b64[(v >> 6) & 63] : '=');
        buf_putc(out, i + 2 < len ? b64[v & 63] : '=');
    }
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

bool base64_decode(const char *s, size_t len, struct buf *out)
{
    if (len % 4 != 0)
        return false;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        bool last = i + 4 == len;
        for (int k = 0; k < 4; k++) {
            v[k] = b64_value(s[i + k]);
            if (v[k] < 0 && !(last && k >= 2 && s[i + k] == '='))
                return false;
        }
        if (v[2] < 0 && v[3] >= 0) /* "x=y=" style padding */
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

bool sasl_plain_parse(const char *msg, size_t len, struct sasl_creds *creds)
{
    const char *nul1 = memchr(msg, 0, len);
    if (!nul1)
        return false;
    const char *authc = nul1 + 1;
    size_t left = len - (size_t)(authc - msg);
    const char *nul2 = memchr(authc, 0, left);
    if (!nul2)
        return false;
    size_t alen = (size_t)(nul2 - authc), zlen = (size_t)(nul1 - msg);
    const char *pw = nul2 + 1;
    size_t plen = len - (size_t)(pw - msg);
    if (alen == 0 || alen > 255 || plen == 0 || plen > 255 || zlen > 255 || memchr(pw, 0, plen))
        return false;
    creds->authzid = zlen ? xstrndup(msg, zlen) : NULL;
    creds->authcid = xstrndup(authc, alen);
    creds->passwd = xstrndup(pw, plen);
    return true;
}

static void wipe(char **s)
{
    if (*s) {
        explicit_bzero(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

void sasl_creds_free(struct sasl_creds *creds)
{
    wipe(&creds->authzid);
    wipe(&creds->authcid);
    wipe(&creds->passwd);
}
