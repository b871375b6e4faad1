/* mail_text.c - the decoded text of a message for SEARCH (see mail_text.h). */
#include "mail_text.h"
#include "buf.h"
#include "charset.h"
#include "cte.h"
#include "header_span.h"
#include "rfc2047.h"
#include "text_match.h"
#include <string.h>

struct walk {
    const char *msg;
    mail_text_fn fn;
    void *ctx;
};

static bool emit(struct walk *w, enum mail_text_kind kind, size_t part, bool *start,
                 const struct buf *b)
{
    if (b->len == 0)
        return true;
    struct mail_text_chunk c = { kind, part, *start, b->data, b->len };
    *start = false;
    return w->fn(w->ctx, &c);
}

/* One decoded field as "Name: value\n" (a line that is no field: its decoded text). */
static void decode_field(const struct header_span *f, struct buf *line, struct buf *out)
{
    buf_reset(line);
    header_unfold(f->value, f->value_len, line);
    if (f->name_len > 0) { /* a name of bytes that are no UTF-8 (a lenient parse) made valid */
        charset_to_utf8(NULL, f->name, f->name_len, out);
        buf_append(out, ": ", 2);
    }
    rfc2047_decode(line->data, line->len, out);
    buf_putc(out, '\n');
}

static bool walk_header(struct walk *w, size_t idx, const struct mime_part *pt)
{
    struct header_span_iter it;
    struct header_span f;
    struct buf line = BUF_INIT, out = BUF_INIT;
    bool start = true, go_on = true;
    header_span_init(&it, w->msg + pt->header_offset, pt->header_size);
    while (go_on && header_span_next(&it, &f)) {
        decode_field(&f, &line, &out);
        if (out.len >= MAIL_TEXT_SLICE) {
            go_on = emit(w, MAIL_TEXT_HEADER, idx, &start, &out);
            buf_reset(&out);
        }
    }
    if (go_on)
        go_on = emit(w, MAIL_TEXT_HEADER, idx, &start, &out);
    buf_free(&line);
    buf_free(&out);
    return go_on;
}

static bool walk_body(struct walk *w, size_t idx, const struct mime_part *pt)
{
    enum cte kind = cte_from_name(pt->encoding);
    struct cte_decoder dec;
    cte_decoder_init(&dec, kind == CTE_UNKNOWN ? CTE_IDENTITY : kind);
    struct charset_conv *cs =
        charset_conv_new(mime_param_get(pt->params, pt->n_params, "charset"));
    struct buf raw = BUF_INIT, text = BUF_INIT;
    bool start = true, go_on = true;
    const char *p = w->msg + pt->body_offset;
    size_t left = pt->body_size;
    while (go_on && left > 0) {
        size_t n = left < MAIL_TEXT_SLICE ? left : MAIL_TEXT_SLICE;
        buf_reset(&raw);
        buf_reset(&text);
        cte_decode(&dec, p, n, &raw);
        charset_conv_feed(cs, raw.data ? raw.data : "", raw.len, &text);
        go_on = emit(w, MAIL_TEXT_BODY, idx, &start, &text);
        p += n;
        left -= n;
    }
    if (go_on) {
        buf_reset(&raw);
        buf_reset(&text);
        cte_decode_finish(&dec, &raw);
        charset_conv_feed(cs, raw.data ? raw.data : "", raw.len, &text);
        charset_conv_finish(cs, &text);
        go_on = emit(w, MAIL_TEXT_BODY, idx, &start, &text);
    }
    charset_conv_free(cs);
    buf_free(&raw);
    buf_free(&text);
    return go_on;
}

bool mail_text_walk(const char *msg, size_t len, const struct mime_part *parts, size_t n,
                    unsigned what, mail_text_fn fn, void *ctx)
{
    struct walk w = { msg, fn, ctx };
    (void)len;
    for (size_t i = 0; i < n; i++) {
        const struct mime_part *pt = &parts[i];
        if ((what & MAIL_TEXT_HEADERS) && !walk_header(&w, i, pt))
            return false;
        bool text_leaf = pt->first_child == MIME_NONE && strcmp(pt->type, "text") == 0;
        if ((what & MAIL_TEXT_BODIES) && text_leaf && !walk_body(&w, i, pt))
            return false;
    }
    return true;
}

bool mail_header_contains(const char *hdr, size_t len, const char *name, const char *needle,
                          size_t nlen)
{
    struct header_span_iter it;
    struct header_span f;
    struct buf raw = BUF_INIT, text = BUF_INIT;
    bool found = false;
    header_span_init(&it, hdr, len);
    while (!found && header_span_next(&it, &f)) {
        if (!header_span_is(&f, name))
            continue;
        buf_reset(&raw);
        buf_reset(&text);
        header_unfold(f.value, f.value_len, &raw);
        rfc2047_decode(raw.data ? raw.data : "", raw.len, &text);
        found = text_contains(text.data ? text.data : "", text.len, needle, nlen);
    }
    buf_free(&raw);
    buf_free(&text);
    return found;
}
