/* header.c - RFC 5322 header sections (see header.h). */
#include "header.h"
#include <string.h>
#include <strings.h>

size_t header_name_length(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && line[i] > 32 && line[i] < 127 && line[i] != ':')
        i++;
    size_t name = i;
    while (i < len && (line[i] == ' ' || line[i] == '\t')) /* RFC 5322 sec 4.5: obs WSP */
        i++;
    return name > 0 && i < len && line[i] == ':' ? name : 0;
}

bool header_line_continues(const char *line, size_t len)
{
    return len > 0 && (line[0] == ' ' || line[0] == '\t');
}

bool header_field_is(const struct header_field *f, const char *name)
{
    return f->name_len > 0 && f->name_len == strlen(name) &&
           strncasecmp(f->text, name, f->name_len) == 0;
}

void header_field_value(const struct header_field *f, struct buf *out)
{
    const char *p = f->text, *end = f->text + f->len;
    if (f->name_len > 0) /* after the colon, past any white space before it */
        p = (const char *)memchr(f->text + f->name_len, ':', f->len - f->name_len) + 1;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t run = nl ? (size_t)(nl - p) : (size_t)(end - p);
        buf_append(out, p, run);
        p += run + (nl ? 1 : 0);
    }
}

bool header_section_end_resume(const char *text, size_t len, size_t searched, size_t *end)
{
    if (searched == 0 && len > 0 && text[0] == '\n') {
        *end = 0;
        return true;
    }
    size_t from = searched > 0 ? searched - 1 : 0; /* "\n\n" may straddle the boundary */
    const char *blank = len >= from + 2 ? memmem(text + from, len - from, "\n\n", 2) : NULL;
    if (!blank)
        return false;
    *end = (size_t)(blank - text) + 1;
    return true;
}

bool header_section_end(const char *text, size_t len, size_t *end)
{
    return header_section_end_resume(text, len, 0, end);
}

/* --- a message in memory --- */

void header_iter_init(struct header_iter *it, const char *text, size_t len)
{
    it->next = text;
    it->end = text + len;
}

/* The start of the line after the complete line at p, or NULL when it has no LF. */
static const char *after_line(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return nl ? nl + 1 : NULL;
}

bool header_iter_next(struct header_iter *it, struct header_field *f)
{
    const char *p = it->next;
    if (p >= it->end || *p == '\n')
        return false;
    const char *next = after_line(p, it->end);
    if (!next)
        return false;
    while (next < it->end && header_line_continues(next, (size_t)(it->end - next))) {
        const char *after = after_line(next, it->end);
        if (!after)
            break;
        next = after;
    }
    f->text = p;
    f->len = (size_t)(next - p);
    f->name_len = header_name_length(p, f->len);
    it->next = next;
    return true;
}

/* --- a message as it arrives --- */

void header_scanner_init(struct header_scanner *s, size_t max)
{
    s->max = max;
    buf_init(&s->line);
    buf_init(&s->field);
    s->cut = s->line_cut = false;
    s->done = false;
}

static void field_complete(struct header_scanner *s, header_field_fn fn, void *ctx)
{
    if (s->field.len == 0)
        return;
    struct header_field f = {s->field.data, s->field.len, 0, s->cut};
    f.name_len = header_name_length(f.text, f.len);
    fn(ctx, &f);
    buf_reset(&s->field);
    s->cut = false;
}

/* One complete line (s->line, without its LF). */
static void scanner_line(struct header_scanner *s, header_field_fn fn, void *ctx)
{
    const char *l = s->line.data ? s->line.data : "";
    size_t n = s->line.len;
    bool continues = header_line_continues(l, n);
    if (!continues && header_name_length(l, n) == 0) {
        field_complete(s, fn, ctx); /* the empty line, or the first line of the body */
        s->done = true;
    } else {
        if (!continues)
            field_complete(s, fn, ctx);
        s->cut |= s->line_cut;
        if (s->field.len + n + 1 <= s->max) {
            buf_append(&s->field, l, n);
            buf_putc(&s->field, '\n');
        } else {
            s->cut = true;
        }
    }
    buf_reset(&s->line);
    s->line_cut = false;
}

size_t header_scanner_feed(struct header_scanner *s, const char *data, size_t len,
                           header_field_fn fn, void *ctx)
{
    size_t i = 0;
    while (i < len && !s->done) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t run = nl ? (size_t)(nl - (data + i)) : len - i;
        size_t keep = s->max > 0 ? s->max - 1 : 0; /* a kept line and its LF fit a field */
        size_t room = keep > s->line.len ? keep - s->line.len : 0;
        buf_append(&s->line, data + i, run < room ? run : room);
        s->line_cut |= run > room;
        i += run;
        if (!nl)
            break;
        i++;
        scanner_line(s, fn, ctx);
    }
    return i;
}

void header_scanner_finish(struct header_scanner *s, header_field_fn fn, void *ctx)
{
    if (!s->done && s->line.len > 0) { /* the message ended inside this line */
        s->line_cut = true;
        scanner_line(s, fn, ctx);
    }
    if (!s->done)
        field_complete(s, fn, ctx);
    s->done = true;
    buf_reset(&s->line);
}

bool header_scanner_done(const struct header_scanner *s) { return s->done; }

void header_scanner_free(struct header_scanner *s)
{
    buf_free(&s->line);
    buf_free(&s->field);
}
