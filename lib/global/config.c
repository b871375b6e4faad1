/* config.c - main.cf parsing, $expansion and typed access (see config.h). The tables and
 * name lookups are in params.c. */
#include "config.h"
#include "buf.h"
#include "log.h"
#include "mem.h"
#include "netlist.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define EXPAND_DEPTH_MAX 20

struct setting {
    char *name;
    char *raw;
    char *where; /* "path:line" */
};

struct cached {
    char *name;
    char *value;
    char **list;
    size_t list_len;
};

struct config {
    char *confdir;
    struct setting *set;
    size_t nset;
    struct cached *cache;
    size_t ncache;
};

/* The name a parameter is stored under: the new one for an old name. */
static const char *current_name(const char *name)
{
    const char *renamed = param_renamed(name);
    return renamed ? renamed : name;
}

static void cache_clear(struct config *cfg)
{
    for (size_t i = 0; i < cfg->ncache; i++) {
        free(cfg->cache[i].name);
        free(cfg->cache[i].value);
        if (cfg->cache[i].list) {
            for (size_t j = 0; j < cfg->cache[i].list_len; j++)
                free(cfg->cache[i].list[j]);
            free(cfg->cache[i].list);
        }
    }
    free(cfg->cache);
    cfg->cache = NULL;
    cfg->ncache = 0;
}

static void setting_put(struct config *cfg, const char *name, const char *raw, const char *where)
{
    cache_clear(cfg);
    for (size_t i = 0; i < cfg->nset; i++) {
        if (strcmp(cfg->set[i].name, name) == 0) {
            free(cfg->set[i].raw);
            free(cfg->set[i].where);
            cfg->set[i].raw = xstrdup(raw);
            cfg->set[i].where = xstrdup(where);
            return;
        }
    }
    cfg->set = xreallocarray(cfg->set, cfg->nset + 1, sizeof *cfg->set);
    cfg->set[cfg->nset++] = (struct setting){xstrdup(name), xstrdup(raw), xstrdup(where)};
}

static const struct setting *setting_get(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nset; i++)
        if (strcmp(cfg->set[i].name, name) == 0)
            return &cfg->set[i];
    return NULL;
}

struct config *config_defaults(const char *confdir)
{
    struct config *cfg = xcalloc(1, sizeof *cfg);
    cfg->confdir = xstrdup(confdir);
    return cfg;
}

const char *config_dir(const struct config *cfg) { return cfg->confdir; }

static bool valid_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

static void warn_renamed(struct errlist *errs, const char *where, const char *old_name,
                         const char *new_name)
{
    errlist_warn(errs, "%s: \"%s\" is an old name: use %s (the old name still works)", where,
                 old_name, new_name);
}

/* Handle one logical line (continuations already joined). */
static void parse_logical(struct config *cfg, char *line, const char *path, int lineno,
                          struct errlist *errs)
{
    char *eq = strchr(line, '=');
    if (eq == NULL) {
        errlist_add(errs, "%s:%d: missing '=' after parameter name", path, lineno);
        return;
    }
    *eq = 0;
    char *name = trim(line);
    char *value = trim(eq + 1);
    if (!valid_name(name)) {
        errlist_add(errs, "%s:%d: bad parameter name \"%s\"", path, lineno, name);
        return;
    }
    char where[512];
    snprintf(where, sizeof where, "%s:%d", path, lineno);
    const char *renamed = param_renamed(name);
    if (renamed)
        warn_renamed(errs, where, name, renamed);
    else if (param_find(name) == NULL && strncmp(name, "local_", 6) != 0)
        errlist_warn(errs, "%s:%d: unknown parameter \"%s\" (ignored unless referenced as $%s)",
                     path, lineno, name, name);
    setting_put(cfg, renamed ? renamed : name, value, where);
}

