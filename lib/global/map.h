/* map.h - lookup tables "type:name". Today only lmdb:PATH (a text source compiled by
 * `posthorn map build PATH` into PATH.lmdb); the small interface (open, lookup, iterate,
 * close) leaves room for pgsql: and ldap:. Keys are matched case-insensitively (lowercased
 * at build and lookup time). Source syntax: "key: value" or "key value" per line (a key
 * "[host]" or "[host]:port" may hold colons), '#'
 * comments, leading white space continues the previous line's value. */
#ifndef POSTHORN_MAP_H
#define POSTHORN_MAP_H
#include "errlist.h"
#include <stdbool.h>

struct map;

/* Open "lmdb:/path" (reads /path.lmdb). NULL with *err when it cannot be opened; errno is
 * then ENOENT when the compiled file does not exist (callers may treat that as "empty").
 * A handle notices (within a second) when map_build replaced the file and switches to it. */
struct map *map_open(const char *spec, char **err);
/* 1 found (*value malloc'ed), 0 not found, -1 error (*err malloc'ed). */
int map_lookup(struct map *m, const char *key, char **value, char **err);
/* Call fn for each entry in key order; stop when fn returns non-zero. Returns 0 after the
 * last entry, fn's non-zero value when it stopped, -1 on a read error. */
int map_iterate(struct map *m, int (*fn)(void *ctx, const char *key, const char *value), void *ctx);
void map_close(struct map *m);
/* Compile the text file source into source.lmdb atomically. Problems go to errs as
 * "file:line: reason"; returns the number of entries or -1 (any error: nothing written).
 * The .lmdb file gets the source's permission bits and (when built by root) its group. */
long map_build(const char *source, struct errlist *errs);

#endif
