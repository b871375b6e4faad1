/* worker.c - worker threads with a job queue and completions through an eventfd (see
 * worker.h). One mutex guards both lists (waiting, done) and the thread counters; the loop
 * thread alone touches pending and the cancelled flags. */
#include "worker.h"
#include "mem.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct job_list {
    struct worker_job *head, *tail;
    size_t n;
};

struct worker {
    struct worker_config cfg;
    struct event_loop *loop;
    int efd;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job_list waiting, done; /* guarded by mu */
    pthread_t *threads;         /* loop thread only: cfg.max_threads slots */
    unsigned nthreads;          /* loop thread only */
    unsigned idle;              /* guarded by mu */
    bool stopping;              /* guarded by mu */
    unsigned pending;           /* loop thread only */
};

static void list_push(struct job_list *l, struct worker_job *j)
{
    j->next = NULL;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    l->n++;
}

/* Move the whole of from to the end of to. */
static void list_append(struct job_list *to, struct job_list *from)
{
    if (!from->head)
        return;
    if (to->tail)
        to->tail->next = from->head;
    else
        to->head = from->head;
    to->tail = from->tail;
    to->n += from->n;
    *from = (struct job_list){0};
}

/* Up to max jobs (0: all) off the front of l, still linked through next. */
static struct job_list list_take(struct job_list *l, size_t max)
{
    struct job_list out = *l;
    if (max == 0 || l->n <= max) {
        *l = (struct job_list){0};
        return out;
    }
    struct worker_job *last = l->head;
    for (size_t i = 1; i < max; i++)
        last = last->next;
    l->head = last->next;
    l->n -= max;
    last->next = NULL;
    out.tail = last;
    out.n = max;
    return out;
}

static void wake_loop(struct worker *w)
{
    uint64_t one = 1;
    while (write(w->efd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

/* Wait for a batch; false when the worker is stopping and nothing waits. */
static bool next_batch(struct worker *w, struct job_list *batch)
{
    pthread_mutex_lock(&w->mu);
    while (!w->waiting.head && !w->stopping) {
        w->idle++;
        pthread_cond_wait(&w->cv, &w->mu);
        w->idle--;
    }
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        return false;
    }
    *batch = list_take(&w->waiting, w->cfg.max_batch);
    for (struct worker_job *j = batch->head; j; j = j->next)
        j->ran = true;
    pthread_mutex_unlock(&w->mu);
    return true;
}

static void *thread_main(void *arg)
{
    struct worker *w = arg;
    struct job_list batch;
    while (next_batch(w, &batch)) {
        w->cfg.run(batch.head, w->cfg.ctx);
        pthread_mutex_lock(&w->mu);
        list_append(&w->done, &batch);
        pthread_mutex_unlock(&w->mu);
        wake_loop(w);
    }
    return NULL;
}

/* Hand every finished job to done, oldest first. */
static void deliver_done(struct worker *w)
{
    pthread_mutex_lock(&w->mu);
    struct job_list done = w->done;
    w->done = (struct job_list){0};
    pthread_mutex_unlock(&w->mu);
    for (struct worker_job *j = done.head, *next; j; j = next) {
        next = j->next;
        j->next = NULL;
        w->pending--;
        w->cfg.done(j, w->cfg.ctx);
    }
}

static void on_eventfd(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    (void)loop;
    (void)events;
    uint64_t count;
    /* EAGAIN: a previous turn already drained the counter; the lists are what matter. */
    if (read(fd, &count, sizeof count) < 0) {
    }
    deliver_done(ctx);
}

/* Start one more thread with every signal blocked. 0 or an errno value. */
static int spawn(struct worker *w)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&w->threads[w->nthreads], NULL, thread_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e == 0)
        w->nthreads++;
    return e;
}

struct worker *worker_new(struct event_loop *loop, const struct worker_config *cfg, char **err)
{
    struct worker *w = xcalloc(1, sizeof *w);
    w->cfg = *cfg;
    if (w->cfg.max_threads == 0)
        w->cfg.max_threads = 1;
    w->loop = loop;
    w->threads = xcalloc(w->cfg.max_threads, sizeof *w->threads);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->efd < 0 || event_add(loop, w->efd, EPOLLIN, on_eventfd, w) < 0) {
        *err = xasprintf("%s worker: eventfd: %s", cfg->name, strerror(errno));
        if (w->efd >= 0)
            close(w->efd);
        free(w->threads);
        free(w);
        return NULL;
    }
    int e = spawn(w);
    if (e != 0) {
        *err = xasprintf("%s worker: cannot start a thread: %s", cfg->name, strerror(e));
        event_del(loop, w->efd);
        close(w->efd);
        free(w->threads);
        free(w);
        return NULL;
    }
    return w;
}

int worker_submit(struct worker *w, struct worker_job *job, char **err)
{
    job->cancelled = false;
    job->ran = false;
    w->pending++;
    pthread_mutex_lock(&w->mu);
    list_push(&w->waiting, job);
    bool more = w->waiting.n > w->idle && w->nthreads < w->cfg.max_threads;
    int e = more ? spawn(w) : 0;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (e != 0) {
        *err = xasprintf("%s worker: cannot start a thread: %s", w->cfg.name, strerror(e));
        return -1;
    }
    return 0;
}

void worker_cancel(struct worker_job *job)
{
    if (job)
        job->cancelled = true;
}

void worker_drop_queued(struct worker *w)
{
    pthread_mutex_lock(&w->mu);
    list_append(&w->done, &w->waiting);
    pthread_mutex_unlock(&w->mu);
    wake_loop(w);
}

unsigned worker_pending(const struct worker *w) { return w ? w->pending : 0; }

unsigned worker_threads(const struct worker *w) { return w ? w->nthreads : 0; }

void worker_free(struct worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    list_append(&w->done, &w->waiting);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < w->nthreads; i++)
        pthread_join(w->threads[i], NULL);
    deliver_done(w);
    event_del(w->loop, w->efd);
    close(w->efd);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->threads);
    free(w);
}