struct config *config_load(const char *confdir, struct errlist *errs)
{
    char *path = xasprintf("%s/main.cf", confdir);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        errlist_add(errs, "%s: cannot open: %s", path, strerror(errno));
        free(path);
        return NULL;
    }
    struct config *cfg = config_defaults(confdir);
    struct buf logical = BUF_INIT;
    int logical_line = 0, lineno = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (memchr(line, 0, (size_t)n)) {
            errlist_add(errs, "%s:%d: NUL byte in line", path, lineno);
            continue;
        }
        char *t = line;
        while (isspace((unsigned char)*t))
            t++;
        if (*t == '#' || *t == 0)
            continue; /* comments and blank lines never continue a value */
        if (t != line) {
            if (logical_line == 0) {
                errlist_add(errs, "%s:%d: continuation line without a parameter before it",
                            path, lineno);
                continue;
            }
            buf_putc(&logical, ' ');
            buf_puts(&logical, t);
            continue;
        }
        if (logical_line)
            parse_logical(cfg, logical.data, path, logical_line, errs);
        buf_reset(&logical);
        buf_puts(&logical, line);
        logical_line = lineno;
    }
    if (logical_line)
        parse_logical(cfg, logical.data, path, logical_line, errs);
    free(line);
    buf_free(&logical);
    fclose(f);
    free(path);
    return cfg;
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    cache_clear(cfg);
    for (size_t i = 0; i < cfg->nset; i++) {
        free(cfg->set[i].name);
        free(cfg->set[i].raw);
        free(cfg->set[i].where);
    }
    free(cfg->set);
    free(cfg->confdir);
    free(cfg);
}

bool config_override(struct config *cfg, const char *assignment, const char *where,
                     struct errlist *errs)
{
    const char *eq = strchr(assignment, '=');
    if (eq == NULL) {
        errlist_add(errs, "%s: override \"%s\" is not name=value", where, assignment);
        return false;
    }
    char *name = xstrndup(assignment, (size_t)(eq - assignment));
    const char *tn = trim(name);
    const char *renamed = param_renamed(tn);
    if (renamed) {
        warn_renamed(errs, where, tn, renamed);
        tn = renamed;
    }
    if (param_find(tn) == NULL && !(strncmp(tn, "local_", 6) == 0 && valid_name(tn))) {
        errlist_add(errs, "%s: unknown parameter \"%s\"", where, tn); /* local_*: the admin's */
        free(name);
        return false;
    }
    char *val = xstrdup(eq + 1);
    setting_put(cfg, tn, trim(val), where);
    free(name);
    free(val);
    return true;
}

const char *config_raw(struct config *cfg, const char *name, bool *explicit_set)
{
    name = current_name(name);
    const struct setting *s = setting_get(cfg, name);
    if (explicit_set)
        *explicit_set = s != NULL;
    if (s)
        return s->raw;
    if (strcmp(name, PARAM(config_directory)) == 0)
        return cfg->confdir;
    const struct param_def *p = param_find(name);
    return p ? p->def : NULL;
}

const char *config_origin(struct config *cfg, const char *name)
{
    name = current_name(name);
    const struct setting *s = setting_get(cfg, name);
    return s ? s->where : NULL;
}

static const char *builtin_default(const char *name, char *tmp, size_t tmplen)
{
    /* Parameters whose default is computed from the machine. */
    if (strcmp(name, PARAM(myhostname)) == 0) {
        if (gethostname(tmp, tmplen) != 0)
            snprintf(tmp, tmplen, "localhost");
        tmp[tmplen - 1] = 0;
        return tmp;
    }
    return NULL;
}

/* Bounds on one top-level expansion: recursion depth, number of $name references and
 * output size, so cycles and exponential definitions (a = $b$b, b = $c$c, ...) stay cheap. */
#define EXPAND_REFS_MAX 1000
#define EXPAND_OUTPUT_MAX (64 * 1024)

struct expansion {
    struct buf *out;
    int refs;
    bool overflow;
};

static void expand_into(struct config *cfg, const char *raw, struct expansion *x, int depth);

static void expand_name(struct config *cfg, const char *name, struct expansion *x, int depth)
{
    if (++x->refs > EXPAND_REFS_MAX || depth > EXPAND_DEPTH_MAX) {
        x->overflow = true;
        return;
    }
    bool explicit_set;
    const char *raw = config_raw(cfg, name, &explicit_set);
    char tmp[256];
    if (!explicit_set && raw && raw[0] == 0) {
        const char *d = builtin_default(name, tmp, sizeof tmp);
        if (d)
            raw = d;
    }
    if (raw == NULL)
        return; /* an undefined $name expands to nothing, like Postfix */
    expand_into(cfg, raw, x, depth + 1);
}

