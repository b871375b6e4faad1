/* config.h - main.cf: the typed parameter table and the parsed, expanded configuration.
 *
 * Syntax (Postfix's): "name = value", a line starting with white space continues the
 * previous one, '#' starts a comment line, $name and ${name} expand (recursively, bounded),
 * $$ is a literal '$'. Every parameter has one row in the compiled-in table (params.c) with its
 * type, default, bounds and a one-line doc; `posthorn conf -d` prints that table. Unknown
 * names are warned with file:line; bad values are errors with file:line. Values from
 * master.cf "-o name=value" override main.cf for one service. */
#ifndef POSTHORN_CONFIG_H
#define POSTHORN_CONFIG_H
#include "errlist.h"
#include <stdbool.h>
#include <stddef.h>

enum param_type {
    PT_STR,  /* free text */
    PT_INT,  /* integer within [min, max] */
    PT_BOOL, /* yes/no (also true/false, 1/0) */
    PT_TIME, /* seconds; suffixes s, m, h, d, w */
    PT_SIZE, /* bytes; suffixes k, m, g (powers of 1024) */
    PT_LIST, /* comma and/or white space separated */
    PT_ENUM  /* one of the '|'-separated words in `choices` */
};

struct param_def {
    const char *name;
    enum param_type type;
    const char *def;     /* default, before $expansion */
    long long min, max;  /* for INT, TIME, SIZE */
    const char *choices; /* for ENUM: "a|b|c" */
    const char *doc;
};

extern const struct param_def param_table[];
extern const size_t param_table_len;
const struct param_def *param_find(const char *name);

struct config;

/* Load CONFDIR/main.cf. Returns NULL only when the file cannot be read (reason in errs).
 * Syntax problems, unknown names and bad values are added to errs (file:line: reason). */
struct config *config_load(const char *confdir, struct errlist *errs);
/* An empty configuration (all defaults) for confdir; used by tests and `conf -d`. */
struct config *config_defaults(const char *confdir);
void config_free(struct config *cfg);
const char *config_dir(const struct config *cfg);

/* Apply "name=value" (master.cf -o, command line). Returns false (reason in errs) if bad. */
bool config_override(struct config *cfg, const char *assignment, const char *where,
                     struct errlist *errs);
/* Check every value against its type and bounds; problems go to errs with file:line. */
void config_validate(struct config *cfg, struct errlist *errs);

/* Expanded value; NULL only for a name not in the table and not set in main.cf.
 * The string lives as long as cfg. Calling with a name not in the table logs a panic. */
const char *config_str(struct config *cfg, const char *name);
long long config_int(struct config *cfg, const char *name); /* INT, TIME (s), SIZE (bytes) */
bool config_bool(struct config *cfg, const char *name);
/* Split a list value; returns a NULL-terminated array owned by cfg. */
char **config_list(struct config *cfg, const char *name, size_t *count);
/* Raw (unexpanded) value and whether it was set explicitly in main.cf or an override. */
const char *config_raw(struct config *cfg, const char *name, bool *explicit_set);
/* Where a parameter was set, "main.cf:12", or NULL when it has its default. */
const char *config_origin(struct config *cfg, const char *name);

/* Parse helpers, shared with validation: return false on a malformed value. */
bool config_parse_time(const char *s, long long *out);
bool config_parse_size(const char *s, long long *out);
bool config_parse_bool(const char *s, bool *out);

/* `posthorn conf set`: replace or append "name = value" in FILE, keeping comments and the
 * order of other lines; written atomically (temp, fsync, rename). Returns NULL or an error. */
char *config_edit_file(const char *file, const char *name, const char *value);

#endif
