/* imap_section_reader.c - reading a section's contents in slices (see imap_struct.h): the
 * CRLF form of a range made on the fly, or a buffer made by imap_section.c; for BINARY the
 * CRLF form goes through a transfer decoder (cte.h). A BODY reader seeks by binary search
 * over the CRLF sizes the index gives; a BINARY reader by decoding and dropping. */
#include "imap_struct_int.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

#define DECODE_SLICE 65536

struct imap_section_reader {
    const struct imap_message *m;
    struct imap_source src;
    bool binary;
    uint64_t size;
    bool has_nul;
    uint64_t at; /* octets handed out (or skipped) so far */
    /* the CRLF form of the range */
    size_t pos;      /* next byte of the range to read */
    bool prev_cr;    /* the byte before pos was CR */
    bool pending_lf; /* the LF of a CR LF made from a bare LF is still to come */
    /* BINARY: decoded bytes not yet handed out */
    bool decoding; /* a transfer encoding is undone */
    struct cte_decoder dec;
    struct buf decoded;
    size_t decoded_pos;
    bool decoder_done;
    struct buf scratch;
};

/* ---- the CRLF form of the range ---- */

static void crlf_rewind(struct imap_section_reader *r)
{
    r->pos = r->src.off;
    r->prev_cr = false;
    r->pending_lf = false;
}

/* Append up to max octets of the CRLF form from the current position. */
static size_t crlf_read(struct imap_section_reader *r, size_t max, bool nul_80,
                        struct buf *out)
{
    size_t before = out->len, end = r->src.off + r->src.len;
    if (max > 0 && r->pending_lf) {
        buf_putc(out, '\n');
        r->pending_lf = false;
    }
    while (out->len - before < max && r->pos < end) {
        size_t room = max - (out->len - before);
        /* room - 1 raw bytes give at most room - 1 + (room - 1) octets; take them in runs
         * that cannot overshoot: a run never holds more raw bytes than there is room */
        size_t take = end - r->pos < room ? end - r->pos : room;
        const char *s = r->m->data + r->pos;
        const char *lf = memchr(s, '\n', take);
        size_t run = lf ? (size_t)(lf - s) : take;
        imap_crlf_append(s, run, &r->prev_cr, nul_80, out);
        r->pos += run;
        if (!lf)
            continue;
        bool bare = !r->prev_cr;
        room = max - (out->len - before);
        if (room == 0)
            break;
        r->pos++; /* the LF */
        if (bare) {
            buf_putc(out, '\r');
            if (room == 1)
                r->pending_lf = true;
            else
                buf_putc(out, '\n');
        } else {
            buf_putc(out, '\n');
        }
        r->prev_cr = false;
    }
    return out->len - before;
}

/* Position the CRLF form at octet x (x <= its size) without reading what comes before. */
static void crlf_seek(struct imap_section_reader *r, uint64_t x)
{
    size_t lo = r->src.off, hi = r->src.off + r->src.len; /* smallest p: size(p) >= x */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (imap_crlf_size(r->m, r->src.off, mid - r->src.off) >= x)
            hi = mid;
        else
            lo = mid + 1;
    }
    uint64_t got = imap_crlf_size(r->m, r->src.off, lo - r->src.off);
    r->pos = lo;
    r->pending_lf = got > x; /* x falls between the CR and LF made from the bare LF at lo-1 */
    r->prev_cr = !r->pending_lf && lo > r->src.off && r->m->data[lo - 1] == '\r';
}

/* ---- BINARY: decoding ---- */

static void decode_rewind(struct imap_section_reader *r)
{
    crlf_rewind(r);
    cte_decoder_init(&r->dec, r->src.cte);
    buf_reset(&r->decoded);
    r->decoded_pos = 0;
    r->decoder_done = false;
}

static size_t decode_read(struct imap_section_reader *r, size_t max, struct buf *out)
{
    size_t before = out->len;
    while (out->len - before < max) {
        size_t have = r->decoded.len - r->decoded_pos;
        if (have > 0) {
            size_t n = have < max - (out->len - before) ? have : max - (out->len - before);
            buf_append(out, r->decoded.data + r->decoded_pos, n);
            r->decoded_pos += n;
            continue;
        }
        if (r->decoder_done)
            break;
        buf_reset(&r->decoded);
        buf_reset(&r->scratch);
        r->decoded_pos = 0;
        if (crlf_read(r, DECODE_SLICE, false, &r->scratch) > 0) {
            cte_decode(&r->dec, r->scratch.data, r->scratch.len, &r->decoded);
        } else {
            cte_decode_finish(&r->dec, &r->decoded);
            r->decoder_done = true;
        }
    }
    return out->len - before;
}

/* ---- the reader ---- */

