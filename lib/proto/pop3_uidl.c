/* pop3_uidl.c - POP3 unique-ids from a Dovecot-style template (see pop3_uidl.h). The
 * template grammar is one pass over the string: literal bytes, or "%" [-] [0] [digits]
 * ["." [0] [-] digits] {L|U|X} (a letter or "{name}"). */
#include "pop3_uidl.h"
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UIDL_MAX 70   /* RFC 1939 sec 7 */
#define MODIFIERS_MAX 10
#define WIDTH_MAX 1000

enum var { V_NONE, V_PERCENT, V_UID, V_UIDVALIDITY, V_FILENAME, V_GUID, V_MD5 };

struct field {
    int offset, width;  /* as Dovecot: offset from the start (negative: from the end) */
    bool zero;          /* pad with zeros to width, never cut */
    char mods[MODIFIERS_MAX];
    int nmods;
    enum var var;
};

static const struct {
    const char *name;
    char letter;
    enum var var;
} vars[] = {
    {"uid", 'u', V_UID},           {"uidvalidity", 'v', V_UIDVALIDITY},
    {"filename", 'f', V_FILENAME}, {"guid", 'g', V_GUID},
    {"md5", 'm', V_MD5},
};

static int number(const char **p, bool *overflow)
{
    int n = 0;
    while (isdigit((unsigned char)**p)) {
        n = n * 10 + (**p - '0');
        if (n > WIDTH_MAX)
            *overflow = true, n = WIDTH_MAX;
        (*p)++;
    }
    return n;
}

/* Parse one field after its '%'; *p moves past it. NULL, or the reason it is bad. */
static const char *parse_field(const char **p, struct field *f)
{
    memset(f, 0, sizeof *f);
    const char *s = *p;
    bool overflow = false;
    int sign = 1;
    if (*s == '%') {
        f->var = V_PERCENT;
        *p = s + 1;
        return NULL;
    }
    if (*s == '-')
        sign = -1, s++;
    if (*s == '0')
        f->zero = true, s++;
    f->width = sign * number(&s, &overflow);
    if (*s == '.') {
        s++;
        f->offset = f->width;
        f->zero = false;
        sign = 1;
        if (*s == '0')
            f->zero = true, s++;
        if (*s == '-')
            sign = -1, s++;
        f->width = sign * number(&s, &overflow);
    }
    if (overflow)
        return "width or offset too large";
    while (*s && strchr("LUX", *s) && f->nmods < MODIFIERS_MAX)
        f->mods[f->nmods++] = *s++;
    if (*s && strchr("EHMNRDT", *s))
        return "unsupported modifier (only L, U and X)";
    if (*s == '{') {
        const char *end = strchr(s, '}');
        if (!end)
            return "unterminated %{";
        for (size_t i = 0; i < sizeof vars / sizeof vars[0] && !f->var; i++)
            if (strlen(vars[i].name) == (size_t)(end - s - 1) && strncmp(s + 1, vars[i].name, (size_t)(end - s - 1)) == 0)
                f->var = vars[i].var;
        s = end + 1;
    } else if (*s) {
        for (size_t i = 0; i < sizeof vars / sizeof vars[0] && !f->var; i++)
            if (vars[i].letter == *s)
                f->var = vars[i].var;
        s++;
    } else {
        return "template ends inside a %variable";
    }
    if (!f->var)
        return "unknown variable (only %u, %v, %f, %g and %%)";
    if (f->var == V_MD5)
        return "%m (an MD5 of the headers) exists for mbox only";
    *p = s;
    return NULL;
}

const char *pop3_uidl_check(const char *fmt)
{
    bool any = false;
    for (const char *p = fmt; *p;) {
        if (*p++ != '%') {
            any = true;
            continue;
        }
        struct field f;
        const char *why = parse_field(&p, &f);
        if (why)
            return why;
        any = true;
    }
    return any ? NULL : "empty template";
}

static void apply_modifier(char mod, struct buf *v)
{
    if (mod == 'X') {
        unsigned long long n = strtoull(buf_cstr(v), NULL, 10);
        buf_reset(v);
        buf_printf(v, "%llx", n);
        return;
    }
    for (size_t i = 0; i < v->len; i++)
        v->data[i] = (char)(mod == 'L' ? tolower((unsigned char)v->data[i]) : toupper((unsigned char)v->data[i]));
}

static void value_of(const struct field *f, const struct pop3_uidl_vars *v, struct buf *out)
{
    switch (f->var) {
    case V_PERCENT: buf_putc(out, '%'); break;
    case V_UID: buf_printf(out, "%" PRIu32, v->uid); break;
    case V_UIDVALIDITY: buf_printf(out, "%" PRIu32, v->uidvalidity); break;
    case V_FILENAME: buf_puts(out, v->filename ? v->filename : ""); break;
    case V_GUID: buf_puts(out, v->guid ? v->guid : v->filename ? v->filename : ""); break;
    default: break;
    }
}

/* One field as Dovecot writes it: modifiers, then the offset, then width or padding. */
static void put_field(const struct field *f, const struct pop3_uidl_vars *v, struct buf *out)
{
    struct buf val = BUF_INIT;
    value_of(f, v, &val);
    for (int i = 0; i < f->nmods; i++)
        apply_modifier(f->mods[i], &val);
    const char *s = buf_cstr(&val);
    size_t len = val.len;
    if (f->offset < 0) {
        size_t back = (size_t)-f->offset;
        if (len > back)
            s += len - back, len = back;
    } else {
        size_t skip = (size_t)f->offset < len ? (size_t)f->offset : len;
        s += skip, len -= skip;
    }
    if (f->width == 0) {
        buf_append(out, s, len);
    } else if (!f->zero) {
        long w = f->width < 0 ? (long)len + f->width : f->width;
        buf_append(out, s, w <= 0 ? 0 : (size_t)w < len ? (size_t)w : len);
    } else {
        for (long pad = (long)f->width - (long)len; pad > 0; pad--)
            buf_putc(out, '0');
        buf_append(out, s, len);
    }
    buf_free(&val);
}

void pop3_uidl_expand(const char *fmt, const struct pop3_uidl_vars *v, struct buf *out)
{
    buf_reset(out);
    for (const char *p = fmt; *p;) {
        if (*p != '%') {
            buf_putc(out, *p++);
            continue;
        }
        p++;
        struct field f;
        if (parse_field(&p, &f) != NULL)
            break; /* pop3_uidl_check refused it; nothing sensible follows */
        put_field(&f, v, out);
    }
    for (size_t i = 0; i < out->len; i++)
        if ((unsigned char)out->data[i] < 0x21 || (unsigned char)out->data[i] > 0x7e)
            out->data[i] = '_';
    if (out->len > UIDL_MAX)
        buf_truncate(out, UIDL_MAX);
    if (out->len == 0)
        buf_putc(out, '-');
}
