/* dotstuff.c - CRLF and dot-stuffing encoder (see dotstuff.h). */
#include "dotstuff.h"
#include <string.h>

static void new_line(struct dotstuff *e)
{
    e->line_start = true;
    e->prev_cr = false;
    e->line_len = 0;
}

void dotstuff_init(struct dotstuff *e)
{
    new_line(e);
    e->max_line = 0;
    e->no_dots = false;
}

/* Line content data[0..run) (no LF in it), broken after max_line bytes with CR LF SP: the
 * space makes the rest a continuation line in a header and costs least in a body. A CR
 * that ends the content may be the first half of a CR LF: it is never split off. */
static void put_content(struct dotstuff *e, const char *data, size_t run, struct buf *out)
{
    while (e->max_line && run > 0 && e->line_len + run > e->max_line &&
           !(e->line_len + run == e->max_line + 1 && data[run - 1] == '\r')) {
        size_t room = e->line_len < e->max_line ? e->max_line - e->line_len : 0;
        buf_append(out, data, room);
        buf_puts(out, "\r\n ");
        data += room;
        run -= room;
        e->line_len = 1;
        e->prev_cr = false;
    }
    if (run > 0) {
        buf_append(out, data, run);
        e->prev_cr = data[run - 1] == '\r';
        e->line_len += run;
    }
}

size_t dotstuff_encode_line(struct dotstuff *e, const char *data, size_t len, struct buf *out,
                            struct dotstuff_line *line)
{
    line->ended = line->empty = false;
    if (len == 0)
        return 0;
    if (e->line_start) {
        if (data[0] == '.' && !e->no_dots)
            buf_putc(out, '.'); /* a leading dot is doubled */
        e->line_start = false;
    }
    const char *nl = memchr(data, '\n', len);
    size_t run = nl ? (size_t)(nl - data) : len;
    put_content(e, data, run, out);
    if (!nl)
        return len;
    line->ended = true;
    line->empty = e->line_len == 0 || (e->line_len == 1 && e->prev_cr);
    if (!e->prev_cr)
        buf_putc(out, '\r'); /* a bare LF goes out as CRLF */
    buf_putc(out, '\n');
    new_line(e);
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
    new_line(e);
}
