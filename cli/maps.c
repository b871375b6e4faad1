/* maps.c - `posthorn map build FILE...`, `posthorn map query TYPE:NAME KEY` and
 * `newaliases` (builds every lmdb: table in alias_maps). Building compiles the text source
 * into FILE.lmdb atomically (lib/global/map.h); problems are printed as "file:line: reason" and
 * make the exit status 1. A table of alias_maps (whether built by newaliases or by map
 * build) is checked as aliases(5), with the commands and files allow_mail_to_commands and
 * allow_mail_to_files allow. A query prints the value, or exits 1 when the key is absent. */
#include "cli.h"
#include "map.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Is source the text of one of the lmdb: tables in alias_maps? */
static bool is_alias_table(struct cli *c, const char *source)
{
    for (char **m = config_list(cli_config(c), PARAM(alias_maps), NULL); *m; m++)
        if (strncmp(*m, "lmdb:", 5) == 0 && strcmp(*m + 5, source) == 0)
            return true;
    return false;
}

int cli_map_build(struct cli *c, const char *source, bool aliases)
{
    struct errlist errs = {0};
    long n;
    if (aliases) {
        struct config *cfg = cli_config(c);
        struct alias_rules rules = {
            .commands = config_list_has(cfg, PARAM(allow_mail_to_commands), "alias"),
            .files = config_list_has(cfg, PARAM(allow_mail_to_files), "alias"),
        };
        n = map_build_aliases(source, &rules, &errs);
    } else {
        n = map_build(source, &errs);
    }
    for (size_t i = 0; i < errs.n; i++) /* prefixed with the program's name, as newaliases' */
        fprintf(stderr, "%s: %s\n", c->progname ? c->progname : "posthorn", errs.msgs[i]);
    int rc = (n < 0 || errlist_errors(&errs) > 0) ? 1 : 0;
    if (rc == 0 && c->verbose)
        printf("posthorn: %s.lmdb: %ld entr%s\n", source, n, n == 1 ? "y" : "ies");
    errlist_free(&errs);
    return rc;
}

static int query(const char *spec, const char *key)
{
    char *err = NULL;
    if (!strchr(spec, ':')) {
        cli_err("\"%s\" is not TYPE:NAME (e.g. lmdb:/etc/posthorn/aliases)", spec);
        return EXIT_USAGE;
    }
    struct map *m = map_open(spec, &err);
    if (!m) {
        cli_err("%s: %s", spec, err ? err : "cannot open");
        free(err);
        return 2;
    }
    char *value = NULL;
    int r = map_lookup(m, key, &value, &err);
    if (r < 0) {
        cli_err("%s: %s", spec, err ? err : "lookup failed");
        free(err);
    } else if (r == 1) {
        printf("%s\n", value);
    }
    free(value);
    map_close(m);
    return r == 1 ? 0 : r == 0 ? 1 : 2;
}

int cmd_map(struct cli *c, int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "build") == 0) {
        int rc = 0;
        for (int i = 2; i < argc; i++)
            rc |= cli_map_build(c, argv[i], is_alias_table(c, argv[i]));
        return rc;
    }
    if (argc == 4 && strcmp(argv[1], "query") == 0)
        return query(argv[2], argv[3]);
    cli_usage("map build FILE... | map query TYPE:NAME KEY");
}

int cmd_newaliases(struct cli *c, int argc, char **argv)
{
    /* The classic front end takes sendmail-style options; none of them change anything. */
    size_t n;
    char **maps = config_list(cli_config(c), PARAM(alias_maps), &n);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(maps[i], "lmdb:", 5) == 0)
            rc |= cli_map_build(c, maps[i] + 5, true);
        else
            cli_err("alias_maps: %s: not an lmdb: table, skipped", maps[i]);
    }
    return rc;
}
