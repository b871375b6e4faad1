/* queue_admin.c - `posthorn queue ...`: dispatch, and the commands that change the queue
 * (the work itself is cli/queue_run.c, shared with postsuper and postqueue).
 *   flush                 ask qmgr (request=flush) to retry deferred mail now; without a
 *                         running qmgr, move deferred mail to incoming ourselves
 *   delete ID|ALL         remove messages (and their defer logs)
 *   hold ID|ALL           incoming/deferred -> hold: qmgr leaves them alone
 *   release ID|ALL        hold -> incoming
 *   requeue ID|ALL        deferred/hold -> incoming with the back-off state reset
 * "--queue NAME" restricts any of them to one queue. Messages in active/ belong to qmgr
 * while it delivers them; they are only touched when named with --queue active (e.g. with
 * the mail system stopped). Every move is a rename that never replaces a file, followed by
 * an fsync of both directories; afterwards qmgr is woken (request=wakeup). */
#include "cli.h"
#include "queue.h"
#include "queue_run.h"
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

/* posthorn's words for what queue_run_one found. */
static void report_one(struct queue_run *r, const char *id, enum queue_one res, const char *queue)
{
    switch (res) {
    case QUEUE_ONE_DONE:
    case QUEUE_ONE_ERROR: /* already said */
        return;
    case QUEUE_ONE_BAD_ID:
        cli_err("\"%s\" is not a queue ID", id);
        break;
    case QUEUE_ONE_NOT_FOUND:
        cli_err("%s: not in the queue", id);
        break;
    case QUEUE_ONE_ACTIVE:
        cli_err("%s: being delivered (active queue); try again, or stop the mail system and "
                "use --queue active", id);
        break;
    case QUEUE_ONE_ELSEWHERE:
        cli_err("%s: is in the %s queue: nothing to %s", id, queue, r->op->name);
        break;
    }
    r->failed = true;
}

static int run_op(struct cli *c, const struct queue_op *op, int argc, char **argv)
{
    static const struct option longopts[] = {{"queue", required_argument, NULL, 'q'},
                                             {NULL, 0, NULL, 0}};
    struct queue_run r = {.c = c, .prog = "posthorn", .op = op};
    const char *only[2] = {NULL, NULL};
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt != 'q')
            cli_usage(NULL);
        only[0] = optarg;
        r.only = only;
    }
    if (optind >= argc)
        cli_usage("queue %s ID...|ALL [--queue NAME]", op->name);
    if (only[0] && !queue_run_known(only[0]))
        cli_usage("--queue %s: not a queue (incoming, active, deferred, hold, corrupt)", only[0]);
    /* qmgr owns active/ while it runs: changing it behind qmgr's back is a lie (it would go
     * on delivering) or a race. */
    if (only[0] && strcmp(only[0], QUEUE_ACTIVE) == 0 && master_pid(c) != 0) {
        cli_err("--queue active: the mail system is running; stop it first");
        return 1;
    }
    cli_log_open(c, "queue");
    for (int i = optind; i < argc; i++) {
        if (strcmp(argv[i], "ALL") == 0) {
            queue_run_all(&r);
        } else {
            const char *queue;
            report_one(&r, argv[i], queue_run_one(&r, argv[i], &queue), queue);
        }
    }
    queue_run_finish(&r);
    printf("posthorn: %s: %zu message%s\n", op->logged, r.done, r.done == 1 ? "" : "s");
    return r.failed ? 1 : 0;
}

/* qmgr is not running: do its part of a flush (deferred -> incoming) ourselves. */
static int flush_offline(struct cli *c)
{
    struct queue_run r = {.c = c, .prog = "posthorn", .op = queue_op_find("flush")};
    cli_log_open(c, "queue");
    queue_run_all(&r);
    queue_run_finish(&r);
    printf("posthorn: qmgr is not running; moved %zu deferred message%s to incoming "
           "(delivered when the mail system starts)\n", r.done, r.done == 1 ? "" : "s");
    return r.failed ? 1 : 0;
}

int cli_flush(struct cli *c, bool quiet)
{
    char *err = NULL;
    int r = queue_flush_request(c, &err);
    if (r == 1) {
        free(err);
        return flush_offline(c);
    }
    if (r < 0)
        cli_err("flush: %s", err);
    else if (!quiet)
        printf("posthorn: flush requested: deferred mail is being delivered\n");
    free(err);
    return r < 0 ? 1 : 0;
}

static const char *const op_words[] = {"delete", "hold", "release", "requeue", NULL};

int cmd_queue(struct cli *c, int argc, char **argv)
{
    if (argc < 2)
        cli_usage("queue needs a subcommand: list, show, flush, delete, hold, release, requeue");
    const char *sub = argv[1];
    if (strcmp(sub, "list") == 0 || strcmp(sub, "show") == 0)
        return queue_read_cmd(c, argc, argv);
    if (strcmp(sub, "flush") == 0) {
        if (argc != 2)
            cli_usage("queue flush takes no arguments");
        return cli_flush(c, false);
    }
    for (const char *const *w = op_words; *w; w++)
        if (strcmp(*w, sub) == 0)
            return run_op(c, queue_op_find(sub), argc - 1, argv + 1);
    cli_usage("unknown queue subcommand \"%s\"", sub);
}
