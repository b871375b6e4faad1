/* pool.c - qmgr's worker pools: one lib/util/worker.h worker per pool, whose completions
 * come back to the event loop.
 *
 * Why threads and not non-blocking sockets: a delivery request is a short blocking
 * conversation (connect, announcement, request with a descriptor, one reply) followed by
 * queue_mark_done and fdatasync of the queue file. Running each request start to finish on
 * a worker keeps that code straight-line, reuses the blocking lib/ipc/ipc.h client with its
 * timeouts, and moves the fsyncs off the loop as well; the pool size is the transport's
 * concurrency limit, so the limit is enforced by construction. Threads are started on
 * demand and never touch loop-owned state: results travel in the task. */
#include "qmgr.h"
#include "log.h"
#include "mem.h"
#include <stdlib.h>

static void task_run(struct worker_job *first, void *ctx)
{
    (void)ctx;
    struct task *t = WORKER_JOB_OWNER(first, struct task, wj); /* batches of one */
    t->run(t);
}

static void task_back(struct worker_job *wj, void *ctx)
{
    struct pool *p = ctx;
    struct task *t = WORKER_JOB_OWNER(wj, struct task, wj);
    t->cancelled = !wj->ran;
    p->q->tasks_out--;
    t->done(p->q, t);
}

void pool_init(struct pool *p, struct qmgr *q, const char *name, unsigned max_threads)
{
    p->name = name;
    p->q = q;
    struct worker_config wc = {.name = name, .max_threads = max_threads ? max_threads : 1,
                               .max_batch = 1, .run = task_run, .done = task_back, .ctx = p};
    char *err = NULL;
    p->worker = worker_new(q->srv->loop, &wc, &err);
    if (!p->worker)
        log_fatal("%s pool: %s", name, err);
}

void pool_submit(struct pool *p, struct task *t)
{
    p->q->tasks_out++;
    t->cancelled = false;
    char *err = NULL;
    if (worker_submit(p->worker, &t->wj, &err) < 0) {
        log_warn("%s pool: %s", p->name, err);
        free(err);
    }
}

void pool_cancel_queued(struct pool *p) { worker_drop_queued(p->worker); }
