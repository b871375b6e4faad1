/* fuzz_mime.c - libFuzzer target: the streaming MIME parser (lib/mail/mime.h). The first
 * three bytes pick the limits and a chunk size; the rest is the message, parsed whole, byte
 * by byte and in chunks. All three trees must be identical (split invariance), and the tree
 * must be well formed: part 0 spans the input, every header is followed by its body, offsets
 * stay within the input, children lie inside their parent's body in order without
 * overlapping, the links agree with the parent indexes, depth and part count respect the
 * limits, and the line counts match the bytes. The binary rewriting of APPEND
 * (lib/mail/mime_binary.h) runs on the same input: its output has as many parts, and
 * rewriting that output again finds nothing binary left. Any violation aborts. */
#include "buf.h"
#include "mime.h"
#include "mime_binary.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond))                                                                           \
            abort();                                                                           \
    } while (0)

static struct mime_parser *parse(const uint8_t *in, size_t n, const struct mime_limits *lim,
                                 size_t chunk)
{
    const char *err = NULL;
    struct mime_parser *p = mime_parser_new(lim, &err);
    CHECK(p != NULL);
    for (size_t at = 0; at < n; at += chunk)
        mime_feed(p, in + at, n - at < chunk ? n - at : chunk);
    return p;
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_params(const struct mime_param *a, size_t na, const struct mime_param *b,
                        size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!same_str(a[i].name, b[i].name) || !same_str(a[i].value, b[i].value))
            return false;
    return true;
}

static bool same_part(const struct mime_part *a, const struct mime_part *b)
{
    return a->parent == b->parent && a->first_child == b->first_child &&
           a->next_sibling == b->next_sibling && a->depth == b->depth && a->flags == b->flags &&
           a->header_offset == b->header_offset && a->header_size == b->header_size &&
           a->header_lines == b->header_lines && a->body_offset == b->body_offset &&
           a->body_size == b->body_size && a->body_lines == b->body_lines &&
           same_str(a->type, b->type) && same_str(a->subtype, b->subtype) &&
           same_params(a->params, a->n_params, b->params, b->n_params) &&
           same_str(a->encoding, b->encoding) && same_str(a->id, b->id) &&
           same_str(a->description, b->description) &&
           same_str(a->disposition, b->disposition) &&
           same_params(a->disposition_params, a->n_disposition_params, b->disposition_params,
                       b->n_disposition_params) &&
           same_str(a->language, b->language);
}

/* LFs in the range, plus one for a last line without LF. */
static size_t lines_in(const uint8_t *in, size_t off, size_t len)
{
    size_t lines = 0;
    for (size_t i = off; i < off + len; i++)
        lines += in[i] == '\n';
    return lines + (len > 0 && in[off + len - 1] != '\n');
}

static void check_part(const uint8_t *in, size_t n, const struct mime_part *parts, size_t count,
                       size_t i)
{
    const struct mime_part *pt = &parts[i];
    size_t end = pt->body_offset + pt->body_size;
    CHECK(pt->header_offset + pt->header_size == pt->body_offset);
    CHECK(end <= n && end >= pt->body_offset);
    CHECK(pt->type && pt->subtype);
    CHECK(pt->header_lines == lines_in(in, pt->header_offset, pt->header_size));
    CHECK(pt->body_lines == lines_in(in, pt->body_offset, pt->body_size));
    size_t prev_end = pt->body_offset, children = 0;
    for (size_t c = pt->first_child; c != MIME_NONE; c = parts[c].next_sibling) {
        CHECK(c > i && c < count);
        const struct mime_part *ch = &parts[c];
        CHECK(ch->parent == i && ch->depth == pt->depth + 1);
        CHECK(ch->header_offset >= prev_end);
        prev_end = ch->body_offset + ch->body_size;
        CHECK(prev_end <= end);
        children++;
    }
    /* a message/rfc822 part holds exactly its body as one message */
    if (children && strcmp(pt->type, "message") == 0)
        CHECK(children == 1 && parts[pt->first_child].header_offset == pt->body_offset &&
              prev_end == end);
}

static void check_tree(const uint8_t *in, size_t n, const struct mime_part *parts, size_t count,
                       const struct mime_limits *lim)
{
    CHECK(count >= 1 && count <= lim->max_parts);
    CHECK(parts[0].parent == MIME_NONE && parts[0].header_offset == 0 && parts[0].depth == 0);
    CHECK(parts[0].next_sibling == MIME_NONE);
    CHECK(parts[0].body_offset + parts[0].body_size == n);
    size_t linked = 0;
    for (size_t i = 0; i < count; i++) {
        CHECK(parts[i].depth <= lim->max_depth);
        check_part(in, n, parts, count, i);
        if (i > 0) {
            CHECK(parts[i].parent < i);
            linked++;
        }
    }
    /* every part but the root is some part's child exactly once (parents < children and
     * each child's parent index checked above make the links a tree) */
    size_t children = 0;
    for (size_t i = 0; i < count; i++)
        for (size_t c = parts[i].first_child; c != MIME_NONE; c = parts[c].next_sibling)
            children++;
    CHECK(children == linked);
}

/* Rewritten once, the message has the same parts and nothing binary left to rewrite. */
static void check_binary_rewrite(const uint8_t *in, size_t n, const struct mime_limits *lim,
                                 size_t parts)
{
    struct buf once = BUF_INIT, twice = BUF_INIT;
    if (mime_binary_to_base64((const char *)in, n, lim, &once) > 0) {
        struct mime_parser *p = parse((const uint8_t *)once.data, once.len, lim, once.len);
        size_t count;
        mime_finish(p, &count);
        CHECK(count == parts);
        mime_parser_free(p);
        CHECK(mime_binary_to_base64(once.data, once.len, lim, &twice) == 0);
    } else {
        CHECK(once.len == 0);
    }
    buf_free(&once);
    buf_free(&twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    struct mime_limits lim = { data[0] % 8, 1 + data[1] % 64, 1 + (size_t)data[2] * 4 };
    size_t chunk = 1 + (data[0] >> 3) % 31;
    const uint8_t *in = data + 3;
    size_t n = size - 3;

    struct mime_parser *whole = parse(in, n, &lim, n ? n : 1);
    struct mime_parser *bytes = parse(in, n, &lim, 1);
    struct mime_parser *chunks = parse(in, n, &lim, chunk);
    size_t cw, cb, cc;
    const struct mime_part *pw = mime_finish(whole, &cw);
    const struct mime_part *pb = mime_finish(bytes, &cb);
    const struct mime_part *pc = mime_finish(chunks, &cc);
    CHECK(cw == cb && cw == cc);
    for (size_t i = 0; i < cw; i++)
        CHECK(same_part(&pw[i], &pb[i]) && same_part(&pw[i], &pc[i]));
    check_tree(in, n, pw, cw, &lim);
    check_binary_rewrite(in, n, &lim, cw);
    mime_parser_free(whole);
    mime_parser_free(bytes);
    mime_parser_free(chunks);
    return 0;
}
