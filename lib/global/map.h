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
#include <sys/types.h>

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

/* What an aliases table may hold besides addresses and :include: files. */
struct alias_rules {
    bool commands; /* "|command" targets (allow_mail_to_commands has "alias") */
    bool files;    /* "/file" targets (allow_mail_to_files has "alias") */
};
/* map_build for an aliases(5) source (map_build.c): every entry "NAME: VALUE" with a valid
 * name and targets (lib/global/alias_value.h), commands and files only as rules allow and
 * only in a source that no one but its owner can write. */
long map_build_aliases(const char *source, const struct alias_rules *rules, struct errlist *errs);
/* The owner and permission bits of the compiled file a map reads now (its current
 * snapshot); 0, or -1 with errno. */
int map_file_owner(struct map *m, uid_t *uid, mode_t *mode);

#endif
