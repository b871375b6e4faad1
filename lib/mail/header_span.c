/* header_span.c - the fields of a header section in memory (see header_span.h). */
#include "header_span.h"
#include <string.h>
#include <strings.h>

static bool is_wsp(char c) { return c == ' ' || c == '\t'; }

void header_span_init(struct header_span_iter *it, const char *text, size_t len)
{
    it->p = text;
    it->end = text + len;
}

/* The start of the line after the one at p (end when it has no LF). */
static const char *next_line(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return nl ? nl + 1 : end;
}

static bool is_empty_line(const char *p, const char *end)
{
    return *p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n');
}

/* Length of "name" in "name WSP* :" at the start of the line p[0..n), 0 when none. */
static size_t name_length(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] > 32 && p[i] < 127 && p[i] != ':')
        i++;
    size_t name = i;
    while (i < n && is_wsp(p[i]))
        i++;
    return name > 0 && i < n && p[i] == ':' ? name : 0;
}

bool header_span_next(struct header_span_iter *it, struct header_span *f)
{
    const char *p = it->p;
    if (p >= it->end || is_empty_line(p, it->end))
        return false;
    const char *q = next_line(p, it->end);
    while (q < it->end && is_wsp(*q))
        q = next_line(q, it->end);
    const char *eol = memchr(p, '\n', (size_t)(q - p));
    size_t first = eol ? (size_t)(eol - p) : (size_t)(q - p);
    f->text = f->name = p;
    f->len = (size_t)(q - p);
    f->name_len = name_length(p, first);
    if (f->name_len > 0) {
        const char *colon = memchr(p, ':', first);
        f->value = colon + 1;
    } else {
        f->value = p;
    }
    f->value_len = (size_t)(q - f->value);
    it->p = q;
    return true;
}

bool header_span_is(const struct header_span *f, const char *name)
{
    return f->name_len > 0 && f->name_len == strlen(name) &&
           strncasecmp(f->name, name, f->name_len) == 0;
}

void header_unfold(const char *v, size_t len, struct buf *out)
{
    size_t start = out->len;
    const char *end = v + len;
    while (v < end && (is_wsp(*v) || *v == '\r' || *v == '\n'))
        v++;
    while (v < end) {
        const char *nl = memchr(v, '\n', (size_t)(end - v));
        size_t run = nl ? (size_t)(nl - v) : (size_t)(end - v);
        if (nl && run > 0 && v[run - 1] == '\r')
            run--;
        buf_append(out, v, run);
        v = nl ? nl + 1 : end;
    }
    size_t n = out->len;
    while (n > start && (is_wsp(out->data[n - 1]) || out->data[n - 1] == '\r'))
        n--;
    buf_truncate(out, n);
    buf_cstr(out);
}
