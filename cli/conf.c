/* conf.c - `posthorn conf`: show and change main.cf parameters, with postconf(1)'s flags so
 * a Postfix admin's habits and scripts carry over (doc/operator.md):
 *   conf [NAME...]       every (or the named) parameter, "name = value" as written or
 *                        defaulted ($names not expanded); -x expands them, -h prints the
 *                        values only; an unknown NAME gets a warning (exit 0, as postconf)
 *   conf -n              only parameters set in main.cf, sorted by name
 *   conf -d [NAME...]    the compiled-in defaults: the parameter tables of lib/global/params.c,
 *                        grouped by table, each ENUM with its allowed values
 *   conf -e NAME=VALUE... / conf set NAME=VALUE...  edit main.cf in place, keeping comments;
 *                        the name must be known and the value valid before anything is written
 *   conf -# NAME...      comment the parameters out in main.cf
 *   conf -M [SERVICE[/TYPE]...]  master.cf entries, in postconf -M's columns
 *   conf -m              the lookup table types this build supports
 * An old (renamed) NAME is accepted everywhere with a warning naming the new one. */
#include "cli.h"
#include "mastercf.h"
#include "mem.h"
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void show(const char *name, const char *value, bool value_only)
{
    if (value_only)
        printf("%s\n", value ? value : "");
    else
        printf("%s = %s\n", name, value ? value : "");
}

/* `conf -d -v`: the table with each parameter's type, bounds and one-line description. */
static void show_documented(const struct param_def *p)
{
    printf("# %s\n# (%s", p->doc, param_type_name(p->type));
    if (p->type == PT_ENUM)
        printf(" %s", p->choices);
    else if (p->type == PT_INT || p->type == PT_TIME || p->type == PT_SIZE)
        printf(", %lld..%lld%s", p->min, p->max,
               p->type == PT_TIME ? " seconds" : p->type == PT_SIZE ? " bytes" : "");
    printf(")\n%s = %s\n\n", p->name, p->def);
}

/* `conf -d`: "name = default", after a comment with the allowed values of an ENUM. */
static void show_default(const struct param_def *p, bool value_only, bool documented)
{
    if (documented) {
        show_documented(p);
        return;
    }
    if (p->type == PT_ENUM && !value_only)
        printf("# %s: one of %s\n", p->name, p->choices);
    show(p->name, p->def, value_only);
}

static void show_table_heading(const struct param_table *t)
{
    printf("# --- %s: %s ---\n", t->name, t->title);
}

/* The name a command line argument means: the new name of an old one, with a warning. */
static const char *current_name(const char *arg)
{
    const char *renamed = param_renamed(arg);
    if (!renamed)
        return arg;
    cli_err("warning: \"%s\" is an old name: use %s (the old name still works)", arg, renamed);
    return renamed;
}

static int show_defaults(int argc, char **argv, bool value_only, bool documented)
{
    if (argc == 0) {
        for (size_t t = 0; t < param_tables_len; t++) {
            if (!value_only)
                show_table_heading(&param_tables[t]);
            for (size_t i = 0; i < param_tables[t].len; i++)
                show_default(&param_tables[t].rows[i], value_only, documented);
        }
        return 0;
    }
    int rc = 0;
    for (int i = 0; i < argc; i++) {
        const struct param_def *p = param_find(current_name(argv[i]));
        if (!p) {
            cli_err("unknown parameter \"%s\"", argv[i]);
            rc = 1;
            continue;
        }
        show_default(p, value_only, documented);
    }
    return rc;
}

struct show_opts {
    bool explicit_only; /* -n */
    bool value_only;    /* -h */
    bool expand;        /* -x */
};

/* One parameter as written in main.cf or defaulted, or expanded (-x); with -n only when
 * main.cf sets it. */
