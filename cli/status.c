/* status.c - `posthorn status [--json]`: whether master runs, its services with their
 * processes (SPOOL/pid/master.status, which master rewrites whenever a process starts or
 * ends: one line "SERVICE TYPE PID PID ..." per service), and with --json the number of
 * messages in each queue, for monitoring scripts (doc/operator.md, "Running"). Exit 0 when
 * running, 3 when not (also with --json, which then says "running": false). */
#include "cli.h"
#include "buf.h"
#include "fileio.h"
#include "mem.h"
#include "queue_ops.h"
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_FILE_MAX (1024 * 1024)

/* SPOOL/pid/master.status, or "" when master has not written it (yet). */
static bool read_status_file(struct cli *c, struct buf *b)
{
    char *path = xasprintf("%s/pid/master.status", cli_spool(c));
    bool ok = read_file(path, STATUS_FILE_MAX, b) == 0 || errno == ENOENT;
    if (!ok)
        cli_err("%s: %s", path, strerror(errno));
    free(path);
    return ok;
}

/* One status line as a JSON object: {"service":..,"type":..,"processes":N,"pids":[..]}. */
static void json_service(char *line)
{
    char *save = NULL;
    char *name = strtok_r(line, " ", &save), *type = strtok_r(NULL, " ", &save);
    if (!name || !type)
        return;
    struct buf pids = BUF_INIT;
    unsigned n = 0;
    for (char *p; (p = strtok_r(NULL, " ", &save)) != NULL; n++)
        buf_printf(&pids, "%s%ld", n ? ", " : "", strtol(p, NULL, 10));
    fputs("    {\"service\": ", stdout);
    json_string(stdout, name);
    fputs(", \"type\": ", stdout);
    json_string(stdout, type);
    printf(", \"processes\": %u, \"pids\": [%s]}", n, buf_cstr(&pids));
    buf_free(&pids);
}

static void json_services(struct buf *status)
{
    fputs("  \"services\": [", stdout);
    bool first = true;
    char empty[1] = "", *save = NULL;
    for (char *line = strtok_r(status->data ? status->data : empty, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        fputs(first ? "\n" : ",\n", stdout);
        first = false;
        json_service(line);
    }
    fputs(first ? "],\n" : "\n  ],\n", stdout);
}

/* {"incoming": N, ...}; a queue that cannot be read (not running as its owner) is null. */
static void json_queues(struct cli *c)
{
    fputs("  \"queues\": {", stdout);
    for (size_t i = 0; queue_message_queues[i]; i++) {
        const char *q = queue_message_queues[i];
        char **ids;
        size_t n;
        printf("%s\"%s\": ", i ? ", " : "", q);
        if (queue_list(cli_spool(c), q, &ids, &n) == 0) {
            printf("%zu", n);
            queue_list_free(ids, n);
        } else {
            if (errno != EACCES) /* not the owner: null says it, no noise for monitoring */
                cli_err("%s/%s: %s", cli_spool(c), q, strerror(errno));
            fputs("null", stdout);
        }
    }
    fputs("}\n", stdout);
}

static int status_json(struct cli *c, pid_t pid)
{
    struct buf status = BUF_INIT;
    bool ok = pid <= 0 || read_status_file(c, &status);
    printf("{\n  \"running\": %s,\n  \"master_pid\": ", pid > 0 ? "true" : "false");
    if (pid > 0)
        printf("%ld,\n", (long)pid);
    else
        fputs("null,\n", stdout);
    json_services(&status);
    json_queues(c);
    fputs("}\n", stdout);
    buf_free(&status);
    return pid < 0 || !ok ? 1 : pid == 0 ? EXIT_NOT_RUNNING : 0;
}

static int status_text(struct cli *c, pid_t pid)
{
    if (pid <= 0) {
        printf("master is not running\n");
        return pid == 0 ? EXIT_NOT_RUNNING : 1;
    }
    printf("master is running (pid %ld)\n", (long)pid);
    struct buf status = BUF_INIT;
    bool ok = read_status_file(c, &status);
    fputs(buf_cstr(&status), stdout);
    buf_free(&status);
    return ok ? 0 : 1;
}

int cmd_status(struct cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'}, {0}};
    bool json = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == 'j')
            json = true;
        else
            cli_usage(NULL);
    }
    if (optind != argc)
        cli_usage("status takes no arguments but --json");
    pid_t pid = master_pid(c);
    return json ? status_json(c, pid) : status_text(c, pid);
}
