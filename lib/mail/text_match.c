/* text_match.c - case-insensitive UTF-8 substring search (see text_match.h). Both sides
 * are folded (text_fold) and compared bytewise with memmem; a streaming search keeps the
 * last needle-length-minus-one folded bytes so a match may straddle two chunks. */
#include "text_match.h"
#include "utf8.h"
#include <string.h>

/* Latin Extended-A U+0100..U+017F: which member of each case pair is the capital. */
static uint32_t fold_latin_ext_a(uint32_t cp)
{
    if (cp == 0x0130)
        return cp; /* I WITH DOT ABOVE: no simple folding */
    if (cp == 0x0178)
        return 0x00FF;
    if (cp == 0x017F)
        return 's';
    bool even_capital = (cp <= 0x0137) || (cp >= 0x014A && cp <= 0x0177);
    bool odd_capital = (cp >= 0x0139 && cp <= 0x0148) || (cp >= 0x0179 && cp <= 0x017E);
    if ((even_capital && cp % 2 == 0) || (odd_capital && cp % 2 == 1))
        return cp + 1;
    return cp;
}

static uint32_t fold_greek(uint32_t cp)
{
    if (cp == 0x0386)
        return 0x03AC;
    if (cp >= 0x0388 && cp <= 0x038A)
        return cp + 37;
    if (cp == 0x038C)
        return 0x03CC;
    if (cp == 0x038E || cp == 0x038F)
        return cp + 63;
    if ((cp >= 0x0391 && cp <= 0x03A1) || (cp >= 0x03A3 && cp <= 0x03AB))
        return cp + 32;
    if (cp == 0x03C2)
        return 0x03C3;
    return cp;
}

uint32_t text_fold_code_point(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    if (cp == 0x00B5)
        return 0x03BC;
    if (cp >= 0x00C0 && cp <= 0x00DE && cp != 0x00D7)
        return cp + 32;
    if (cp >= 0x0100 && cp <= 0x017F)
        return fold_latin_ext_a(cp);
    if (cp >= 0x0386 && cp <= 0x03C2)
        return fold_greek(cp);
    if (cp >= 0x0400 && cp <= 0x040F)
        return cp + 80;
    if (cp >= 0x0410 && cp <= 0x042F)
        return cp + 32;
    if (cp == 0x1E9E)
        return 0x00DF;
    if (cp == 0x212A)
        return 'k';
    if (cp == 0x212B)
        return 0x00E5;
    return cp;
}

static uint32_t decode(const unsigned char *s, size_t n)
{
    if (n == 1)
        return s[0];
    uint32_t cp = s[0] & (n == 2 ? 0x1Fu : n == 3 ? 0x0Fu : 0x07u);
    for (size_t i = 1; i < n; i++)
        cp = (cp << 6) | (s[i] & 0x3Fu);
    return cp;
}

static void encode(uint32_t cp, struct buf *out)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6)), n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12)), n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18)), n = 4;
    }
    for (size_t i = 1; i < n; i++)
        b[i] = (char)(0x80 | ((cp >> (6 * (n - 1 - i))) & 0x3F));
    buf_append(out, b, n);
}

void text_fold(const char *s, size_t len, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    buf_reserve(out, len);
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) {
            buf_putc(out, (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]));
            i++;
            continue;
        }
        size_t n = utf8_sequence_length(p + i, len - i);
        if (n == 0) {
            buf_putc(out, (char)p[i]);
            i++;
            continue;
        }
        encode(text_fold_code_point(decode(p + i, n)), out);
        i += n;
    }
    buf_cstr(out);
}

bool text_contains(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
    struct text_match m;
    text_match_init(&m, needle, nlen);
    bool found = text_match_feed(&m, hay, hlen);
    text_match_free(&m);
    return found;
}

void text_match_init(struct text_match *m, const char *needle, size_t len)
{
    buf_init(&m->needle);
    buf_init(&m->window);
    text_fold(needle, len, &m->needle);
    text_match_restart(m);
}

void text_match_restart(struct text_match *m)
{
    buf_reset(&m->window);
    m->npend = 0;
    m->found = m->needle.len == 0;
}

/* How many bytes at the end of s[0..len) are a character cut short (0..3). */
static size_t cut_tail(const char *s, size_t len)
{
    for (size_t back = 1; back <= 3 && back <= len; back++) {
        unsigned char c = (unsigned char)s[len - back];
        if ((c & 0xC0) == 0x80)
            continue; /* a continuation byte: look further back for the lead */
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > back ? back : 0;
    }
    return 0;
}

bool text_match_feed(struct text_match *m, const char *s, size_t len)
{
    if (m->found || len == 0)
        return m->found;
    struct buf joined = BUF_INIT;
    if (m->npend > 0) { /* the cut character goes on in this chunk */
        buf_append(&joined, m->pend, m->npend);
        buf_append(&joined, s, len);
        s = joined.data;
        len = joined.len;
    }
    size_t cut = cut_tail(s, len);
    text_fold(s, len - cut, &m->window);
    memcpy(m->pend, s + len - cut, cut);
    m->npend = cut;
    buf_free(&joined);
    size_t nl = m->needle.len;
    if (m->window.len >= nl && memmem(m->window.data, m->window.len, m->needle.data, nl)) {
        m->found = true;
        return true;
    }
    if (m->window.len >= nl)
        buf_consume(&m->window, m->window.len - (nl - 1));
    return false;
}

bool text_match_found(const struct text_match *m) { return m->found; }

void text_match_free(struct text_match *m)
{
    buf_free(&m->needle);
    buf_free(&m->window);
}
