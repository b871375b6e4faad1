/* errlist.c - collected configuration problems (see errlist.h). */
#include "errlist.h"
#include "buf.h"
#include "mem.h"
#include <stdarg.h>
#include <stdlib.h>

__attribute__((format(printf, 3, 0)))
static void push(struct errlist *e, const char *prefix, const char *fmt, va_list ap)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, prefix);
    buf_vprintf(&b, fmt, ap);
    e->msgs = xreallocarray(e->msgs, e->n + 1, sizeof *e->msgs);
    e->msgs[e->n++] = buf_steal(&b);
}

void errlist_add(struct errlist *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    push(e, "", fmt, ap);
    va_end(ap);
}

void errlist_warn(struct errlist *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    push(e, "warning: ", fmt, ap);
    va_end(ap);
    e->warnings++;
}

size_t errlist_errors(const struct errlist *e) { return e->n - e->warnings; }

void errlist_print(const struct errlist *e, FILE *out)
{
    for (size_t i = 0; i < e->n; i++)
        fprintf(out, "%s\n", e->msgs[i]);
}

void errlist_free(struct errlist *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->msgs[i]);
    free(e->msgs);
    e->msgs = NULL;
    e->n = e->warnings = 0;
}
