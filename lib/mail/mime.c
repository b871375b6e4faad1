/* mime.c - the streaming MIME structure parser (see mime.h for the contract).
 *
 * The input is cut into lines; every decision is taken when a line is complete (or at the
 * end of the message for a last line without LF), which is why the tree does not depend on
 * how the input was split. A stack of levels holds the open parts, outermost first: only the
 * innermost can still be in its header; every multipart level on the stack that has not seen
 * its closing delimiter has its boundary checked against each line. Offsets and line counts
 * of a part are computed when it closes, from the running count of LFs.
 *
 * The header-field handling here (unfolding, Content-* fields, RFC 2045 parameters) is kept
 * private on purpose: it can be unified with lib/mail's RFC 5322 header code later. */
#include "mime.h"
#include "buf.h"
#include "mem.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum level_state { IN_HEADER, IN_BODY };
enum level_kind { KIND_LEAF, KIND_MULTIPART, KIND_MESSAGE };

/* Content-* fields already seen in the current header (the first one counts). */
enum seen_field {
    SEEN_TYPE = 1 << 0,
    SEEN_ENCODING = 1 << 1,
    SEEN_ID = 1 << 2,
    SEEN_DESCRIPTION = 1 << 3,
    SEEN_DISPOSITION = 1 << 4,
    SEEN_LANGUAGE = 1 << 5,
};

struct level {
    size_t part;
    enum level_state state;
    enum level_kind kind;
    unsigned seen;      /* enum seen_field */
    bool epilogue;      /* multipart: the closing delimiter was seen */
    bool skipping;      /* multipart: part limit reached, further delimiters open nothing */
    size_t last_child;  /* the newest child part, or MIME_NONE */
    size_t lf_at_start; /* LFs in the message before the header, then before the body */
    size_t blen;
    char boundary[MIME_BOUNDARY_MAX];
};

struct mime_parser {
    struct mime_limits lim;
    struct mime_part *parts;
    size_t n_parts, cap_parts;
    struct level *levels; /* max_depth + 1 entries */
    size_t n_levels;
    bool finished;
    size_t offset;   /* bytes fed so far */
    size_t lf_total; /* LFs fed so far */
    bool last_lf;    /* the last byte fed was an LF */
    /* The line being collected: its start, length, last byte and its first bytes. */
    size_t line_start, line_len, line_lf_before;
    char line_last;
    struct buf line;
    /* The complete line before it. */
    size_t prev_start, prev_content_len, prev_eol_len;
    /* The header field being collected (unfolded) for the innermost part. */
    struct buf field;
    bool field_open, field_long;
};

/* Where a part ends: the offset, the LFs before it and whether the byte before it is LF. */
struct endpos {
    size_t off, lf_before;
    bool last_lf;
};

static bool is_wsp(char c) { return c == ' ' || c == '\t'; }

static char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

const char *mime_param_get(const struct mime_param *params, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(params[i].name, name) == 0)
            return params[i].value;
    return NULL;
}

/* ---- structured field values: RFC 2045 sec 5.1 tokens, quoted strings, comments ---- */

struct lex {
    const char *s;
    size_t n, i;
};

static void skip_comment(struct lex *x)
{
    size_t depth = 0;
    while (x->i < x->n) {
        char c = x->s[x->i++];
        if (c == '\\' && x->i < x->n)
            x->i++;
        else if (c == '(')
            depth++;
        else if (c == ')' && --depth == 0)
            return;
    }
}

static void skip_cfws(struct lex *x)
{
    while (x->i < x->n) {
        char c = x->s[x->i];
        if (c == '(')
            skip_comment(x);
        else if (is_wsp(c) || c == '\r' || c == '\n')
            x->i++;
        else
            return;
    }
}

static bool is_token_char(char c)
{
    unsigned char u = (unsigned char)c;
    return u > 0x20 && u < 0x7f && !strchr("()<>@,;:\\\"/[]?=", c);
}

/* A token, lower-cased, into out (a NUL-terminated copy); false when there is none. */
static bool lex_token(struct lex *x, struct buf *out)
{
    buf_reset(out);
    while (x->i < x->n && is_token_char(x->s[x->i]))
        buf_putc(out, ascii_lower(x->s[x->i++]));
    return out->len > 0;
}

