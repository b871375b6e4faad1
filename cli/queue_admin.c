/* queue_admin.c - `posthorn queue ...`: dispatch, and the commands that change the queue.
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
#include "fileio.h"
#include "ipc.h"
#include "log.h"
#include "mem.h"
#include "queue.h"
#include "queue_ops.h"
#include "trigger.h"
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define FLUSH_TIMEOUT_MS 30000

struct op {
    const char *name;        /* command word */
    const char *const *from; /* queues it takes messages from (NULL-terminated) */
    const char *to;          /* destination queue, NULL to delete */
    bool reset_backoff;      /* drop the defer log */
    const char *logged;      /* "removed", ... for the log and the summary */
};

static const char *const from_delete[] = {QUEUE_INCOMING, QUEUE_DEFERRED, QUEUE_HOLD, QUEUE_CORRUPT, NULL};
static const char *const from_hold[] = {QUEUE_INCOMING, QUEUE_DEFERRED, NULL};
static const char *const from_release[] = {QUEUE_HOLD, NULL};
static const char *const from_requeue[] = {QUEUE_DEFERRED, QUEUE_HOLD, NULL};

static const struct op ops[] = {
    {"delete", from_delete, NULL, true, "removed"},
    {"hold", from_hold, QUEUE_HOLD, false, "placed on hold"},
    {"release", from_release, QUEUE_INCOMING, false, "released from hold"},
    {"requeue", from_requeue, QUEUE_INCOMING, true, "requeued"},
};

struct run {
    struct cli *c;
    const struct op *op;
    const char *only; /* --queue NAME */
    size_t done;
    bool failed;
    bool touched[8]; /* per index in queue_message_queues: needs a directory fsync */
};

static int queue_index(const char *q)
{
    for (int i = 0; queue_message_queues[i]; i++)
        if (strcmp(queue_message_queues[i], q) == 0)
            return i;
    return -1;
}

static bool allowed_from(const struct run *r, const char *queue)
{
    if (r->only)
        return strcmp(r->only, queue) == 0 && (!r->op->to || strcmp(r->op->to, queue) != 0);
    for (const char *const *q = r->op->from; *q; q++)
        if (strcmp(*q, queue) == 0)
            return true;
    return false;
}

/* Apply the operation to one message known to be in queue. */
static void apply(struct run *r, const char *id, const char *queue)
{
    const char *spool = cli_spool(r->c);
    int rc = r->op->to ? queue_move(spool, id, queue, r->op->to) : queue_remove(spool, queue, id);
    if (rc < 0) {
        if (errno == ENOENT)
            return; /* qmgr moved it meanwhile */
        cli_err("%s: %s %s: %s", id, r->op->name, queue, strerror(errno));
        r->failed = true;
        return;
    }
    if (r->op->to && r->op->reset_backoff && defer_log_remove(spool, id) < 0)
        cli_err("%s: cannot remove its defer log: %s", id, strerror(errno));
    r->touched[queue_index(queue)] = true;
    if (r->op->to)
        r->touched[queue_index(r->op->to)] = true;
    log_info("%s: %s", id, r->op->logged);
    r->done++;
}

static void apply_one(struct run *r, const char *id)
{
    const char *queue;
    if (!queue_id_valid(id)) {
        cli_err("\"%s\" is not a queue ID", id);
        r->failed = true;
    } else if (queue_find(cli_spool(r->c), id, &queue) < 0) {
        cli_err("%s: %s", id, errno == ENOENT ? "not in the queue" : strerror(errno));
        r->failed = true;
    } else if (!allowed_from(r, queue)) {
        if (strcmp(queue, QUEUE_ACTIVE) == 0 && !r->only)
            cli_err("%s: being delivered (active queue); try again, or stop the mail system and "
                    "use --queue active", id);
        else
            cli_err("%s: is in the %s queue: nothing to %s", id, queue, r->op->name);
        r->failed = true;
    } else {
        apply(r, id, queue);
    }
}

static void apply_all(struct run *r)
{
    for (const char *const *q = queue_message_queues; *q; q++) {
        if (!allowed_from(r, *q))
            continue;
        char **ids;
        size_t n;
        if (queue_list(cli_spool(r->c), *q, &ids, &n) < 0) {
            cli_err("%s/%s: %s", cli_spool(r->c), *q, strerror(errno));
            r->failed = true;
            continue;
        }
        for (size_t i = 0; i < n; i++)
            apply(r, ids[i], *q);
        queue_list_free(ids, n);
    }
}

static void sync_touched(struct run *r)
{
    for (int i = 0; queue_message_queues[i]; i++) {
        if (!r->touched[i])
            continue;
        char *dir = xasprintf("%s/%s", cli_spool(r->c), queue_message_queues[i]);
        if (fsync_dir(dir) < 0) {
            cli_err("fsync %s: %s", dir, strerror(errno));
            r->failed = true;
        }
        free(dir);
    }
}

static int run_op(struct cli *c, const struct op *op, int argc, char **argv)
{
    static const struct option longopts[] = {{"queue", required_argument, NULL, 'q'},
                                             {NULL, 0, NULL, 0}};
    struct run r = {.c = c, .op = op};
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt != 'q')
            cli_usage(NULL);
        r.only = optarg;
    }
    if (optind >= argc)
        cli_usage("queue %s ID...|ALL [--queue NAME]", op->name);
    if (r.only && queue_index(r.only) < 0)
        cli_usage("--queue %s: not a queue (incoming, active, deferred, hold, corrupt)", r.only);
    /* qmgr owns active/ while it runs: changing it behind qmgr's back is a lie (it would go
     * on delivering) or a race. */
    if (r.only && strcmp(r.only, "active") == 0 && master_pid(c) != 0) {
        cli_err("--queue active: the mail system is running; stop it first");
        return 1;
    }
    cli_log_open(c, "queue");
    for (int i = optind; i < argc; i++) {
        if (strcmp(argv[i], "ALL") == 0)
            apply_all(&r);
        else
            apply_one(&r, argv[i]);
    }
    sync_touched(&r);
    if (r.done && op->to)
        cli_wake_qmgr(c); /* lossy by design: qmgr also rescans */
    printf("posthorn: %s: %zu message%s\n", op->logged, r.done, r.done == 1 ? "" : "s");
    return r.failed ? 1 : 0;
}

/* qmgr is not running: do its part of a flush (deferred -> incoming) ourselves. */
static int flush_offline(struct cli *c)
{
    static const char *const from[] = {QUEUE_DEFERRED, NULL};
    static const struct op move = {"flush", from, QUEUE_INCOMING, false, "moved to incoming for delivery"};
    struct run r = {.c = c, .op = &move};
    cli_log_open(c, "queue");
    apply_all(&r);
    sync_touched(&r);
    printf("posthorn: qmgr is not running; moved %zu deferred message%s to incoming "
           "(delivered when the mail system starts)\n", r.done, r.done == 1 ? "" : "s");
    return r.failed ? 1 : 0;
}

int cli_flush(struct cli *c, bool quiet)
{
    char *err = NULL;
    if (trigger_qmgr_flush(cli_spool(c), FLUSH_TIMEOUT_MS, &err) < 0) {
        if (errno == ENOENT || errno == ECONNREFUSED) {
            free(err);
            return flush_offline(c);
        }
        cli_err("flush: %s", err);
        free(err);
        return 1;
    }
    if (!quiet)
        printf("posthorn: flush requested: deferred mail is being delivered\n");
    return 0;
}

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
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].name, sub) == 0)
            return run_op(c, &ops[i], argc - 1, argv + 1);
    cli_usage("unknown queue subcommand \"%s\"", sub);
}
