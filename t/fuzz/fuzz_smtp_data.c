/* fuzz_smtp_data.c - libFuzzer target: the DATA decoder. The first byte picks the bare-LF
 * mode, a chunk size and whether the DATA command line ended in CRLF (smtpd passes
 * !last_bare_lf, so both cases reach the decoder); the rest is fed once whole and once in chunks, the way a socket
 * delivers it. Both runs must agree on the status, the bytes consumed and the output (split
 * invariance; the output of a rejected message is exempt); after an end of data the consumed
 * input must end in "\r\n.\r\n" (or be just ".\r\n" after a DATA line ending in CRLF); and stored content must survive being relayed
 * (check_round_trip). */
#include "buf.h"
#include "smtp_data.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void collect(void *ctx, const char *data, size_t len) { buf_append(ctx, data, len); }

struct run {
    enum smtp_data_status st;
    size_t used;
    struct buf out;
};

static void decode(const uint8_t *in, size_t n, enum smtp_bare_lf mode, bool prev_crlf,
                   size_t chunk, struct run *r)
{
    struct smtp_data d;
    smtp_data_init(&d, mode, prev_crlf);
    buf_init(&r->out);
    struct buf pending = BUF_INIT; /* bytes offered but not yet consumed, like a socket buffer */
    size_t fed = 0;
    r->used = 0;
    r->st = SMTP_DATA_MORE;
    while (r->st == SMTP_DATA_MORE) {
        size_t take = n - fed < chunk ? n - fed : chunk;
        buf_append(&pending, in + fed, take);
        fed += take;
        bool eof = fed == n;
        size_t used = 0;
        r->st = smtp_data_decode(&d, pending.data ? pending.data : "", pending.len, eof, &used,
                                 collect, &r->out);
        buf_consume(&pending, used);
        r->used += used;
        if (eof && (r->st != SMTP_DATA_MORE || used == 0))
            break;
    }
    buf_free(&pending);
}

/* What a sender does with stored content: LF -> CRLF, dot-stuffing, then "." CRLF. Decoding
 * that again must give back the same content and end exactly at the end: no content can
 * turn into an early end of data or a second message when relayed. */
static void check_round_trip(const struct buf *content)
{
    struct buf wire = BUF_INIT;
    bool line_start = true;
    for (size_t i = 0; i < content->len; i++) {
        char c = content->data[i];
        if (line_start && c == '.')
            buf_putc(&wire, '.');
        if (c == '\n')
            buf_puts(&wire, "\r\n");
        else
            buf_putc(&wire, c);
        line_start = c == '\n';
    }
    buf_puts(&wire, ".\r\n");
    struct run again;
    decode((const uint8_t *)wire.data, wire.len, SMTP_LF_NORMALIZE, true, wire.len, &again);
    if (again.st != SMTP_DATA_END || again.used != wire.len || again.out.len != content->len ||
        (content->len && memcmp(again.out.data, content->data, content->len) != 0))
        abort();
    buf_free(&again.out);
    buf_free(&wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum smtp_bare_lf mode = (enum smtp_bare_lf)(data[0] % 3);
    size_t chunk = 1 + ((data[0] >> 2) & 0x1f) % 17;
    bool prev_crlf = !(data[0] & 0x80);
    struct run whole, split;
    decode(data + 1, size - 1, mode, prev_crlf, size, &whole);
    decode(data + 1, size - 1, mode, prev_crlf, chunk, &split);
    if (whole.st != split.st || whole.used != split.used)
        abort();
    /* After a bare LF in reject mode the message is thrown away, so only then may the
     * partial output differ (a chunked run emitted the start of the offending line). */
    if (whole.st != SMTP_DATA_BARE_LF &&
        (whole.out.len != split.out.len ||
         (whole.out.len && memcmp(whole.out.data, split.out.data, whole.out.len) != 0)))
        abort();
    if (mode == SMTP_LF_NORMALIZE && whole.st == SMTP_DATA_END)
        check_round_trip(&whole.out);
    if (whole.st == SMTP_DATA_END) {
        const uint8_t *end = data + 1 + whole.used;
        if (whole.used < 3 || memcmp(end - 3, ".\r\n", 3) != 0)
            abort();
        if (whole.used > 3 && (whole.used < 5 || memcmp(end - 5, "\r\n", 2) != 0))
            abort();
        /* "." right after a DATA line that ended in a bare LF is not an end of data. */
        if (whole.used == 3 && !prev_crlf)
            abort();
    }
    buf_free(&whole.out);
    buf_free(&split.out);
    return 0;
}