/* After the opening quote: the content up to the closing quote, quoted-pairs undone. An
 * unterminated string runs to the end of the field. */
static void lex_quoted(struct lex *x, struct buf *out)
{
    while (x->i < x->n) {
        char c = x->s[x->i++];
        if (c == '"')
            return;
        if (c == '\\' && x->i < x->n)
            c = x->s[x->i++];
        buf_putc(out, c);
    }
}

/* A parameter value: a quoted string, or (leniently) a run of bytes other than white space,
 * controls, ';', '(' and '"'. */
static bool lex_value(struct lex *x, struct buf *out)
{
    buf_reset(out);
    if (x->i < x->n && x->s[x->i] == '"') {
        x->i++;
        lex_quoted(x, out);
        buf_cstr(out);
        return true;
    }
    while (x->i < x->n) {
        unsigned char u = (unsigned char)x->s[x->i];
        if (u <= 0x20 || u == 0x7f || u == ';' || u == '(' || u == '"')
            break;
        buf_putc(out, (char)u);
        x->i++;
    }
    return out->len > 0;
}

/* Resynchronise after a malformed parameter: on to the next ';' outside quotes/comments. */
static void skip_to_semicolon(struct lex *x)
{
    while (x->i < x->n && x->s[x->i] != ';') {
        if (x->s[x->i] == '"') {
            struct buf junk = BUF_INIT;
            x->i++;
            lex_quoted(x, &junk);
            buf_free(&junk);
        } else if (x->s[x->i] == '(') {
            skip_comment(x);
        } else {
            x->i++;
        }
    }
}

/* Append a parameter; the array grows in powers of two (a field may hold thousands). */
static void add_param(struct mime_param **params, size_t *n, const char *name, const char *value)
{
    if ((*n & (*n - 1)) == 0) /* n is 0 or a power of two: the array is full */
        *params = xreallocarray(*params, *n ? *n * 2 : 1, sizeof **params);
    (*params)[*n].name = xstrdup(name);
    (*params)[*n].value = xstrdup(value);
    (*n)++;
}

/* *( ";" attribute "=" value ), skipping malformed parameters. */
static void parse_params(struct lex *x, struct mime_param **params, size_t *n)
{
    struct buf name = BUF_INIT, value = BUF_INIT;
    for (;;) {
        skip_cfws(x);
        if (x->i >= x->n)
            break;
        if (x->s[x->i] != ';') {
            skip_to_semicolon(x);
            continue;
        }
        x->i++;
        skip_cfws(x);
        if (!lex_token(x, &name)) {
            skip_to_semicolon(x);
            continue;
        }
        skip_cfws(x);
        if (x->i >= x->n || x->s[x->i] != '=') {
            skip_to_semicolon(x);
            continue;
        }
        x->i++;
        skip_cfws(x);
        if (!lex_value(x, &value)) {
            skip_to_semicolon(x);
            continue;
        }
        add_param(params, n, buf_cstr(&name), buf_cstr(&value));
    }
    buf_free(&name);
    buf_free(&value);
}

/* Content-Type: type "/" subtype *(";" parameter). Leaves the part untouched if invalid. */
static void parse_content_type(struct mime_part *pt, const char *v, size_t n)
{
    struct lex x = { v, n, 0 };
    struct buf type = BUF_INIT, subtype = BUF_INIT;
    skip_cfws(&x);
    bool ok = lex_token(&x, &type);
    skip_cfws(&x);
    ok = ok && x.i < x.n && x.s[x.i] == '/';
    if (ok) {
        x.i++;
        skip_cfws(&x);
        ok = lex_token(&x, &subtype);
    }
    if (ok) {
        pt->type = buf_steal(&type);
        pt->subtype = buf_steal(&subtype);
        parse_params(&x, &pt->params, &pt->n_params);
    }
    buf_free(&type);
    buf_free(&subtype);
}

