/* buf.c - growable byte string (see buf.h).
 *
 * Consuming from the front advances data and leaves dead bytes before it. They are given
 * back when more room is needed: in place when there are at least as many dead bytes as
 * live ones (so each byte moved was paid for by a byte consumed), otherwise by growing into
 * a new allocation that starts with the live bytes. Either way consuming costs O(1)
 * amortised, where a memmove of the rest on every line read was quadratic in a full buffer
 * of pipelined commands. */
#include "buf.h"
#include "mem.h"
#include "log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b) { *b = (struct buf)BUF_INIT; }

static char *alloc_start(const struct buf *b) { return b->data ? b->data - b->dead : NULL; }

void buf_free(struct buf *b)
{
    free(alloc_start(b));
    buf_init(b);
}

/* Move the live bytes (and their NUL) to the start of the allocation. */
static void compact(struct buf *b)
{
    if (b->dead == 0)
        return;
    char *start = alloc_start(b);
    memmove(start, b->data, b->len + 1);
    b->data = start;
    b->cap += b->dead;
    b->dead = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data) {
        b->data -= b->dead;
        b->cap += b->dead;
        b->dead = 0;
        b->data[0] = 0;
    }
}

/* A new allocation of at least need bytes, and at least twice the old one, that starts
 * with the live bytes. */
static void grow(struct buf *b, size_t need)
{
    size_t total = b->cap + b->dead;
    size_t cap = total ? total * 2 : 64;
    while (cap < need)
        cap *= 2;
    if (b->dead == 0) {
        b->data = xrealloc(b->data, cap);
    } else {
        char *fresh = xmalloc(cap);
        memcpy(fresh, b->data, b->len + 1);
        free(alloc_start(b));
        b->data = fresh;
        b->dead = 0;
    }
    b->cap = cap;
    b->data[b->len] = 0; /* a first allocation must be NUL-terminated too */
}

void buf_reserve(struct buf *b, size_t extra)
{
    if (extra > ((size_t)-1) / 2 - b->len)
        log_fatal("buffer size overflow");
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    if (b->dead >= b->len && need <= b->cap + b->dead) {
        compact(b);
        return;
    }
    grow(b, need);
}

void buf_append(struct buf *b, const void *data, size_t len)
{
    buf_reserve(b, len);
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = 0;
}

void buf_puts(struct buf *b, const char *s) { buf_append(b, s, strlen(s)); }
void buf_putc(struct buf *b, char c) { buf_append(b, &c, 1); }

void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        log_fatal("buf_printf: bad format");
    buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        buf_reset(b);
        return;
    }
    b->data += n;
    b->dead += n;
    b->cap -= n;
    b->len -= n; /* data[len] is still the NUL */
}

void buf_truncate(struct buf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->data[len] = 0;
    }
}

const char *buf_cstr(struct buf *b)
{
    if (b->data == NULL)
        buf_reserve(b, 0), b->data[0] = 0;
    return b->data;
}

char *buf_steal(struct buf *b)
{
    buf_cstr(b);
    compact(b); /* the caller frees what it gets */
    char *p = b->data;
    buf_init(b);
    return p;
}