static void expand_into(struct config *cfg, const char *raw, struct expansion *x, int depth)
{
    for (const char *p = raw; *p && !x->overflow;) {
        if (x->out->len > EXPAND_OUTPUT_MAX) {
            x->overflow = true;
            return;
        }
        if (*p != '$') {
            buf_putc(x->out, *p++);
            continue;
        }
        p++;
        if (*p == '$') {
            buf_putc(x->out, '$');
            p++;
        } else if (*p == '{' || *p == '(') {
            char close = *p == '{' ? '}' : ')';
            const char *end = strchr(p, close);
            if (!end) {
                buf_putc(x->out, '$');
                continue;
            }
            char *name = xstrndup(p + 1, (size_t)(end - p - 1));
            expand_name(cfg, name, x, depth);
            free(name);
            p = end + 1;
        } else if (isalnum((unsigned char)*p) || *p == '_') {
            const char *s = p;
            while (isalnum((unsigned char)*p) || *p == '_')
                p++;
            char *name = xstrndup(s, (size_t)(p - s));
            expand_name(cfg, name, x, depth);
            free(name);
        } else {
            buf_putc(x->out, '$');
        }
    }
}

static struct cached *cache_entry(struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->ncache; i++)
        if (strcmp(cfg->cache[i].name, name) == 0)
            return &cfg->cache[i];
    bool explicit_set;
    const char *raw = config_raw(cfg, name, &explicit_set);
    if (raw == NULL)
        return NULL;
    struct buf out = BUF_INIT;
    struct expansion x = {&out, 0, false};
    expand_name(cfg, name, &x, 0);
    if (x.overflow)
        log_warn("%s: $name expansion too deep, too long or recursive; value truncated", name);
    cfg->cache = xreallocarray(cfg->cache, cfg->ncache + 1, sizeof *cfg->cache);
    cfg->cache[cfg->ncache] = (struct cached){xstrdup(name), buf_steal(&out), NULL, 0};
    return &cfg->cache[cfg->ncache++];
}

const char *config_str(struct config *cfg, const char *name)
{
    name = current_name(name);
    if (param_find(name) == NULL && setting_get(cfg, name) == NULL &&
        strcmp(name, PARAM(config_directory)) != 0)
        log_panic("config_str: parameter \"%s\" is not in the parameter table", name);
    struct cached *c = cache_entry(cfg, name);
    return c ? c->value : NULL;
}

bool config_parse_time(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return false;
    long long mul = 1;
    switch (*end) {
    case 0: case 's': mul = 1; break;
    case 'm': mul = 60; break;
    case 'h': mul = 3600; break;
    case 'd': mul = 86400; break;
    case 'w': mul = 604800; break;
    default: return false;
    }
    if (*end && end[1])
        return false;
    if (v > (1LL << 40) / mul)
        return false;
    *out = v * mul;
    return true;
}

bool config_parse_size(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return false;
    long long mul = 1;
    switch (tolower((unsigned char)*end)) {
    case 0: mul = 1; break;
    case 'k': mul = 1024; break;
    case 'm': mul = 1024 * 1024; break;
    case 'g': mul = 1024LL * 1024 * 1024; break;
    default: return false;
    }
    if (*end && end[1] && !(tolower((unsigned char)end[1]) == 'b' && end[2] == 0))
        return false;
    if (v > (1LL << 50) / mul)
        return false;
    *out = v * mul;
    return true;
}

bool config_parse_bool(const char *s, bool *out)
{
    if (!strcasecmp(s, "yes") || !strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "on"))
        return *out = true, true;
    if (!strcasecmp(s, "no") || !strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "off"))
        return *out = false, true;
    return false;
}

/* The position of v among the '|'-separated choices (case-insensitive), or -1. */
static int choice_index(const char *choices, const char *v)
{
    size_t n = strlen(v);
    int index = 0;
    for (const char *p = choices; p && *p; index++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncasecmp(p, v, n) == 0)
            return index;
        p = bar ? bar + 1 : NULL;
    }
    return -1;
}

/* A list of networks (lib/util/netlist.h), split as config_list() splits it. */
static char *check_networks(const char *v)
{
    char *copy = xstrdup(v), *err = NULL, *save = NULL;
    for (char *tok = strtok_r(copy, ", \t", &save); tok && !err;
         tok = strtok_r(NULL, ", \t", &save)) {
        struct netlist *l = netlist_parse(&tok, 1, &err);
        netlist_free(l);
    }
    free(copy);
    return err;
}

