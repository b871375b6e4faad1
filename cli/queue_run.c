/* queue_run.c - applying a queue operation to messages by ID or to ALL (see queue_run.h), and
 * qmgr's flush request. */
#include "queue_run.h"
#include "trigger.h"
#include "fileio.h"
#include "ipc.h"
#include "log.h"
#include "mem.h"
#include "queue.h"
#include "queue_ops.h"
#include "queue_listing.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FLUSH_TIMEOUT_MS 30000

static const char *const from_delete[] = {QUEUE_INCOMING, QUEUE_DEFERRED, QUEUE_HOLD, QUEUE_CORRUPT, NULL};
static const char *const from_hold[] = {QUEUE_INCOMING, QUEUE_DEFERRED, NULL};
static const char *const from_release[] = {QUEUE_HOLD, NULL};
static const char *const from_requeue[] = {QUEUE_DEFERRED, QUEUE_HOLD, NULL};
static const char *const from_flush[] = {QUEUE_DEFERRED, NULL};

static const struct queue_op ops[] = {
    {"delete", from_delete, NULL, true, true, "removed"},
    {"hold", from_hold, QUEUE_HOLD, false, true, "placed on hold"},
    {"release", from_release, QUEUE_INCOMING, false, false, "released from hold"},
    {"requeue", from_requeue, QUEUE_INCOMING, true, true, "requeued"},
    /* deferred mail delivered now (mail already on its way needs no word); its defer log
     * stays, so the back-off goes on */
    {"flush", from_flush, QUEUE_INCOMING, false, false, "moved to incoming for delivery"},
};

const struct queue_op *queue_op_find(const char *name)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].name, name) == 0)
            return &ops[i];
    return NULL;
}

static int queue_index(const char *q)
{
    for (int i = 0; queue_message_queues[i]; i++)
        if (strcmp(queue_message_queues[i], q) == 0)
            return i;
    return -1;
}

bool queue_run_known(const char *name) { return queue_index(name) >= 0; }

static bool in_list(const char *const *list, const char *q)
{
    for (; *list; list++)
        if (strcmp(*list, q) == 0)
            return true;
    return false;
}

static bool allowed_from(const struct queue_run *r, const char *queue)
{
    if (r->only)
        return in_list(r->only, queue) && (!r->op->to || strcmp(r->op->to, queue) != 0);
    return in_list(r->op->from, queue);
}

/* Apply the operation to one message known to be in queue. */
static enum queue_one apply(struct queue_run *r, const char *id, const char *queue)
{
    const char *spool = cli_spool(r->c);
    int rc = r->op->to ? queue_move(spool, id, queue, r->op->to) : queue_remove(spool, queue, id);
    if (rc < 0) {
        if (errno == ENOENT)
            return QUEUE_ONE_NOT_FOUND; /* qmgr moved it meanwhile */
        cli_say(r->prog, NULL, "%s: %s %s: %s", id, r->op->name, queue, strerror(errno));
        r->failed = true;
        return QUEUE_ONE_ERROR;
    }
    if (r->op->to && r->op->reset_backoff && defer_log_remove(spool, id) < 0)
        cli_say(r->prog, NULL, "%s: cannot remove its defer log: %s", id, strerror(errno));
    r->touched[queue_index(queue)] = true;
    if (r->op->to)
        r->touched[queue_index(r->op->to)] = true;
    log_info("%s: %s", id, r->op->logged);
    r->done++;
    return QUEUE_ONE_DONE;
}

enum queue_one queue_run_one(struct queue_run *r, const char *id, const char **queue)
{
    *queue = NULL;
    if (!queue_id_valid(id))
        return QUEUE_ONE_BAD_ID;
    enum queue_one res = QUEUE_ONE_NOT_FOUND;
    /* A second look when qmgr moved the message between finding and moving it. */
    for (int tries = 0; tries < 2 && res == QUEUE_ONE_NOT_FOUND; tries++) {
        if (queue_find(cli_spool(r->c), id, queue) < 0) {
            if (errno == ENOENT)
                return QUEUE_ONE_NOT_FOUND;
            cli_say(r->prog, NULL, "%s: %s", id, strerror(errno));
            r->failed = true;
            return QUEUE_ONE_ERROR;
        }
        if (!allowed_from(r, *queue))
            return strcmp(*queue, QUEUE_ACTIVE) == 0 && !r->only ? QUEUE_ONE_ACTIVE
                                                                  : QUEUE_ONE_ELSEWHERE;
        res = apply(r, id, *queue);
    }
    return res;
}

void queue_run_all(struct queue_run *r)
{
    for (const char *const *q = queue_message_queues; *q; q++) {
        /* active/ is qmgr's: its messages are named in a warning, not touched */
        bool busy = !r->only && r->op->names_active && strcmp(*q, QUEUE_ACTIVE) == 0;
        if (!allowed_from(r, *q) && !busy)
            continue;
        char **ids;
        size_t n;
        if (queue_list(cli_spool(r->c), *q, &ids, &n) < 0) {
            cli_say(r->prog, NULL, "%s/%s: %s", cli_spool(r->c), *q, strerror(errno));
            r->failed = true;
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            if (busy)
                cli_say(r->prog, "warning", "%s: in the active queue, being delivered: left alone "
                        "(name the active queue with the mail system stopped)", ids[i]);
            else
                apply(r, ids[i], *q);
        }
        queue_list_free(ids, n);
    }
}

void queue_run_finish(struct queue_run *r)
{
    for (int i = 0; queue_message_queues[i]; i++) {
        if (!r->touched[i])
            continue;
        char *dir = xasprintf("%s/%s", cli_spool(r->c), queue_message_queues[i]);
        if (fsync_dir(dir) < 0) {
            cli_say(r->prog, NULL, "fsync %s: %s", dir, strerror(errno));
            r->failed = true;
        }
        free(dir);
    }
    if (r->done && r->op->to)
        cli_wake_qmgr(r->c); /* lossy by design: qmgr also rescans */
}

int queue_flush_request(struct cli *c, char **err)
{
    if (trigger_qmgr_flush(cli_spool(c), FLUSH_TIMEOUT_MS, err) == 0)
        return 0;
    return errno == ENOENT || errno == ECONNREFUSED ? 1 : -1;
}

/* Is one of m's pending recipients in the domain site? */
static bool for_site(const struct qlist_msg *m, const char *site)
{
    for (size_t i = 0; i < m->nrcpts; i++) {
        const char *at = strrchr(m->rcpts[i].address, '@');
        if (at && strcasecmp(at + 1, site) == 0)
            return true;
    }
    return false;
}

void queue_run_site(struct queue_run *r, const char *site)
{
    static const char *const deferred[] = {QUEUE_DEFERRED, NULL};
    struct qlist *q = qlist_open(cli_spool(r->c), deferred);
    const struct qlist_msg *m;
    const char *queue;
    char *err = NULL;
    enum qlist_result res;
    while ((res = qlist_next(q, &m, &err)) != QLIST_END && res != QLIST_FAILED) {
        if (res == QLIST_MSG && for_site(m, site))
            queue_run_one(r, m->id, &queue);
        free(err);
        err = NULL;
    }
    if (res == QLIST_FAILED) {
        cli_say(r->prog, "warning", "%s", err);
        r->failed = true;
    }
    free(err);
    qlist_close(q);
}