/* Content-Disposition: type *(";" parameter) (RFC 2183). */
static void parse_disposition(struct mime_part *pt, const char *v, size_t n)
{
    struct lex x = { v, n, 0 };
    struct buf type = BUF_INIT;
    skip_cfws(&x);
    if (lex_token(&x, &type)) {
        pt->disposition = buf_steal(&type);
        parse_params(&x, &pt->disposition_params, &pt->n_disposition_params);
    }
    buf_free(&type);
}

/* Content-Transfer-Encoding: one token, comments allowed around it. */
static char *parse_encoding(const char *v, size_t n)
{
    struct lex x = { v, n, 0 };
    struct buf tok = BUF_INIT;
    skip_cfws(&x);
    if (!lex_token(&x, &tok)) {
        buf_free(&tok);
        return NULL;
    }
    return buf_steal(&tok);
}

/* An unstructured value, leading and trailing white space removed. */
static char *trimmed_copy(const char *v, size_t n)
{
    while (n > 0 && (is_wsp(*v) || *v == '\r')) {
        v++;
        n--;
    }
    while (n > 0 && (is_wsp(v[n - 1]) || v[n - 1] == '\r'))
        n--;
    return xstrndup(v, n);
}

/* ---- header fields ---- */

static struct level *top_level(struct mime_parser *p) { return &p->levels[p->n_levels - 1]; }

/* Interpret one Content-* field of the innermost part. */
static void apply_field(struct level *lv, struct mime_part *pt, const char *name, size_t nlen,
                        const char *v, size_t vn)
{
    static const struct {
        const char *name;
        enum seen_field seen;
    } fields[] = {
        {"content-type", SEEN_TYPE},           {"content-transfer-encoding", SEEN_ENCODING},
        {"content-id", SEEN_ID},               {"content-description", SEEN_DESCRIPTION},
        {"content-disposition", SEEN_DISPOSITION}, {"content-language", SEEN_LANGUAGE},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (strlen(fields[i].name) != nlen || strncasecmp(fields[i].name, name, nlen) != 0)
            continue;
        if (lv->seen & fields[i].seen)
            return;
        lv->seen |= fields[i].seen;
        switch (fields[i].seen) {
        case SEEN_TYPE: parse_content_type(pt, v, vn); break;
        case SEEN_ENCODING: pt->encoding = parse_encoding(v, vn); break;
        case SEEN_ID: pt->id = trimmed_copy(v, vn); break;
        case SEEN_DESCRIPTION: pt->description = trimmed_copy(v, vn); break;
        case SEEN_DISPOSITION: parse_disposition(pt, v, vn); break;
        case SEEN_LANGUAGE: pt->language = trimmed_copy(v, vn); break;
        }
        return;
    }
}

/* The collected field is complete: split "name: value" and interpret it. */
static void flush_field(struct mime_parser *p)
{
    if (!p->field_open)
        return;
    struct level *lv = top_level(p);
    struct mime_part *pt = &p->parts[lv->part];
    const char *f = p->field.data ? p->field.data : "";
    const char *colon = memchr(f, ':', p->field.len);
    if (colon) {
        size_t nlen = (size_t)(colon - f);
        while (nlen > 0 && is_wsp(f[nlen - 1]))
            nlen--;
        if (nlen >= 8 && strncasecmp(f, "content-", 8) == 0) {
            if (p->field_long)
                pt->flags |= MIME_PART_LONG_FIELD;
            else
                apply_field(lv, pt, f, nlen, colon + 1, p->field.len - (size_t)(colon + 1 - f));
        }
    }
    buf_reset(&p->field);
    p->field_open = false;
    p->field_long = false;
}

/* Add to the current field, keeping at most max_header_line bytes. */
static void field_append(struct mime_parser *p, const char *s, size_t n, bool cut)
{
    size_t room = p->lim.max_header_line - p->field.len;
    if (n > room) {
        n = room;
        cut = true;
    }
    buf_append(&p->field, s, n);
    p->field_long = p->field_long || cut;
    p->field_open = true;
}

/* ---- the tree ---- */

