/* commit.c - group commit of queue files off the event loop.
 *
 * The loop hands finished queue writers to one worker thread (lib/util/worker.h). The
 * worker takes every job waiting as one batch, commits each (write END, fsync, close,
 * rename into incoming/) without syncing the directory, then fsyncs incoming/ once for the
 * whole batch; the jobs then come back to the loop, and only then does the session answer
 * 250. When a commit fails (ENOSPC, EIO) the job carries the error and the session answers
 * 451 4.3.0; a file already renamed into incoming/ is removed again (a failed fsync of
 * incoming/), since the client sends it again. After a batch with new mail the worker wakes
 * qmgr (lib/global/trigger.h, a lossy hint: qmgr also rescans incoming/). A job marked hold
 * goes into hold/ instead (fsynced the same way; qmgr leaves it until an operator releases
 * it). The worker touches only the jobs' writers and results; sessions stay with the loop
 * thread. */
#include "fileio.h"
#include "log.h"
#include "mem.h"
#include "smtpd.h"
#include "trigger.h"
#include "worker.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct committer {
    struct worker *worker;
    char *spool;
    char *incoming, *hold;
    void (*cb)(struct commit_job *j, void *ctx);
    void *ctx;
};

static struct commit_job *job_of(struct worker_job *wj)
{
    return WORKER_JOB_OWNER(wj, struct commit_job, wj);
}

static const char *queue_of(const struct commit_job *j) { return j->hold ? QUEUE_HOLD : QUEUE_INCOMING; }

/* A file in incoming/ whose commit failed after the rename: the client gets a 451 and sends
 * again, so this copy must not be delivered as well (doc/queue-format.md, Writing, 5). */
static void unqueue(struct committer *c, const struct commit_job *j)
{
    char *path = queue_path(c->spool, queue_of(j), j->id);
    if (unlink(path) < 0 && errno != ENOENT)
        log_warn("%s: cannot remove after the failed commit: %m", path);
    free(path);
}

/* Make dir durable, or fail every job of the batch committed into it. */
static void sync_dir(struct committer *c, struct worker_job *first, bool hold)
{
    const char *dir = hold ? c->hold : c->incoming;
    if (fsync_dir(dir) == 0)
        return;
    int e = errno;
    for (struct worker_job *wj = first; wj; wj = wj->next) {
        struct commit_job *j = job_of(wj);
        if (j->rc == 0 && j->hold == hold) {
            j->rc = -1;
            j->err = xasprintf("fsync %s: %s", dir, strerror(e));
            unqueue(c, j);
        }
    }
}

/* Worker thread: commit every file of the batch, then make incoming/ (and hold/) durable
 * once. */
static void commit_batch(struct worker_job *first, void *ctx)
{
    struct committer *c = ctx;
    bool incoming = false, held = false;
    for (struct worker_job *wj = first; wj; wj = wj->next) {
        struct commit_job *j = job_of(wj);
        j->rc = queue_commit_to(j->w, queue_of(j), false, &j->err);
        j->w = NULL; /* freed by queue_commit_to in every case */
        if (j->rc == 0)
            *(j->hold ? &held : &incoming) = true;
    }
    if (held)
        sync_dir(c, first, true);
    if (incoming)
        sync_dir(c, first, false);
    bool any = false;
    for (struct worker_job *wj = first; wj; wj = wj->next)
        any |= job_of(wj)->rc == 0 && !job_of(wj)->hold;
    if (any && trigger_qmgr(c->spool) < 0) {
        /* lossy by design: qmgr rescans incoming/ every queue_run_delay */
    }
}

static void committed(struct worker_job *wj, void *ctx)
{
    struct committer *c = ctx;
    c->cb(job_of(wj), c->ctx);
}

struct committer *committer_new(struct event_loop *loop, const char *spool,
                                void (*done)(struct commit_job *j, void *ctx), void *ctx)
{
    struct committer *c = xcalloc(1, sizeof *c);
    c->cb = done;
    c->ctx = ctx;
    c->spool = xstrdup(spool);
    c->incoming = xasprintf("%s/%s", spool, QUEUE_INCOMING);
    c->hold = xasprintf("%s/%s", spool, QUEUE_HOLD);
    struct worker_config wc = {.name = "commit", .max_threads = 1, .max_batch = 0,
                               .run = commit_batch, .done = committed, .ctx = c};
    char *err = NULL;
    c->worker = worker_new(loop, &wc, &err);
    if (!c->worker)
        log_fatal("%s", err);
    return c;
}

void committer_submit(struct committer *c, struct commit_job *j)
{
    char *err = NULL;
    if (worker_submit(c->worker, &j->wj, &err) < 0) {
        log_warn("%s", err); /* cannot happen with one thread, which worker_new started */
        free(err);
    }
}

unsigned committer_pending(const struct committer *c) { return c ? worker_pending(c->worker) : 0; }
