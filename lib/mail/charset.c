/* charset.c - MIME charsets to UTF-8 (see charset.h): UTF-8 checked by hand, the
 * single-byte Western charsets by table, everything else through iconv(3). A feed that
 * leaves an incomplete character keeps its bytes and joins them with the next feed. */
#include "charset.h"
#include "mem.h"
#include "utf8.h"
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum cs_kind { CS_UTF8, CS_CP1252, CS_LATIN9, CS_ICONV };

#define PENDING_MAX 16

struct charset_conv {
    enum cs_kind kind;
    bool known;
    iconv_t cd;
    size_t npend;
    char pend[PENDING_MAX];
};

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* windows-1252 0x80..0x9F (the five it leaves undefined map to the C1 controls). */
static const uint16_t cp1252_high[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

static bool name_in(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (strcasecmp(name, *list) == 0)
            return true;
    return false;
}

/* A name iconv may see: letters, digits and "-_.:+", not too long. */
static bool safe_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > CHARSET_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr("-_.:+", c);
        if (!ok)
            return false;
    }
    return true;
}

struct charset_conv *charset_conv_new(const char *charset)
{
    static const char *const utf8[] = { "utf-8", "utf8", NULL };
    static const char *const ascii[] = { "us-ascii", "ascii", NULL };
    static const char *const cp1252[] = { "windows-1252", "cp1252", "x-cp1252", "iso-8859-1",
                                          "iso8859-1", "iso_8859-1", "latin1", "l1", NULL };
    static const char *const latin9[] = { "iso-8859-15", "iso8859-15", "iso_8859-15",
                                          "latin-9", "latin9", NULL };
    struct charset_conv *c = xcalloc(1, sizeof *c);
    c->kind = CS_UTF8;
    c->cd = (iconv_t)-1;
    if (!charset || name_in(charset, ascii))
        return c;
    c->known = true;
    if (name_in(charset, utf8))
        return c;
    if (name_in(charset, cp1252)) {
        c->kind = CS_CP1252;
        return c;
    }
    if (name_in(charset, latin9)) {
        c->kind = CS_LATIN9;
        return c;
    }
    if (safe_name(charset))
        c->cd = iconv_open("UTF-8", charset);
    if (c->cd == (iconv_t)-1)
        c->known = false;
    else
        c->kind = CS_ICONV;
    return c;
}

bool charset_conv_known(const struct charset_conv *c) { return c->known; }

static void put_code_point(uint32_t cp, struct buf *out)
{
    char b[3];
    if (cp < 0x80) {
        buf_putc(out, (char)cp);
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        buf_append(out, b, 2);
    } else {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        buf_append(out, b, 3);
    }
}

static uint32_t single_byte(enum cs_kind kind, unsigned char b)
{
    if (kind == CS_CP1252 && b >= 0x80 && b < 0xA0)
        return cp1252_high[b - 0x80];
    if (kind == CS_LATIN9) {
        switch (b) {
        case 0xA4: return 0x20AC;
        case 0xA6: return 0x0160;
        case 0xA8: return 0x0161;
        case 0xB4: return 0x017D;
        case 0xB8: return 0x017E;
        case 0xBC: return 0x0152;
        case 0xBD: return 0x0153;
        case 0xBE: return 0x0178;
        default: break;
        }
    }
    return b;
}

/* Could s[0..n) (n < the length its lead byte announces) still become a valid sequence? */
static bool utf8_prefix(const unsigned char *s, size_t n)
{
    size_t need = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
                  : s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : 0;
    if (need == 0 || n >= need)
        return false;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return false;
    return true;
}

/* UTF-8 in, UTF-8 out; returns how many trailing bytes are an incomplete character. */
static size_t feed_utf8(const char *in, size_t len, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t i = 0;
    while (i < len) {
        size_t run = i;
        while (run < len && p[run] < 0x80)
            run++;
        buf_append(out, in + i, run - i);
        i = run;
        if (i == len)
            break;
        size_t n = utf8_sequence_length(p + i, len - i);
        if (n > 0) {
            buf_append(out, in + i, n);
            i += n;
        } else if (utf8_prefix(p + i, len - i)) {
            return len - i;
        } else {
            buf_append(out, replacement, 3);
            i++;
        }
    }
    return 0;
}

/* iconv; returns how many trailing bytes are an incomplete character. */
static size_t feed_iconv(iconv_t cd, const char *in, size_t len, struct buf *out)
{
    char *ip = (char *)in;
    size_t ileft = len;
    while (ileft > 0) {
        buf_reserve(out, (ileft < 16384 ? ileft : 16384) * 4 + 16);
        char *op = out->data + out->len;
        size_t oleft = out->cap - out->len - 1, before = oleft;
        size_t r = iconv(cd, &ip, &ileft, &op, &oleft);
        out->len += before - oleft;
        out->data[out->len] = '\0';
        if (r != (size_t)-1 || errno == E2BIG)
            continue;
        if (errno == EINVAL && ileft <= PENDING_MAX)
            return ileft;
        buf_append(out, replacement, 3); /* EILSEQ, or an impossibly long tail */
        ip++;
        ileft--;
    }
    return 0;
}

void charset_conv_feed(struct charset_conv *c, const char *in, size_t len, struct buf *out)
{
    if (c->kind == CS_CP1252 || c->kind == CS_LATIN9) {
        for (size_t i = 0; i < len; i++)
            put_code_point(single_byte(c->kind, (unsigned char)in[i]), out);
        return;
    }
    struct buf joined = BUF_INIT;
    if (c->npend > 0) {
        buf_append(&joined, c->pend, c->npend);
        buf_append(&joined, in, len);
        in = joined.data;
        len = joined.len;
    }
    size_t left;
    if (c->kind == CS_ICONV) {
        /* iconv's output checked as UTF-8 too: glibc's UTF-8 "conversion" from a name it
         * takes for UTF-8 (an alias, "u+tf-8") passed 5-byte sequences through (fuzz_imap_struct) */
        struct buf got = BUF_INIT;
        left = feed_iconv(c->cd, in, len, &got);
        size_t bad = feed_utf8(got.data ? got.data : "", got.len, out);
        for (size_t i = 0; i < bad; i++) /* a sequence cut short: iconv writes whole ones */
            buf_append(out, replacement, 3);
        buf_free(&got);
    } else {
        left = feed_utf8(in, len, out);
    }
    memcpy(c->pend, in + len - left, left);
    c->npend = left;
    buf_free(&joined);
}

void charset_conv_finish(struct charset_conv *c, struct buf *out)
{
    if (c->npend > 0)
        buf_append(out, replacement, 3);
    c->npend = 0;
    if (c->kind == CS_ICONV)
        iconv(c->cd, NULL, NULL, NULL, NULL); /* back to the initial shift state */
    buf_cstr(out);
}

void charset_conv_free(struct charset_conv *c)
{
    if (!c)
        return;
    if (c->kind == CS_ICONV)
        iconv_close(c->cd);
    free(c);
}

void charset_to_utf8(const char *charset, const char *in, size_t len, struct buf *out)
{
    struct charset_conv *c = charset_conv_new(charset);
    charset_conv_feed(c, in, len, out);
    charset_conv_finish(c, out);
    charset_conv_free(c);
}
