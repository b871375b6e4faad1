/* worker.h - blocking work off the event loop: up to N threads take jobs from one FIFO
 * queue and report each finished job back to the loop through an eventfd registered on the
 * struct event_loop (event.h). The one mechanism behind the password checks of the login
 * processes (doc/pop3d.md), smtpd's group commit (doc/smtpd.md) and qmgr's delivery and
 * finish pools.
 *
 * Jobs: the caller embeds a struct worker_job in its own job structure and owns it; the
 * worker only links it. submit -> run (on a worker thread, perhaps together with other
 * jobs as one batch) -> done (on the loop thread, exactly once per submitted job; done is
 * where the caller frees the job). A job is in the hands of one thread at a time: run may
 * touch the job, never loop-owned state; done sees everything run wrote.
 *
 * Threading: every function here is for the loop thread only, except that run is called on
 * worker threads. Worker threads block every signal (signals belong to the loop thread).
 * Threads start on demand, one more whenever more jobs wait than threads are idle, up to
 * max_threads; the first starts in worker_new.
 *
 * Failure: worker_new returns NULL with an error text; a thread that cannot be started
 * later only lowers the concurrency (worker_submit says so). Nothing here logs. */
#ifndef POSTHORN_WORKER_H
#define POSTHORN_WORKER_H
#include "event.h"
#include <stdbool.h>
#include <stddef.h>

struct worker_job {
    struct worker_job *next; /* the worker's link; run may follow it through its batch */
    bool cancelled;          /* worker_cancel was called: the owner went away */
    bool ran;                /* run saw the job; false when dropped before it started */
};

/* Worker thread: do the work of a batch of jobs, first linked through ->next (in submit
 * order, at most max_batch long). */
typedef void (*worker_run_fn)(struct worker_job *first, void *ctx);
/* Loop thread: the job is back (ran or dropped, cancelled or not); the worker is done with
 * it and the callee owns it again. */
typedef void (*worker_done_fn)(struct worker_job *job, void *ctx);

struct worker_config {
    const char *name;     /* in error texts, e.g. "commit" */
    unsigned max_threads; /* 0 counts as 1 */
    size_t max_batch;     /* jobs one thread takes at once; 0 = every job waiting */
    worker_run_fn run;
    worker_done_fn done;
    void *ctx;            /* passed to run and done */
};

struct worker;

/* Register the eventfd on loop and start the first thread. NULL with *err (malloc'ed). */
struct worker *worker_new(struct event_loop *loop, const struct worker_config *cfg, char **err);
/* Queue a job (its flags are reset). 0, or -1 with *err (malloc'ed) when a further thread
 * was needed but could not start: the job still runs, on the threads there are. */
int worker_submit(struct worker *w, struct worker_job *job, char **err);
/* The owner went away: the job still runs (if it has not yet) and still comes back to
 * done, with cancelled set, so the caller can free it without telling anyone. */
void worker_cancel(struct worker_job *job);
/* Take every job that has not started off the queue; each comes back to done (on a later
 * loop turn) with ran false. Running jobs finish normally. */
void worker_drop_queued(struct worker *w);
/* Jobs submitted and not yet back through done. */
unsigned worker_pending(const struct worker *w);
/* Threads started so far. */
unsigned worker_threads(const struct worker *w);
/* Shut down: jobs not started are dropped, running jobs finish, the threads exit and are
 * joined; then every job not yet back goes to done (here, before returning), the eventfd
 * is removed from the loop and w is freed. NULL is a no-op. */
void worker_free(struct worker *w);

/* The structure a struct worker_job is embedded in, as member field of type. */
#define WORKER_JOB_OWNER(job, type, field) \
    ((type *)(void *)((char *)(job) - offsetof(type, field)))

#endif
