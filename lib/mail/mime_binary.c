/* mime_binary.c - binary MIME parts rewritten in base64 (see mime_binary.h). */
#include "mime_binary.h"
#include "base64.h"
#include "header_span.h"
#include <stdbool.h>
#include <string.h>

#define B64_LINE 76
#define B64_CHUNK (B64_LINE / 4 * 3) /* input bytes per output line */

static bool is_composite(const struct mime_part *p)
{
    return strcmp(p->type, "multipart") == 0 || strcmp(p->type, "message") == 0;
}

/* A leaf whose body cannot be kept as text: declared binary, or holding a NUL. */
static bool needs_base64(const char *msg, const struct mime_part *p)
{
    if (p->first_child != MIME_NONE || is_composite(p) || p->body_size == 0 ||
        (p->flags & MIME_PART_HEADER_UNTERMINATED))
        return false;
    if (p->encoding && strcmp(p->encoding, "binary") == 0)
        return true;
    return memchr(msg + p->body_offset, '\0', p->body_size) != NULL;
}

/* The part's header with its Content-Transfer-Encoding field (with its continuation lines)
 * replaced, the first one as mime.h counts it, or added before the empty line that ends the
 * header (it is terminated: needs_base64). */
static void write_header(const char *msg, const struct mime_part *p, const char *eol, struct buf *out)
{
    const char *s = msg + p->header_offset, *end = s + p->header_size;
    const char *from = end - strlen(eol), *to = from; /* none: in front of the empty line */
    struct header_span_iter it;
    struct header_span f;
    header_span_init(&it, s, p->header_size);
    while (header_span_next(&it, &f))
        if (header_span_is(&f, "Content-Transfer-Encoding")) {
            from = f.text;
            to = f.text + f.len;
            break;
        }
    buf_append(out, s, (size_t)(from - s));
    buf_printf(out, "Content-Transfer-Encoding: base64%s", eol);
    buf_append(out, to, (size_t)(end - to));
}

static void write_base64(const char *body, size_t len, const char *eol, struct buf *out)
{
    for (size_t at = 0; at < len; at += B64_CHUNK) {
        if (at)
            buf_puts(out, eol);
        base64_encode(body + at, len - at < B64_CHUNK ? len - at : B64_CHUNK, out);
    }
}

/* The line end the part's header ends with: the style its base64 lines are written in. */
static const char *header_eol(const char *msg, const struct mime_part *p)
{
    size_t end = p->header_offset + p->header_size;
    return p->header_size >= 2 && msg[end - 2] == '\r' ? "\r\n" : "\n";
}

size_t mime_binary_to_base64(const char *msg, size_t len, const struct mime_limits *limits,
                             struct buf *out)
{
    const char *err;
    struct mime_parser *mp = mime_parser_new(limits, &err);
    if (!mp)
        return 0;
    mime_feed(mp, msg, len);
    size_t count, rewritten = 0, copied = 0;
    const struct mime_part *parts = mime_finish(mp, &count);
    for (size_t i = 0; i < count; i++) {
        const struct mime_part *p = &parts[i];
        if (!needs_base64(msg, p))
            continue;
        if (rewritten++ == 0)
            buf_reserve(out, len + len / 3 + 64);
        const char *eol = header_eol(msg, p);
        buf_append(out, msg + copied, p->header_offset - copied);
        write_header(msg, p, eol, out);
        write_base64(msg + p->body_offset, p->body_size, eol, out);
        copied = p->body_offset + p->body_size;
    }
    if (rewritten)
        buf_append(out, msg + copied, len - copied);
    mime_parser_free(mp);
    return rewritten;
}