static size_t new_part(struct mime_parser *p, struct level *parent, size_t offset)
{
    if (p->n_parts == p->cap_parts) {
        p->cap_parts = p->cap_parts ? p->cap_parts * 2 : 8;
        p->parts = xreallocarray(p->parts, p->cap_parts, sizeof *p->parts);
    }
    size_t idx = p->n_parts++;
    struct mime_part *pt = &p->parts[idx];
    memset(pt, 0, sizeof *pt);
    pt->parent = parent ? parent->part : MIME_NONE;
    pt->first_child = pt->next_sibling = MIME_NONE;
    pt->depth = parent ? p->parts[parent->part].depth + 1 : 0;
    pt->header_offset = offset;
    if (parent) {
        if (parent->last_child == MIME_NONE)
            p->parts[parent->part].first_child = idx;
        else
            p->parts[parent->last_child].next_sibling = idx;
        parent->last_child = idx;
    }
    return idx;
}

/* Open a part starting at the current offset (a line start), as a child of the top level. */
static void open_part(struct mime_parser *p)
{
    struct level *parent = p->n_levels ? top_level(p) : NULL;
    size_t idx = new_part(p, parent, p->offset);
    struct level *lv = &p->levels[p->n_levels++];
    memset(lv, 0, sizeof *lv);
    lv->part = idx;
    lv->state = IN_HEADER;
    lv->kind = KIND_LEAF;
    lv->last_child = MIME_NONE;
    lv->lf_at_start = p->lf_total;
}

/* The header of the top level is over (complete or not): last field, default type. */
static void header_done(struct mime_parser *p)
{
    flush_field(p);
    struct level *lv = top_level(p);
    struct mime_part *pt = &p->parts[lv->part];
    if (pt->type)
        return;
    pt->flags |= MIME_PART_DEFAULT_TYPE;
    const struct mime_part *parent = pt->parent == MIME_NONE ? NULL : &p->parts[pt->parent];
    bool digest = parent && strcmp(parent->type, "multipart") == 0 &&
                  strcmp(parent->subtype, "digest") == 0;
    pt->type = xstrdup(digest ? "message" : "text");
    pt->subtype = xstrdup(digest ? "rfc822" : "plain");
}

static bool identity_encoding(const char *enc)
{
    return !enc || strcmp(enc, "7bit") == 0 || strcmp(enc, "8bit") == 0 ||
           strcmp(enc, "binary") == 0;
}

static void begin_multipart(struct mime_parser *p, struct level *lv, struct mime_part *pt)
{
    const char *b = mime_param_get(pt->params, pt->n_params, "boundary");
    size_t blen = b ? strlen(b) : 0;
    if (blen == 0 || blen > MIME_BOUNDARY_MAX)
        pt->flags |= MIME_PART_NO_BOUNDARY;
    else if (!identity_encoding(pt->encoding) || pt->depth >= p->lim.max_depth)
        pt->flags |= MIME_PART_OPAQUE;
    else {
        lv->kind = KIND_MULTIPART;
        memcpy(lv->boundary, b, blen);
        lv->blen = blen;
    }
}

static void begin_message(struct mime_parser *p, struct level *lv, struct mime_part *pt)
{
    if (!identity_encoding(pt->encoding) || pt->depth >= p->lim.max_depth)
        pt->flags |= MIME_PART_OPAQUE;
    else if (p->n_parts >= p->lim.max_parts)
        pt->flags |= MIME_PART_TRUNCATED;
    else {
        lv->kind = KIND_MESSAGE;
        open_part(p); /* the nested message starts with the body */
    }
}

/* The empty line ending the top level's header was just consumed. */
static void begin_body(struct mime_parser *p)
{
    header_done(p);
    struct level *lv = top_level(p);
    struct mime_part *pt = &p->parts[lv->part];
    lv->state = IN_BODY;
    pt->body_offset = p->offset;
    pt->header_size = pt->body_offset - pt->header_offset;
    pt->header_lines = p->lf_total - lv->lf_at_start;
    lv->lf_at_start = p->lf_total;
    if (strcmp(pt->type, "multipart") == 0)
        begin_multipart(p, lv, pt);
    else if (strcmp(pt->type, "message") == 0 &&
             (strcmp(pt->subtype, "rfc822") == 0 || strcmp(pt->subtype, "global") == 0))
        begin_message(p, lv, pt);
}

