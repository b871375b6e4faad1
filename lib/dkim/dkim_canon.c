/* dkim_canon.c - relaxed header and body canonicalization (see dkim_canon.h). */
#include "dkim_canon.h"
#include <ctype.h>
#include <string.h>

static bool is_wsp(char c) { return c == ' ' || c == '\t'; }

/* Append text[0..len) unfolded, with runs of white space as one SP and none at the start
 * or the end (the value of sec 3.4.2; also the name, which has no inner white space). */
static void put_squeezed(const char *text, size_t len, bool lower, struct buf *out)
{
    bool wsp = false, any = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '\n') /* unfolding: the line ends go (a CR is an ordinary byte) */
            continue;
        if (is_wsp(c)) {
            wsp = true;
            continue;
        }
        if (wsp && any)
            buf_putc(out, ' ');
        wsp = false;
        any = true;
        buf_putc(out, lower ? (char)tolower((unsigned char)c) : c);
    }
}

void dkim_canon_header(const char *field, size_t len, bool crlf, struct buf *out)
{
    const char *colon = memchr(field, ':', len);
    size_t name_len = colon ? (size_t)(colon - field) : len;
    put_squeezed(field, name_len, true, out);
    buf_putc(out, ':');
    if (colon)
        put_squeezed(colon + 1, len - name_len - 1, false, out);
    if (crlf)
        buf_append(out, "\r\n", 2);
}

void dkim_body_init(struct dkim_body_canon *c, dkim_out_fn out, void *ctx)
{
    memset(c, 0, sizeof *c);
    c->out = out;
    c->ctx = ctx;
}

/* Content follows: what was held back before it counts now. */
static void release(struct dkim_body_canon *c)
{
    static const char crlfs[] = "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n";
    while (c->empty_lines > 0) {
        size_t n = c->empty_lines < 8 ? c->empty_lines : 8;
        c->out(c->ctx, crlfs, 2 * n);
        c->empty_lines -= n;
    }
    if (c->wsp) /* inner and leading white space is reduced to one SP, not removed */
        c->out(c->ctx, " ", 1);
    c->wsp = false;
}

void dkim_body_feed(struct dkim_body_canon *c, const char *data, size_t len)
{
    size_t i = 0;
    while (i < len) {
        char ch = data[i];
        if (ch == '\n') {
            if (c->content)
                c->out(c->ctx, "\r\n", 2);
            else
                c->empty_lines++; /* empty, or white space only: empty once trimmed */
            c->content = c->wsp = false;
            i++;
        } else if (is_wsp(ch)) {
            c->wsp = true;
            i++;
        } else {
            size_t run = i + 1;
            while (run < len && data[run] != '\n' && !is_wsp(data[run]))
                run++;
            release(c);
            c->out(c->ctx, data + i, run - i);
            c->content = true;
            i = run;
        }
    }
}

void dkim_body_finish(struct dkim_body_canon *c)
{
    if (c->content)
        c->out(c->ctx, "\r\n", 2);
    c->content = c->wsp = false;
    c->empty_lines = 0;
}
