/* imap_struct.c - a message as IMAP sees it (see imap_struct.h): its MIME tree and the
 * index that gives sizes of its CRLF form without reading the ranges measured. */
#include "imap_struct_int.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

/* Count the bare LFs (no CR just before, in the message) of data[from..to). */
static size_t count_bare(const char *data, size_t from, size_t to)
{
    size_t n = 0;
    const char *p = data + from, *end = data + to;
    while (p < end) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        if (!lf)
            break;
        if (lf == data || lf[-1] != '\r')
            n++;
        p = lf + 1;
    }
    return n;
}

static void build_index(struct imap_message *m)
{
    m->n_blocks = m->len / IMAP_CRLF_BLOCK + 1;
    m->bare = xcalloc(m->n_blocks, sizeof *m->bare);
    size_t total = 0;
    for (size_t k = 1; k < m->n_blocks; k++) {
        total += count_bare(m->data, (k - 1) * IMAP_CRLF_BLOCK, k * IMAP_CRLF_BLOCK);
        m->bare[k] = total;
    }
}

/* Bare LFs in data[0..x). */
static size_t bare_before(const struct imap_message *m, size_t x)
{
    size_t k = x / IMAP_CRLF_BLOCK;
    return m->bare[k] + count_bare(m->data, k * IMAP_CRLF_BLOCK, x);
}

uint64_t imap_crlf_size(const struct imap_message *m, size_t off, size_t len)
{
    if (len == 0)
        return 0;
    uint64_t n = len + bare_before(m, off + len) - bare_before(m, off);
    /* an LF at the start of a range is bare there even if a CR precedes it outside */
    if (off > 0 && m->data[off] == '\n' && m->data[off - 1] == '\r')
        n++;
    return n;
}

void imap_crlf_append(const char *s, size_t len, bool *prev_cr, bool nul_80, struct buf *out)
{
    const char *end = s + len;
    while (s < end) {
        const char *lf = memchr(s, '\n', (size_t)(end - s));
        size_t run = lf ? (size_t)(lf - s) : (size_t)(end - s);
        size_t at = out->len;
        buf_append(out, s, run);
        if (nul_80) {
            char *z = out->data + at, *zend = out->data + out->len;
            while ((z = memchr(z, '\0', (size_t)(zend - z))) != NULL)
                *z++ = (char)0x80;
        }
        if (run > 0)
            *prev_cr = s[run - 1] == '\r';
        if (!lf)
            break;
        if (!*prev_cr)
            buf_putc(out, '\r');
        buf_putc(out, '\n');
        *prev_cr = false;
        s = lf + 1;
    }
}

bool imap_is_message(const struct mime_part *pt)
{
    return strcmp(pt->type, "message") == 0 &&
           (strcmp(pt->subtype, "rfc822") == 0 || strcmp(pt->subtype, "global") == 0);
}

bool imap_is_multipart(const struct mime_part *pt) { return strcmp(pt->type, "multipart") == 0; }

struct imap_message *imap_message_new(const char *data, size_t len)
{
    const char *err = NULL;
    struct imap_message *m = xcalloc(1, sizeof *m);
    m->data = data ? data : "";
    m->len = len;
    m->parser = mime_parser_new(NULL, &err); /* the default limits are valid */
    mime_feed(m->parser, m->data, len);
    m->parts = mime_finish(m->parser, &m->n_parts);
    build_index(m);
    return m;
}

void imap_message_free(struct imap_message *m)
{
    if (!m)
        return;
    mime_parser_free(m->parser);
    free(m->bare);
    free(m);
}

uint64_t imap_message_size(const struct imap_message *m) { return imap_crlf_size(m, 0, m->len); }

const struct mime_part *imap_message_parts(const struct imap_message *m, size_t *count)
{
    *count = m->n_parts;
    return m->parts;
}
