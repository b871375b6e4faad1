/* util.c - helpers shared by the command groups: loading main.cf once, messages, JSON
 * strings, durable renames and removals in the spool, and waking qmgr (lib/global/trigger.h). */
#include "cli.h"
#include "log_config.h"
#include "buf.h"
#include "fileio.h"
#include "log.h"
#include "mem.h"
#include "trigger.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *cli_progname = "posthorn";

struct config *cli_config(struct cli *c)
{
    if (c->cfg)
        return c->cfg;
    struct errlist errs = {0};
    c->cfg = config_load(c->confdir, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s: %s\n", c->progname, errs.msgs[i]);
    errlist_free(&errs);
    if (c->cfg == NULL) {
        cli_err("no usable configuration in %s (use %s or POSTHORN_CONFIG)", c->confdir,
                strcmp(c->progname, "posthorn") == 0 ? "-c CONFDIR" : "-C CONFDIR");
        exit(c->config_exit);
    }
    return c->cfg;
}

void cli_verr(const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", cli_progname);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_verr(fmt, ap);
    va_end(ap);
}

void cli_say(const char *prog, const char *level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: %s%s", prog, level ? level : "", level ? ": " : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_log_open(struct cli *c, const char *name)
{
    const char *file = config_str(cli_config(c), PARAM(maillog_file));
    /* Only append to a log file we may write; otherwise syslog. */
    if (file && *file && access(file, W_OK) != 0)
        file = NULL;
    log_config_init(cli_config(c), name, file ? file : "");
}

char *cli_param_where(struct cli *c, const char *name)
{
    const char *origin = config_origin(cli_config(c), name);
    if (origin)
        return xstrdup(origin);
    return xasprintf("%s/main.cf: %s (default)", c->confdir, name);
}

void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

const char *cli_spool(struct cli *c)
{
    return config_str(cli_config(c), PARAM(queue_directory));
}

int cli_wake_qmgr(struct cli *c) { return trigger_qmgr(cli_spool(c)); }

static int fsync_dir_of(const char *path)
{
    return fsync_parent(path);
}

int cli_move(const char *from, const char *to)
{
    /* Never replace a file: a clash of queue IDs must not lose a message. */
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) < 0)
        return -1;
    if (fsync_dir_of(to) < 0 || fsync_dir_of(from) < 0)
        return -1;
    return 0;
}

int cli_remove(const char *path)
{
    if (unlink(path) < 0)
        return errno == ENOENT ? 0 : -1;
    return fsync_dir_of(path);
}

void cli_option_confdir(struct cli *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return;
        if (strncmp(argv[i], "-C", 2) != 0)
            continue;
        const char *v = argv[i][2] ? argv[i] + 2 : i + 1 < argc ? argv[i + 1] : NULL;
        struct stat st;
        if (v && stat(v, &st) == 0 && S_ISREG(st.st_mode)) {
            char *copy = xstrdup(v);
            c->confdir = xstrdup(dirname(copy));
            free(copy);
        } else if (v) {
            c->confdir = v;
        }
    }
}