static size_t count_lines(size_t start, size_t lf_at_start, struct endpos e)
{
    return e.lf_before - lf_at_start + (e.off > start && !e.last_lf ? 1 : 0);
}

/* Close the top level at e. */
static void close_level(struct mime_parser *p, struct endpos e)
{
    struct level *lv = top_level(p);
    if (lv->state == IN_HEADER) {
        header_done(p);
        struct mime_part *pt = &p->parts[lv->part];
        pt->flags |= MIME_PART_HEADER_UNTERMINATED;
        pt->header_size = e.off - pt->header_offset;
        pt->header_lines = count_lines(pt->header_offset, lv->lf_at_start, e);
        pt->body_offset = e.off;
    } else {
        struct mime_part *pt = &p->parts[lv->part];
        pt->body_size = e.off - pt->body_offset;
        pt->body_lines = count_lines(pt->body_offset, lv->lf_at_start, e);
        if (lv->kind == KIND_MULTIPART && !lv->epilogue)
            pt->flags |= MIME_PART_UNTERMINATED;
    }
    p->n_levels--;
}

/* Where the parts closed by a delimiter line end: before the line end preceding the line,
 * which belongs to the delimiter, but never before the innermost closed part begins. */
static struct endpos delimiter_end(const struct mime_parser *p)
{
    const struct level *lv = &p->levels[p->n_levels - 1];
    const struct mime_part *pt = &p->parts[lv->part];
    size_t begin = lv->state == IN_HEADER ? pt->header_offset : pt->body_offset;
    size_t at = p->line_start;
    if (p->prev_eol_len > 0 && at - p->prev_eol_len >= begin)
        return (struct endpos){ at - p->prev_eol_len, p->line_lf_before - 1,
                                p->prev_content_len == 0 && p->prev_start > 0 };
    return (struct endpos){ at, p->line_lf_before, at > 0 };
}

/* A delimiter of the multipart at level k: close its open child (and everything inside),
 * then open the next child or, for the closing delimiter, enter the epilogue. */
static void on_delimiter(struct mime_parser *p, size_t k, bool closing)
{
    if (p->n_levels > k + 1) {
        struct endpos e = delimiter_end(p);
        while (p->n_levels > k + 1)
            close_level(p, e);
    }
    struct level *m = &p->levels[k];
    if (closing)
        m->epilogue = true;
    else if (m->skipping)
        return;
    else if (p->n_parts >= p->lim.max_parts) {
        m->skipping = true;
        p->parts[m->part].flags |= MIME_PART_TRUNCATED;
    } else {
        open_part(p);
    }
}

/* 0: not a delimiter line of boundary b; 1: a delimiter; 2: the closing delimiter. */
static int match_delimiter(const char *s, size_t n, const char *b, size_t blen)
{
    if (n < 2 + blen || memcmp(s + 2, b, blen) != 0)
        return 0;
    size_t i = 2 + blen;
    int kind = 1;
    if (n - i >= 2 && s[i] == '-' && s[i + 1] == '-') {
        kind = 2;
        i += 2;
    }
    for (; i < n; i++)
        if (!is_wsp(s[i]))
            return 0;
    return kind;
}

/* A non-delimiter line of the top level's header (content without its line end). */
static void header_line(struct mime_parser *p, const char *s, size_t stored, size_t len)
{
    if (len == 0) {
        begin_body(p);
        return;
    }
    bool continuation = is_wsp(s[0]) && p->field_open;
    if (!continuation)
        flush_field(p);
    field_append(p, s, stored, stored < len);
}

/* One complete line: s holds its first `stored` bytes of `len` (line end excluded). */
static void handle_line(struct mime_parser *p, const char *s, size_t stored, size_t len)
{
    if (stored == len && len >= 2 && len <= MIME_DELIMITER_LINE_MAX && s[0] == '-' &&
        s[1] == '-') {
        for (size_t k = p->n_levels; k-- > 0;) {
            const struct level *lv = &p->levels[k];
            if (lv->kind != KIND_MULTIPART || lv->epilogue)
                continue;
            int m = match_delimiter(s, len, lv->boundary, lv->blen);
            if (m) {
                on_delimiter(p, k, m == 2);
                return;
            }
        }
    }
    if (top_level(p)->state == IN_HEADER)
        header_line(p, s, stored, len);
}

