/* imap_section.c - what BODY[section] and BINARY[section] are made of (RFC 3501 sec 6.4.5,
 * RFC 9051 sec 6.4.5, RFC 3516 sec 4.2): the part numbers are followed through the MIME
 * tree, then the kind picks a range of the message (or, for HEADER.FIELDS[.NOT], the
 * chosen fields copied out). See imap_struct.h for the numbering rules. */
#include "header_span.h"
#include "imap_struct_int.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Where the part numbers lead. */
struct target {
    size_t part;  /* tree index */
    bool phantom; /* the empty part 1 of a multipart without parts */
};

static size_t nth_child(const struct imap_message *m, size_t idx, uint32_t n)
{
    size_t c = m->parts[idx].first_child;
    for (uint32_t i = 1; c != MIME_NONE && i < n; i++)
        c = m->parts[c].next_sibling;
    return c;
}

/* One step: part number n inside cur. in_message: cur is a message (the top level, or the
 * message a message/rfc822 part holds), so a part 1 that is its own body exists. */
static enum imap_section_status step(const struct imap_message *m, struct target *t,
                                     bool in_message, uint32_t n)
{
    const struct mime_part *pt = &m->parts[t->part];
    if (n == 0)
        return IMAP_SECTION_INVALID;
    if (t->phantom)
        return IMAP_SECTION_MISSING;
    if (!in_message && imap_is_message(pt)) {
        if (pt->first_child == MIME_NONE)
            return IMAP_SECTION_MISSING;
        t->part = pt->first_child;
        return step(m, t, true, n);
    }
    if (imap_is_multipart(pt)) {
        if (pt->first_child == MIME_NONE) {
            t->phantom = n == 1;
            return n == 1 ? IMAP_SECTION_OK : IMAP_SECTION_MISSING;
        }
        size_t c = nth_child(m, t->part, n);
        if (c == MIME_NONE)
            return IMAP_SECTION_MISSING;
        t->part = c;
        return IMAP_SECTION_OK;
    }
    return in_message && n == 1 ? IMAP_SECTION_OK : IMAP_SECTION_MISSING;
}

static enum imap_section_status follow(const struct imap_message *m,
                                       const struct imap_section *s, struct target *t)
{
    t->part = 0;
    t->phantom = false;
    for (size_t i = 0; i < s->n_part; i++) {
        enum imap_section_status st = step(m, t, i == 0, s->part[i]);
        if (st != IMAP_SECTION_OK)
            return st;
    }
    return IMAP_SECTION_OK;
}

static void use_range(struct imap_source *src, size_t off, size_t len)
{
    src->off = off;
    src->len = len;
}

