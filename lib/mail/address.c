/* address.c - RFC 5321 local parts quoted when they need it (see address.h). */
#include "address.h"
#include "mem.h"
#include "utf8.h"
#include <stdlib.h>
#include <string.h>

struct out {
    char *p;
    size_t size, len; /* len counts past size, snprintf-like */
};

static void put(struct out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, o->len++)
        if (o->len + 1 < o->size)
            o->p[o->len] = s[i];
}

static void finish(struct out *o)
{
    if (o->size)
        o->p[o->len < o->size ? o->len : o->size - 1] = 0;
}

static bool is_atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* Length of the UTF-8 non-ASCII character at s[0..len), 0 when there is none. */
static size_t utf8_char(const char *s, size_t len)
{
    if ((unsigned char)s[0] < 0x80)
        return 0;
    size_t n = utf8_sequence_length((const unsigned char *)s, len);
    return n >= 2 ? n : 0;
}

/* RFC 5321 sec 4.1.2: Dot-string = Atom *("." Atom), so no dot first, last or twice in a
 * row (smtpd refuses such local parts unquoted, so they are written quoted). */
bool address_is_dot_string(const char *s, size_t len)
{
    bool atom_started = false;
    for (size_t i = 0; i < len;) {
        size_t u = utf8_char(s + i, len - i);
        if (u) {
            i += u;
            atom_started = true;
        } else if (is_atext((unsigned char)s[i])) {
            i++;
            atom_started = true;
        } else if (s[i] == '.' && atom_started) {
            i++;
            atom_started = false;
        } else {
            return false;
        }
    }
    return atom_started;
}

static void put_quoted(struct out *o, const char *s, size_t len)
{
    put(o, "\"", 1);
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        size_t u = utf8_char(s + i, len - i);
        if (u) {
            put(o, s + i, u);
            i += u;
            continue;
        }
        if (c == '"' || c == '\\')
            put(o, "\\", 1);
        put(o, c >= 32 && c < 127 ? s + i : "?", 1);
        i++;
    }
    put(o, "\"", 1);
}

static void put_local(struct out *o, const char *local, size_t len)
{
    if (address_is_dot_string(local, len))
        put(o, local, len);
    else
        put_quoted(o, local, len);
}

size_t address_quote_local(const char *local, size_t len, char *out, size_t outsize)
{
    struct out o = {out, outsize, 0};
    put_local(&o, local, len);
    finish(&o);
    return o.len;
}

/* The content of the well-formed Quoted-string s[0..len) into content (len bytes suffice);
 * false when s is not one (qtextSMTP, quoted-pair and UTF-8 only, RFC 5321 sec 4.1.2). */
static bool unquote(const char *s, size_t len, char *content, size_t *clen)
{
    if (len < 2 || s[0] != '"' || s[len - 1] != '"')
        return false;
    size_t n = 0;
    for (size_t i = 1; i < len - 1;) {
        unsigned char c = (unsigned char)s[i];
        size_t u = utf8_char(s + i, len - 1 - i);
        if (u) {
            memcpy(content + n, s + i, u);
            n += u, i += u;
        } else if (c == '\\' && i + 1 < len - 1 && s[i + 1] >= 32 && s[i + 1] < 127) {
            content[n++] = s[i + 1];
            i += 2;
        } else if (c >= 32 && c < 127 && c != '"' && c != '\\') {
            content[n++] = (char)c;
            i++;
        } else {
            return false;
        }
    }
    *clen = n;
    return true;
}

bool address_local_is_valid(const char *s, size_t len)
{
    if (len == 0 || len > 64)
        return false;
    if (address_is_dot_string(s, len))
        return true;
    char content[64];
    size_t clen;
    return unquote(s, len, content, &clen);
}

char *address_requote(const char *addr)
{
    if (!*addr)
        return xstrdup("");
    const char *at = strrchr(addr, '@');
    size_t llen = at ? (size_t)(at - addr) : strlen(addr);
    char *content = xmalloc(llen + 1);
    size_t clen;
    struct out o = {NULL, 0, 0};
    for (int pass = 0; pass < 2; pass++) { /* measure, then write */
        o.len = 0;
        if (unquote(addr, llen, content, &clen))
            put_local(&o, content, clen);
        else
            put_local(&o, addr, llen);
        for (const char *d = at; d && *d; d++)
            put(&o, (unsigned char)*d < 32 || *d == 127 ? "?" : d, 1);
        if (pass == 0) {
            o.size = o.len + 1;
            o.p = xmalloc(o.size);
        }
    }
    finish(&o);
    free(content);
    return o.p;
}