static void show_value(struct config *cfg, const char *name, const struct show_opts *o)
{
    bool set;
    const char *raw = config_raw(cfg, name, &set);
    if (o->explicit_only && !set)
        return;
    show(name, o->expand ? config_str(cfg, name) : raw, o->value_only);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every known parameter; sorted by name for -n, as postconf -n prints them. */
static void show_all(struct config *cfg, const struct show_opts *o)
{
    size_t n = 0;
    for (size_t t = 0; t < param_tables_len; t++)
        n += param_tables[t].len;
    const char **names = xcalloc(n ? n : 1, sizeof *names);
    n = 0;
    for (size_t t = 0; t < param_tables_len; t++)
        for (size_t i = 0; i < param_tables[t].len; i++)
            names[n++] = param_tables[t].rows[i].name;
    if (o->explicit_only)
        qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n; i++)
        show_value(cfg, names[i], o);
    free(names);
}

static int show_values(struct cli *c, int argc, char **argv, const struct show_opts *o)
{
    struct config *cfg = cli_config(c);
    if (argc == 0) {
        show_all(cfg, o);
        return 0;
    }
    for (int i = 0; i < argc; i++) {
        const char *name = current_name(argv[i]);
        bool set;
        config_raw(cfg, name, &set);
        if (!param_find(name) && !set)
            cli_err("warning: %s: unknown parameter", argv[i]); /* postconf: a warning, exit 0 */
        else
            show_value(cfg, name, o);
    }
    return 0;
}

/* -d -x: what each default comes to, in a configuration of nothing but defaults. */
static int show_expanded_defaults(struct cli *c, int argc, char **argv, const struct show_opts *o)
{
    struct config *cfg = config_defaults(c->confdir);
    int rc = 0;
    if (argc == 0)
        show_all(cfg, o);
    for (int i = 0; i < argc; i++) {
        const char *name = current_name(argv[i]);
        if (!param_find(name)) {
            cli_err("unknown parameter \"%s\"", argv[i]);
            rc = 1;
        } else {
            show_value(cfg, name, o);
        }
    }
    config_free(cfg);
    return rc;
}

/* -#: comment parameters out of main.cf. */
static int comment_out(struct cli *c, int argc, char **argv)
{
    char *path = xasprintf("%s/main.cf", c->confdir);
    int rc = 0;
    for (int i = 0; i < argc; i++) {
        const char *name = current_name(argv[i]);
        if (!param_find(name))
            cli_err("warning: %s: unknown parameter", argv[i]);
        char *err = config_comment_out(path, name);
        if (err) {
            cli_err("%s", err);
            free(err);
            rc = 1;
        }
    }
    free(path);
    return rc;
}

/* Does "service" or "service/type" select entry e? */
static bool service_selected(const struct mastercf_entry *e, const char *sel)
{
    const char *slash = strchr(sel, '/');
    size_t n = slash ? (size_t)(slash - sel) : strlen(sel);
    return strlen(e->service) == n && strncmp(e->service, sel, n) == 0 &&
           (!slash || strcmp(slash + 1, e->type) == 0);
}

/* One master.cf entry's fields where postconf -M puts them: each field starts at its column
 * (0, 11, 17, 25, 33, 41, 49, 57), or one space after the previous field when that ran long. */
static void print_columns(const char *const *fields, size_t n)
{
    static const size_t start[] = {0, 11, 17, 25, 33, 41, 49, 57};
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        size_t want = i < sizeof start / sizeof start[0] ? start[i] : col + 1;
        if (i > 0 && want < col + 1)
            want = col + 1;
        printf("%*s%s", (int)(want - col), "", fields[i]);
        col = want + strlen(fields[i]);
    }
}

/* -M: master.cf entries in postconf -M's columns. */
static int show_master(struct cli *c, int argc, char **argv)
{
    char *path = xasprintf("%s/master.cf", c->confdir);
    struct mastercf m;
    struct errlist errs = {0};
    int rc = mastercf_load(path, &m, &errs) < 0 ? 1 : 0;
    errlist_print(&errs, stderr);
    for (size_t i = 0; i < m.n; i++) {
        const struct mastercf_entry *e = &m.v[i];
        bool shown = argc == 0;
        for (int k = 0; k < argc && !shown; k++)
            shown = service_selected(e, argv[k]);
        if (!shown)
            continue;
        const char *fields[] = {e->service, e->type, e->columns[0], e->columns[1],
                                e->columns[2], e->columns[3], e->columns[4], e->command};
        print_columns(fields, sizeof fields / sizeof fields[0]);
        for (size_t k = 0; k < e->nargs; k++)
            printf(" %s", e->args[k]);
        putchar('\n');
    }
    mastercf_free(&m);
    errlist_free(&errs);
    free(path);
    return rc;
}