static size_t read_some(struct imap_section_reader *r, size_t max, struct buf *out)
{
    if (r->src.owned) {
        size_t left = r->src.buf.len - (size_t)r->at;
        size_t n = left < max ? left : max;
        buf_append(out, r->src.buf.data + r->at, n);
        return n;
    }
    if (r->decoding)
        return decode_read(r, max, out);
    return crlf_read(r, max, !r->binary, out);
}

static void rewind_reader(struct imap_section_reader *r)
{
    r->at = 0;
    if (r->decoding)
        decode_rewind(r);
    else
        crlf_rewind(r);
}

/* BINARY sizes: one pass of decoding, counting octets and looking for NUL. */
static void measure_decoded(struct imap_section_reader *r)
{
    struct buf slice = BUF_INIT;
    size_t n;
    while ((n = read_some(r, DECODE_SLICE, &slice)) > 0) {
        r->size += n;
        r->has_nul = r->has_nul || memchr(slice.data, '\0', slice.len) != NULL;
        buf_reset(&slice);
    }
    buf_free(&slice);
    rewind_reader(r);
}

struct imap_section_reader *imap_reader_new(const struct imap_message *m,
                                            struct imap_source *src,
                                            enum imap_section_mode mode)
{
    struct imap_section_reader *r = xcalloc(1, sizeof *r);
    r->m = m;
    r->src = *src;
    buf_init(&src->buf); /* taken over */
    r->binary = mode == IMAP_SECTION_BINARY;
    r->decoding = r->binary && !r->src.owned && r->src.cte != CTE_IDENTITY;
    buf_init(&r->decoded);
    buf_init(&r->scratch);
    rewind_reader(r);
    if (r->src.owned)
        r->size = r->src.buf.len;
    else if (r->decoding)
        measure_decoded(r);
    else
        r->size = imap_crlf_size(m, r->src.off, r->src.len);
    if (r->binary && !r->decoding)
        r->has_nul = r->src.owned ? memchr(r->src.buf.data, '\0', r->src.buf.len) != NULL
                                  : memchr(m->data + r->src.off, '\0', r->src.len) != NULL;
    return r;
}

uint64_t imap_section_size(const struct imap_section_reader *r) { return r->size; }

bool imap_section_has_nul(const struct imap_section_reader *r) { return r->has_nul; }

void imap_section_seek(struct imap_section_reader *r, uint64_t offset)
{
    if (offset > r->size)
        offset = r->size;
    if (offset < r->at)
        rewind_reader(r);
    if (r->src.owned || (!r->decoding && offset == r->at)) {
        r->at = offset;
        return;
    }
    if (!r->decoding) {
        crlf_seek(r, offset);
        r->at = offset;
        return;
    }
    struct buf drop = BUF_INIT;
    while (r->at < offset) {
        uint64_t want = offset - r->at;
        size_t n = read_some(r, want < DECODE_SLICE ? (size_t)want : DECODE_SLICE, &drop);
        if (n == 0)
            break;
        r->at += n;
        buf_reset(&drop);
    }
    buf_free(&drop);
}

size_t imap_section_read(struct imap_section_reader *r, size_t max, struct buf *out)
{
    size_t n = read_some(r, max, out);
    r->at += n;
    buf_cstr(out);
    return n;
}

void imap_section_close(struct imap_section_reader *r)
{
    if (!r)
        return;
    buf_free(&r->src.buf);
    buf_free(&r->decoded);
    buf_free(&r->scratch);
    free(r);
}

enum imap_section_status imap_section_open(const struct imap_message *m,
                                           const struct imap_section *s,
                                           enum imap_section_mode mode,
                                           struct imap_section_reader **r)
{
    struct imap_source src;
    enum imap_section_status st = imap_section_resolve(m, s, mode, &src);
    *r = st == IMAP_SECTION_OK ? imap_reader_new(m, &src, mode) : NULL;
    buf_free(&src.buf);
    return st;
}

enum imap_section_status imap_section_fetch(const struct imap_message *m,
                                            const struct imap_section *s,
                                            enum imap_section_mode mode, uint64_t start,
                                            uint64_t len, struct buf *out, uint64_t *size)
{
    struct imap_section_reader *r;
    enum imap_section_status st = imap_section_open(m, s, mode, &r);
    if (st != IMAP_SECTION_OK)
        return st;
    if (size)
        *size = r->size;
    imap_section_seek(r, start);
    uint64_t left = len;
    while (left > 0) {
        size_t n = imap_section_read(r, left < DECODE_SLICE ? (size_t)left : DECODE_SLICE, out);
        if (n == 0)
            break;
        left -= n;
    }
    buf_cstr(out);
    imap_section_close(r);
    return IMAP_SECTION_OK;
}
