/* imap_bodystructure.c - BODYSTRUCTURE and BODY (RFC 3501 sec 7.4.2 and 9, RFC 9051 sec
 * 7.5.2 and 9) from the MIME tree: body-type-mpart, body-type-text, body-type-msg and
 * body-type-basic, with the extension data for BODYSTRUCTURE. The recursion follows the
 * tree, whose depth mime.h bounds. */
#include "header_span.h"
#include "imap_struct_int.h"
#include <string.h>

struct writer {
    const struct imap_message *m;
    unsigned flags;
    bool ext; /* BODYSTRUCTURE, not BODY */
    struct buf *out;
};

static void put_str(struct writer *w, const char *s) { imap_put_cstring(w->out, s, w->flags); }

static void put_sp(struct writer *w) { buf_putc(w->out, ' '); }

/* body-fld-param; for a text part without charset, ("charset" "us-ascii") comes first. */
static void put_params(struct writer *w, const struct mime_param *p, size_t n, bool text)
{
    bool add_charset = text && !mime_param_get(p, n, "charset");
    if (n == 0 && !add_charset) {
        buf_append(w->out, "NIL", 3);
        return;
    }
    buf_putc(w->out, '(');
    if (add_charset)
        buf_puts(w->out, "\"charset\" \"us-ascii\"");
    for (size_t i = 0; i < n; i++) {
        if (i > 0 || add_charset)
            put_sp(w);
        put_str(w, p[i].name);
        put_sp(w);
        put_str(w, p[i].value);
    }
    buf_putc(w->out, ')');
}

