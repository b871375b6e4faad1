/* buf.h - the one growable byte string of Posthorn.
 * data is always NUL-terminated (not counted in len), so buf_cstr() is free.
 * Growth dies on exhaustion (mem.h); callers enforce protocol limits themselves.
 * data and len are always the unread bytes: buf_consume() only advances data (O(1)); the
 * consumed space before it is reclaimed when the buffer would otherwise grow (buf.c).
 * Callers may read data[0 .. len], write up to data + cap after buf_reserve(), and shorten
 * len; only buf.c moves data or frees the allocation. Not thread-safe. */
#ifndef POSTHORN_BUF_H
#define POSTHORN_BUF_H
#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data; /* the unread bytes */
    size_t len;
    size_t cap;  /* bytes allocated from data on (including room for the NUL) */
    size_t dead; /* consumed bytes before data: the allocation starts at data - dead */
};

#define BUF_INIT { NULL, 0, 0, 0 }

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Remove the first n bytes (O(1): the space is reclaimed later). */
void buf_consume(struct buf *b, size_t n);
void buf_truncate(struct buf *b, size_t len);
const char *buf_cstr(struct buf *b);
/* Hand the storage to the caller (NUL-terminated); b is left empty. */
char *buf_steal(struct buf *b);

#endif