static int name_order(const void *a, const void *b)
{
    return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

/* A field name (not NUL-terminated) against a listed name, in name_order's order. */
struct name_key {
    const char *s;
    size_t n;
};

static int key_order(const void *k, const void *e)
{
    const struct name_key *key = k;
    const char *name = *(const char *const *)e;
    int c = strncasecmp(key->s, name, key->n);
    if (c != 0)
        return c;
    return name[key->n] == '\0' ? 0 : -1; /* a proper prefix sorts first */
}

/* HEADER.FIELDS and HEADER.FIELDS.NOT of the message part idx: whole fields, then the empty
 * line when the header has one. Lines that are no field are in neither subset. The names
 * are sorted once, so a long list costs O(log n) per field. */
static void header_subset(const struct imap_message *m, size_t idx,
                          const struct imap_section *s, struct imap_source *src)
{
    const struct mime_part *pt = &m->parts[idx];
    bool want = s->kind == IMAP_SECTION_HEADER_FIELDS;
    const char **names = xreallocarray(NULL, s->n_fields ? s->n_fields : 1, sizeof *names);
    if (s->n_fields > 0)
        memcpy(names, s->fields, s->n_fields * sizeof *names);
    qsort(names, s->n_fields, sizeof *names, name_order);
    struct header_span_iter it;
    struct header_span f;
    src->owned = true;
    header_span_init(&it, m->data + pt->header_offset, pt->header_size);
    while (header_span_next(&it, &f)) {
        struct name_key key = { f.name, f.name_len };
        bool listed = bsearch(&key, names, s->n_fields, sizeof *names, key_order) != NULL;
        if (f.name_len > 0 && listed == want) {
            bool prev_cr = false;
            imap_crlf_append(f.text, f.len, &prev_cr, true, &src->buf);
        }
    }
    if (!(pt->flags & MIME_PART_HEADER_UNTERMINATED))
        buf_append(&src->buf, "\r\n", 2);
    buf_cstr(&src->buf);
    free(names);
}

/* HEADER, HEADER.FIELDS[.NOT], TEXT: of the top-level message, or of the message a
 * message/rfc822 part holds. */
static enum imap_section_status message_section(const struct imap_message *m,
                                                const struct imap_section *s,
                                                const struct target *t,
                                                struct imap_source *src)
{
    size_t msg = 0;
    if (s->n_part > 0) {
        const struct mime_part *pt = &m->parts[t->part];
        if (t->phantom || !imap_is_message(pt))
            return IMAP_SECTION_INVALID;
        if (pt->first_child == MIME_NONE)
            return IMAP_SECTION_MISSING;
        msg = pt->first_child;
    }
    const struct mime_part *e = &m->parts[msg];
    if (s->kind == IMAP_SECTION_HEADER)
        use_range(src, e->header_offset, e->header_size);
    else if (s->kind == IMAP_SECTION_TEXT)
        use_range(src, e->body_offset, e->body_size);
    else
        header_subset(m, msg, s, src);
    return IMAP_SECTION_OK;
}

static enum imap_section_status binary_section(const struct imap_message *m,
                                               const struct imap_section *s,
                                               const struct target *t,
                                               struct imap_source *src)
{
    if (s->kind != IMAP_SECTION_ALL)
        return IMAP_SECTION_INVALID;
    if (s->n_part == 0) { /* the whole message: no transfer encoding applies to it */
        use_range(src, 0, m->len);
        return IMAP_SECTION_OK;
    }
    if (t->phantom)
        return IMAP_SECTION_OK;
    const struct mime_part *pt = &m->parts[t->part];
    src->cte = cte_from_name(pt->encoding);
    if (src->cte == CTE_UNKNOWN)
        return IMAP_SECTION_UNKNOWN_CTE;
    use_range(src, pt->body_offset, pt->body_size);
    return IMAP_SECTION_OK;
}

enum imap_section_status imap_section_resolve(const struct imap_message *m,
                                              const struct imap_section *s,
                                              enum imap_section_mode mode,
                                              struct imap_source *src)
{
    memset(src, 0, sizeof *src);
    buf_init(&src->buf);
    src->cte = CTE_IDENTITY;
    struct target t;
    enum imap_section_status st = follow(m, s, &t);
    if (st != IMAP_SECTION_OK)
        return st;
    if (mode == IMAP_SECTION_BINARY)
        return binary_section(m, s, &t, src);
    const struct mime_part *pt = &m->parts[t.part];
    switch (s->kind) {
    case IMAP_SECTION_ALL:
        if (s->n_part == 0)
            use_range(src, 0, m->len);
        else if (!t.phantom)
            use_range(src, pt->body_offset, pt->body_size);
        return IMAP_SECTION_OK;
    case IMAP_SECTION_MIME:
        if (s->n_part == 0)
            return IMAP_SECTION_INVALID;
        if (!t.phantom)
            use_range(src, pt->header_offset, pt->header_size);
        return IMAP_SECTION_OK;
    case IMAP_SECTION_HEADER:
    case IMAP_SECTION_HEADER_FIELDS:
    case IMAP_SECTION_HEADER_FIELDS_NOT:
    case IMAP_SECTION_TEXT:
        return message_section(m, s, &t, src);
    }
    return IMAP_SECTION_INVALID;
}
