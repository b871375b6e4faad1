/* mem.h - allocation wrappers that terminate the process on exhaustion.
 * Callers never check for NULL; running out of memory is fatal and logged. */
#ifndef POSTHORN_MEM_H
#define POSTHORN_MEM_H
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
