/* dotstuff.c - CRLF and dot-stuffing encoder (see dotstuff.h). */
#include "dotstuff.h"
#include <string.h>

void dotstuff_init(struct dotstuff *e)
{
    e->line_start = true;
    e->prev_cr = false;
    e->line_len = 0;
}

size_t dotstuff_encode_line(struct dotstuff *e, const char *data, size_t len, struct buf *out,
                            struct dotstuff_line *line)
{
    line->ended = line->empty = false;
    if (len == 0)
        return 0;
    if (e->line_start) {
        if (data[0] == '.')
            buf_putc(out, '.'); /* a leading dot is doubled */
        e->line_start = false;
    }
    const char *nl = memchr(data, '\n', len);
    size_t run = nl ? (size_t)(nl - data) : len;
    if (run > 0) {
        buf_append(out, data, run);
        e->prev_cr = data[run - 1] == '\r';
        e->line_len += run;
    }
    if (!nl)
        return len;
    line->ended = true;
    line->empty = e->line_len == 0 || (e->line_len == 1 && e->prev_cr);
    if (!e->prev_cr)
        buf_putc(out, '\r'); /* a bare LF goes out as CRLF */
    buf_putc(out, '\n');
    dotstuff_init(e);
    return run + 1;
}

void dotstuff_encode(struct dotstuff *e, const char *data, size_t len, struct buf *out)
{
    buf_reserve(out, len + len / 16 + 16);
    while (len > 0) {
        struct dotstuff_line line;
        size_t used = dotstuff_encode_line(e, data, len, out, &line);
        data += used;
        len -= used;
    }
}

void dotstuff_finish(struct dotstuff *e, struct buf *out)
{
    if (!e->line_start)
        buf_puts(out, "\r\n");
    buf_puts(out, ".\r\n");
    dotstuff_init(e);
}
