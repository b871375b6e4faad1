/* errlist.h - a list of "file:line: reason" problems collected by parsers and checkers,
 * printed by `posthorn check` and by `start` when it refuses a bad configuration. */
#ifndef POSTHORN_ERRLIST_H
#define POSTHORN_ERRLIST_H
#include <stddef.h>
#include <stdio.h>

struct errlist {
    char **msgs;
    size_t n;
    size_t warnings; /* how many of msgs are warnings (prefixed "warning: ") */
};

void errlist_add(struct errlist *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void errlist_warn(struct errlist *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t errlist_errors(const struct errlist *e);
void errlist_print(const struct errlist *e, FILE *out);
void errlist_free(struct errlist *e);

#endif