/* The empty text/plain part standing in where the grammar needs a body and there is none. */
static void put_empty_part(struct writer *w)
{
    buf_puts(w->out, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0");
    if (w->ext)
        buf_puts(w->out, " NIL NIL NIL NIL");
    buf_putc(w->out, ')');
}

static void put_disposition(struct writer *w, const struct mime_part *pt)
{
    if (!pt->disposition) {
        buf_append(w->out, "NIL", 3);
        return;
    }
    buf_putc(w->out, '(');
    put_str(w, pt->disposition);
    put_sp(w);
    put_params(w, pt->disposition_params, pt->n_disposition_params, false);
    buf_putc(w->out, ')');
}

/* The next language tag of a Content-Language value (comments and white space around it
 * removed) at *s; false when there is none. */
static bool next_tag(const char **s, const char *end, const char **tag, size_t *len)
{
    const char *p = *s;
    while (p < end) {
        while (p < end && (*p == ',' || *p == ' ' || *p == '\t'))
            p++;
        if (p < end && *p == '(') {
            int depth = 0;
            do {
                depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
                p++;
            } while (p < end && depth > 0);
            continue;
        }
        const char *t = p;
        while (p < end && *p != ',' && *p != ' ' && *p != '\t' && *p != '(')
            p++;
        if (p > t) {
            *tag = t;
            *len = (size_t)(p - t);
            *s = p;
            return true;
        }
    }
    *s = p;
    return false;
}

/* body-fld-lang: NIL, one string, or a list of them. */
static void put_language(struct writer *w, const char *lang)
{
    const char *tag, *s = lang, *end = lang ? lang + strlen(lang) : NULL;
    size_t len, n = 0;
    while (lang && next_tag(&s, end, &tag, &len))
        n++;
    if (n == 0) {
        buf_append(w->out, "NIL", 3);
        return;
    }
    if (n > 1)
        buf_putc(w->out, '(');
    s = lang;
    for (size_t i = 0; next_tag(&s, end, &tag, &len); i++) {
        if (i > 0)
            put_sp(w);
        imap_put_string(w->out, tag, len, w->flags);
    }
    if (n > 1)
        buf_putc(w->out, ')');
}

/* Remove the white space left inside an unfolded URI (RFC 2557 sec 4.4.1: a folded
 * Content-Location is read with its white space removed). */
static void squeeze(struct buf *v)
{
    size_t n = 0;
    for (size_t i = 0; i < v->len; i++)
        if (v->data[i] != ' ' && v->data[i] != '\t')
            v->data[n++] = v->data[i];
    buf_truncate(v, n);
}

/* The unfolded value of the first field called name in pt's header, as an nstring
 * (uri: white space removed). */
static void put_header_value(struct writer *w, const struct mime_part *pt, const char *name,
                             bool uri)
{
    struct header_span_iter it;
    struct header_span f;
    header_span_init(&it, w->m->data + pt->header_offset, pt->header_size);
    while (header_span_next(&it, &f)) {
        if (header_span_is(&f, name)) {
            struct buf v = BUF_INIT;
            header_unfold(f.value, f.value_len, &v);
            if (uri)
                squeeze(&v);
            imap_put_string(w->out, v.data, v.len, w->flags);
            buf_free(&v);
            return;
        }
    }
    buf_append(w->out, "NIL", 3);
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc: what both kinds of extension end with. */
static void put_ext_tail(struct writer *w, const struct mime_part *pt)
{
    put_sp(w);
    put_disposition(w, pt);
    put_sp(w);
    put_language(w, pt->language);
    put_sp(w);
    put_header_value(w, pt, "content-location", true);
}

static void put_part(struct writer *w, size_t idx);

static void put_multipart(struct writer *w, size_t idx)
{
    const struct mime_part *pt = &w->m->parts[idx];
    buf_putc(w->out, '(');
    if (pt->first_child == MIME_NONE)
        put_empty_part(w);
    for (size_t c = pt->first_child; c != MIME_NONE; c = w->m->parts[c].next_sibling)
        put_part(w, c);
    put_sp(w);
    put_str(w, pt->subtype);
    if (w->ext) {
        put_sp(w);
        put_params(w, pt->params, pt->n_params, false);
        put_ext_tail(w, pt);
    }
    buf_putc(w->out, ')');
}

/* envelope SP body SP body-fld-lines of a message/rfc822 part. */
static void put_message_tail(struct writer *w, const struct mime_part *pt)
{
    put_sp(w);
    if (pt->first_child != MIME_NONE)
        imap_envelope_of(w->m, pt->first_child, w->flags, w->out);
    else
        imap_envelope_nil(w->out);
    put_sp(w);
    if (pt->first_child != MIME_NONE)
        put_part(w, pt->first_child);
    else
        put_empty_part(w);
    buf_printf(w->out, " %zu", pt->body_lines);
}

static void put_single(struct writer *w, const struct mime_part *pt)
{
    bool text = strcmp(pt->type, "text") == 0;
    bool message = strcmp(pt->type, "message") == 0 &&
                   (strcmp(pt->subtype, "rfc822") == 0 ||
                    ((w->flags & IMAP_FMT_MESSAGE_GLOBAL) && strcmp(pt->subtype, "global") == 0));
    buf_putc(w->out, '(');
    put_str(w, pt->type);
    put_sp(w);
    put_str(w, pt->subtype);
    put_sp(w);
    put_params(w, pt->params, pt->n_params, text);
    put_sp(w);
    put_str(w, pt->id);
    put_sp(w);
    put_str(w, pt->description);
    put_sp(w);
    put_str(w, pt->encoding ? pt->encoding : "7bit");
    buf_printf(w->out, " %llu",
               (unsigned long long)imap_crlf_size(w->m, pt->body_offset, pt->body_size));
    if (text)
        buf_printf(w->out, " %zu", pt->body_lines);
    else if (message)
        put_message_tail(w, pt);
    if (w->ext) {
        put_sp(w);
        put_header_value(w, pt, "content-md5", false);
        put_ext_tail(w, pt);
    }
    buf_putc(w->out, ')');
}

static void put_part(struct writer *w, size_t idx)
{
    const struct mime_part *pt = &w->m->parts[idx];
    if (imap_is_multipart(pt))
        put_multipart(w, idx);
    else
        put_single(w, pt);
}

void imap_bodystructure(const struct imap_message *m, unsigned flags, struct buf *out)
{
    struct writer w = { m, flags, true, out };
    put_part(&w, 0);
}

void imap_body(const struct imap_message *m, unsigned flags, struct buf *out)
{
    struct writer w = { m, flags, false, out };
    put_part(&w, 0);
}