/* Check one value; returns an error text or NULL. */
static char *check_value(const struct param_def *p, const char *v)
{
    long long n = 0;
    bool b;
    switch (p->type) {
    case PT_STR:
    case PT_LIST:
        return NULL;
    case PT_NETS:
        return check_networks(v);
    case PT_BOOL:
        return config_parse_bool(v, &b) ? NULL : xasprintf("\"%s\" is not yes or no", v);
    case PT_ENUM:
        return choice_index(p->choices, v) >= 0 ? NULL : xasprintf("\"%s\" is not one of %s", v, p->choices);
    case PT_INT: {
        char *end;
        errno = 0;
        n = strtoll(v, &end, 10);
        if (errno || end == v || *end)
            return xasprintf("\"%s\" is not a number", v);
        break;
    }
    case PT_TIME:
        if (!config_parse_time(v, &n))
            return xasprintf("\"%s\" is not a time (e.g. 300s, 5m, 1h, 5d)", v);
        break;
    case PT_SIZE:
        if (!config_parse_size(v, &n))
            return xasprintf("\"%s\" is not a size in bytes (e.g. 10240000, 10m)", v);
        break;
    }
    if (n < p->min || n > p->max)
        return xasprintf("%lld is out of range [%lld, %lld]", n, p->min, p->max);
    return NULL;
}

static void validate_one(struct config *cfg, const struct param_def *p, struct errlist *errs)
{
    const char *v = config_str(cfg, p->name);
    char *err = check_value(p, v ? v : "");
    if (err) {
        const char *where = config_origin(cfg, p->name);
        errlist_add(errs, "%s: %s: %s", where ? where : "default", p->name, err);
        free(err);
    }
}

void config_validate(struct config *cfg, struct errlist *errs)
{
    for (size_t t = 0; t < param_tables_len; t++)
        for (size_t i = 0; i < param_tables[t].len; i++)
            validate_one(cfg, &param_tables[t].rows[i], errs);
}

long long config_int(struct config *cfg, const char *name)
{
    name = current_name(name);
    const struct param_def *p = param_find(name);
    if (!p || (p->type != PT_INT && p->type != PT_TIME && p->type != PT_SIZE))
        log_panic("config_int: \"%s\" is not a numeric parameter", name);
    const char *v = config_str(cfg, name);
    long long n = 0;
    bool ok = p->type == PT_TIME ? config_parse_time(v, &n)
            : p->type == PT_SIZE ? config_parse_size(v, &n)
            : (n = strtoll(v, NULL, 10), true);
    if (!ok || n < p->min || n > p->max) {
        log_warn("%s: bad value \"%s\", using default \"%s\"", name, v, p->def);
        if (p->type == PT_TIME)
            config_parse_time(p->def, &n);
        else if (p->type == PT_SIZE)
            config_parse_size(p->def, &n);
        else
            n = strtoll(p->def, NULL, 10);
    }
    return n;
}

bool config_bool(struct config *cfg, const char *name)
{
    name = current_name(name);
    const char *v = config_str(cfg, name);
    bool b = false;
    if (!config_parse_bool(v, &b))
        log_warn("%s: bad boolean \"%s\", taking \"no\"", name, v);
    return b;
}

int config_enum(struct config *cfg, const char *name)
{
    name = current_name(name);
    const struct param_def *p = param_find(name);
    if (!p || p->type != PT_ENUM)
        log_panic("config_enum: \"%s\" is not an enum parameter", name);
    const char *v = config_str(cfg, name);
    int index = choice_index(p->choices, v);
    if (index < 0) {
        log_warn("%s: \"%s\" is not one of %s, using default \"%s\"", name, v, p->choices,
                 p->def);
        index = choice_index(p->choices, p->def);
    }
    return index < 0 ? 0 : index;
}

char **config_list(struct config *cfg, const char *name, size_t *count)
{
    name = current_name(name);
    config_str(cfg, name);
    struct cached *c = cache_entry(cfg, name);
    if (c == NULL) {
        if (count)
            *count = 0;
        static char *empty[1] = {NULL};
        return empty;
    }
    if (c->list == NULL) {
        char *copy = xstrdup(c->value);
        c->list = xcalloc(1, sizeof *c->list);
        for (char *tok = strtok(copy, ", \t"); tok; tok = strtok(NULL, ", \t")) {
            c->list = xreallocarray(c->list, c->list_len + 2, sizeof *c->list);
            c->list[c->list_len++] = xstrdup(tok);
            c->list[c->list_len] = NULL;
        }
        free(copy);
    }
    if (count)
        *count = c->list_len;
    return c->list;
}

bool config_list_has(struct config *cfg, const char *name, const char *word)
{
    for (char **w = config_list(cfg, name, NULL); *w; w++)
        if (strcasecmp(*w, word) == 0)
            return true;
    return false;
}
