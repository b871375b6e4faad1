/* config.h - main.cf: the typed parameter tables and the parsed, expanded configuration.
 *
 * Syntax (Postfix's): "name = value", a line starting with white space continues the
 * previous one, '#' starts a comment line, $name and ${name} expand (recursively, bounded),
 * $$ is a literal '$'. Every parameter has one row in a compiled-in table (the core table and
 * one per daemon, params_TABLE.def, listed in params.c) with its type, default, bounds and a
 * one-line doc; `posthorn conf -d` prints the tables. Code names a parameter with
 * PARAM(name), which does not compile for a name that has no row. Unknown names are warned
 * with file:line; an old (renamed) name is accepted with a warning naming the new one; bad
 * values are errors with file:line. Values from master.cf "-o name=value" override main.cf
 * for one service. A struct config belongs to one thread; the tables are read-only. */
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
    PT_ENUM, /* one of the '|'-separated words in `choices` */
    PT_NETS  /* a list of IP networks (lib/util/netlist.h), read with config_list() */
};

struct param_def {
    const char *name;
    enum param_type type;
    const char *def;     /* default, before $expansion */
    long long min, max;  /* for INT, TIME, SIZE */
    const char *choices; /* for ENUM: "a|b|c" */
    const char *doc;
};

/* One table: the parameters of one daemon, or the core ones several programs share. */
struct param_table {
    const char *name;  /* "core", "smtpd", ... */
    const char *title; /* what it configures, for `conf -d` */
    const struct param_def *rows;
    size_t len;
};
extern const struct param_table param_tables[];
extern const size_t param_tables_len;

/* A renamed parameter: main.cf and master.cf -o may still use old_name (with a warning). */
struct param_alias {
    const char *old_name;
    const char *new_name;
};
extern const struct param_alias param_aliases[];
extern const size_t param_aliases_len;

/* How a type is named to people: "text", "integer", "yes/no", "time", "size", "list",
 * "one of" (followed by the choices), "networks". */
const char *param_type_name(enum param_type t);
/* The row of NAME (its current name, not an old one), or NULL. */
const struct param_def *param_find(const char *name);
/* The table a row belongs to. */
const struct param_table *param_table_of(const struct param_def *p);
/* The new name of an old (renamed) parameter name, or NULL when NAME is not an old name. */
const char *param_renamed(const char *name);

/* The compile-time names: one char array per row of params_all.def, spelled as the name.
 * PARAM(smtpd_banner) is the string "smtpd_banner" (an address constant, fine in static
 * initializers); PARAM(smtpd_baner) is a compile error. */
#define PARAM_NAME_MEMBER(n, ...) char n[sizeof #n];
#define PARAM_STR PARAM_NAME_MEMBER
#define PARAM_LIST PARAM_NAME_MEMBER
#define PARAM_BOOL PARAM_NAME_MEMBER
#define PARAM_INT PARAM_NAME_MEMBER
#define PARAM_TIME PARAM_NAME_MEMBER
#define PARAM_SIZE PARAM_NAME_MEMBER
#define PARAM_ENUM PARAM_NAME_MEMBER
#define PARAM_NETS PARAM_NAME_MEMBER
struct param_names {
#include "params_all.def"
};
#undef PARAM_STR
#undef PARAM_LIST
#undef PARAM_BOOL
#undef PARAM_INT
#undef PARAM_TIME
#undef PARAM_SIZE
#undef PARAM_ENUM
#undef PARAM_NETS
#undef PARAM_NAME_MEMBER
extern const struct param_names param_names;
#define PARAM(name) ((const char *)param_names.name)

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
 * The string lives as long as cfg. Calling with a name not in the table logs a panic.
 * Every accessor also takes an old name and reads the renamed parameter. */
const char *config_str(struct config *cfg, const char *name);
long long config_int(struct config *cfg, const char *name); /* INT, TIME (s), SIZE (bytes) */
bool config_bool(struct config *cfg, const char *name);
/* ENUM: the index of the value among the row's choices, in the order the table lists them
 * ("none|may|encrypt": "may" is 1), matched without regard to case. A bad value (which
 * config_validate reports) is logged and gives the index of the default. Calling it for a
 * parameter that is not an ENUM logs a panic. */
int config_enum(struct config *cfg, const char *name);
/* Split a list value; returns a NULL-terminated array owned by cfg. */
char **config_list(struct config *cfg, const char *name, size_t *count);
/* Whether the list value has word (compared without regard to case). */
bool config_list_has(struct config *cfg, const char *name, const char *word);
/* Raw (unexpanded) value and whether it was set explicitly in main.cf or an override. */
const char *config_raw(struct config *cfg, const char *name, bool *explicit_set);
/* Where a parameter was set, "main.cf:12", or NULL when it has its default. */
const char *config_origin(struct config *cfg, const char *name);

/* Parse helpers, shared with validation: return false on a malformed value. */
bool config_parse_time(const char *s, long long *out);
bool config_parse_size(const char *s, long long *out);
bool config_parse_bool(const char *s, bool *out);

/* `posthorn conf set`: replace or append "name = value" in FILE, keeping comments and the
 * order of other lines; lines setting an old name of NAME are replaced too. Written
 * atomically (temp, fsync, rename). Returns NULL or an error. */
char *config_edit_file(const char *file, const char *name, const char *value);
/* postconf -#: turn the definition of name in file (and its continuation lines) into
 * comments. NULL on success (also when name is not set), else a malloc'ed message. */
char *config_comment_out(const char *file, const char *name);

#endif