static bool known_problem(const struct errlist *before, const char *msg)
{
    for (size_t i = 0; i < before->n; i++)
        if (strcmp(before->msgs[i], msg) == 0)
            return true;
    return false;
}

/* Apply one assignment to the loaded configuration and report what it breaks. */
static bool value_ok(struct cli *c, const char *name, const char *value)
{
    struct errlist before = {0}, after = {0};
    config_validate(cli_config(c), &before);
    char *assign = xasprintf("%s=%s", name, value);
    bool ok = config_override(cli_config(c), assign, "conf set", &after);
    if (ok) {
        config_validate(cli_config(c), &after);
        for (size_t i = 0; i < after.n; i++)
            if (!known_problem(&before, after.msgs[i]) && strncmp(after.msgs[i], "warning: ", 9)) {
                cli_err("%s", after.msgs[i]);
                ok = false;
            }
    } else {
        errlist_print(&after, stderr);
    }
    free(assign);
    errlist_free(&before);
    errlist_free(&after);
    return ok;
}

static int conf_set(struct cli *c, int argc, char **argv)
{
    if (argc < 2)
        cli_usage("conf set needs NAME=VALUE");
    char *path = xasprintf("%s/main.cf", c->confdir);
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq)
            cli_usage("\"%s\" is not NAME=VALUE", argv[i]);
        char *arg_name = xstrndup(argv[i], (size_t)(eq - argv[i]));
        arg_name[strcspn(arg_name, " \t")] = 0;
        const char *name = current_name(arg_name);
        const char *value = eq + 1;
        value += strspn(value, " \t");
        if (!param_find(name) && strncmp(name, "local_", 6) != 0) { /* local_*: the admin's own */
            cli_err("unknown parameter \"%s\" (see posthorn conf -d)", name);
            rc = 1;
        } else if (strchr(value, '\n') || !value_ok(c, name, value)) {
            cli_err("not changed: %s", name);
            rc = 1;
        } else {
            char *err = config_edit_file(path, name, value);
            if (err) {
                cli_err("%s", err);
                free(err);
                rc = 1;
            }
        }
        free(arg_name);
    }
    free(path);
    return rc;
}

int cmd_conf(struct cli *c, int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "set") == 0)
        return conf_set(c, argc - 1, argv + 1);
    bool defaults = false, edit = false, comment = false, master = false, maps = false;
    struct show_opts o = {0};
    int opt;
    while ((opt = getopt(argc, argv, "dnhxe#Mm")) != -1) {
        switch (opt) {
        case 'd': defaults = true; break;
        case 'n': o.explicit_only = true; break;
        case 'h': o.value_only = true; break;
        case 'x': o.expand = true; break;
        case 'e': edit = true; break;
        case '#': comment = true; break;
        case 'M': master = true; break;
        case 'm': maps = true; break;
        default: cli_usage(NULL);
        }
    }
    if (defaults + o.explicit_only + edit + comment + master + maps > 1)
        cli_usage("conf: -d, -n, -e, -#, -M and -m exclude each other");
    argc -= optind;
    argv += optind;
    if (edit) /* conf_set skips its argv[0], the word "set" */
        return conf_set(c, argc + 1, argv - 1);
    if (comment)
        return comment_out(c, argc, argv);
    if (master)
        return show_master(c, argc, argv);
    if (maps) {
        puts("lmdb"); /* lib/global/map.h */
        return 0;
    }
    if (defaults && o.expand) /* postconf -xd: the defaults with $name expanded */
        return show_expanded_defaults(c, argc, argv, &o);
    if (defaults)
        return show_defaults(argc, argv, o.value_only, c->verbose);
    return show_values(c, argc, argv, &o);
}