/* ---- line assembly ---- */

static size_t line_cap(struct mime_parser *p)
{
    if (top_level(p)->state == IN_HEADER && p->lim.max_header_line > MIME_DELIMITER_LINE_MAX)
        return p->lim.max_header_line;
    return MIME_DELIMITER_LINE_MAX;
}

static void line_add(struct mime_parser *p, const char *s, size_t n)
{
    if (n == 0)
        return;
    size_t cap = line_cap(p);
    size_t room = cap > p->line.len ? cap - p->line.len : 0;
    buf_append(&p->line, s, min_size(n, room));
    p->line_len += n;
    p->line_last = s[n - 1];
}

/* The current line is complete (has_lf: it ended in LF, else the message ended). */
static void line_end(struct mime_parser *p, bool has_lf)
{
    bool crlf = has_lf && p->line_len > 0 && p->line_last == '\r';
    size_t len = p->line_len - (crlf ? 1 : 0);
    size_t stored = min_size(p->line.len, len);
    p->line_lf_before = p->lf_total;
    if (has_lf)
        p->lf_total++;
    handle_line(p, p->line.data ? p->line.data : "", stored, len);
    p->prev_start = p->line_start;
    p->prev_content_len = len;
    p->prev_eol_len = (has_lf ? 1 : 0) + (crlf ? 1 : 0);
    p->line_start = p->offset;
    p->line_len = 0;
    buf_reset(&p->line);
}

/* ---- API ---- */

struct mime_parser *mime_parser_new(const struct mime_limits *limits, const char **err)
{
    static const struct mime_limits defaults = MIME_LIMITS_DEFAULT;
    const struct mime_limits *lim = limits ? limits : &defaults;
    if (lim->max_parts == 0 || lim->max_header_line == 0) {
        *err = "mime: max_parts and max_header_line must be at least 1";
        return NULL;
    }
    if (lim->max_depth > MIME_DEPTH_CAP || lim->max_header_line > MIME_HEADER_LINE_CAP) {
        *err = "mime: max_depth or max_header_line above its cap";
        return NULL;
    }
    struct mime_parser *p = xcalloc(1, sizeof *p);
    p->lim = *lim;
    p->levels = xcalloc((size_t)lim->max_depth + 1, sizeof *p->levels);
    buf_init(&p->line);
    buf_init(&p->field);
    open_part(p);
    return p;
}

void mime_feed(struct mime_parser *p, const void *data, size_t len)
{
    const char *s = data;
    if (p->finished)
        return;
    while (len > 0) {
        const char *nl = memchr(s, '\n', len);
        size_t n = nl ? (size_t)(nl - s) + 1 : len;
        line_add(p, s, nl ? n - 1 : n);
        p->offset += n;
        p->last_lf = nl != NULL;
        if (nl)
            line_end(p, true);
        s += n;
        len -= n;
    }
}

const struct mime_part *mime_finish(struct mime_parser *p, size_t *count)
{
    if (!p->finished) {
        if (p->line_len > 0)
            line_end(p, false);
        struct endpos e = { p->offset, p->lf_total, p->last_lf };
        while (p->n_levels > 0)
            close_level(p, e);
        p->finished = true;
    }
    *count = p->n_parts;
    return p->parts;
}

static void free_params(struct mime_param *params, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(params[i].name);
        free(params[i].value);
    }
    free(params);
}

void mime_parser_free(struct mime_parser *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_parts; i++) {
        struct mime_part *pt = &p->parts[i];
        free(pt->type);
        free(pt->subtype);
        free_params(pt->params, pt->n_params);
        free(pt->encoding);
        free(pt->id);
        free(pt->description);
        free(pt->disposition);
        free_params(pt->disposition_params, pt->n_disposition_params);
        free(pt->language);
    }
    free(p->parts);
    free(p->levels);
    buf_free(&p->line);
    buf_free(&p->field);
    free(p);
}
