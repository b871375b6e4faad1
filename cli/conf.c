/* conf.c - `posthorn conf`: show and change main.cf parameters.
 *   conf                 every parameter, "name = value" with $names expanded
 *   conf NAME...         the named parameters, expanded ("-h": the values only)
 *   conf -n              only parameters set explicitly, as written in main.cf
 *   conf -d [NAME...]    the compiled-in defaults: the parameter tables of lib/global/params.c,
 *                        grouped by table, each ENUM with its allowed values
 *   conf set NAME=VALUE...  edit main.cf in place, keeping comments; the name must be known
 *                           and the value valid for its type before anything is written.
 * An old (renamed) NAME is accepted everywhere with a warning naming the new one. */
#include "cli.h"
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

static const char *type_name(const struct param_def *p)
{
    static const char *const names[] = {"text", "integer", "yes/no", "time", "size", "list", "one of"};
    return names[p->type];
}

/* `conf -d -v`: the table with each parameter's type, bounds and one-line description. */
static void show_documented(const struct param_def *p)
{
    printf("# %s\n# (%s", p->doc, type_name(p));
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

/* One parameter, expanded, or as written in main.cf (explicit_only: only when set there). */
static void show_value(struct config *cfg, const char *name, bool explicit_only, bool value_only)
{
    bool set;
    const char *raw = config_raw(cfg, name, &set);
    if (!explicit_only)
        show(name, config_str(cfg, name), value_only);
    else if (set)
        show(name, raw, value_only);
}

static int show_values(struct cli *c, int argc, char **argv, bool explicit_only, bool value_only)
{
    struct config *cfg = cli_config(c);
    if (argc == 0) {
        for (size_t t = 0; t < param_tables_len; t++)
            for (size_t i = 0; i < param_tables[t].len; i++)
                show_value(cfg, param_tables[t].rows[i].name, explicit_only, value_only);
        return 0;
    }
    int rc = 0;
    for (int i = 0; i < argc; i++) {
        const char *name = current_name(argv[i]);
        bool set;
        config_raw(cfg, name, &set);
        if (!param_find(name) && !set) {
            cli_err("unknown parameter \"%s\"", argv[i]);
            rc = 1;
        } else {
            show_value(cfg, name, explicit_only, value_only);
        }
    }
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
        if (!param_find(name)) {
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
    bool defaults = false, explicit_only = false, value_only = false;
    int opt;
    while ((opt = getopt(argc, argv, "dnh")) != -1) {
        switch (opt) {
        case 'd': defaults = true; break;
        case 'n': explicit_only = true; break;
        case 'h': value_only = true; break;
        default: cli_usage(NULL);
        }
    }
    if (defaults && explicit_only)
        cli_usage("conf: -d and -n exclude each other");
    if (defaults)
        return show_defaults(argc - optind, argv + optind, value_only, c->verbose);
    return show_values(c, argc - optind, argv + optind, explicit_only, value_only);
}
