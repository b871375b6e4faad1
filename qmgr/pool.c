/* pool.c - worker thread pools and the completion queue that brings finished tasks back to
 * the event loop.
 *
 * Why threads and not non-blocking sockets: a delivery request is a short blocking
 * conversation (connect, announcement, request with a descriptor, one reply) followed by
 * queue_mark_done and fdatasync of the queue file. Running each request start to finish on
 * a worker keeps that code straight-line, reuses the blocking lib/ipc.h client with its
 * timeouts, and moves the fsyncs off the loop as well (DESIGN section 2); the pool size is
 * the transport's concurrency limit, so the limit is enforced by construction. Threads are
 * started on demand and never touch loop-owned state: results travel in the task. */
#include "qmgr.h"
#include "log.h"
#include "mem.h"
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void completion_push(struct qmgr *q, struct task *t)
{
    pthread_mutex_lock(&q->done_mu);
    t->next = NULL;
    if (q->done_tail)
        q->done_tail->next = t;
    else
        q->done_head = t;
    q->done_tail = t;
    pthread_mutex_unlock(&q->done_mu);
    uint64_t one = 1;
    while (write(q->done_efd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

static void on_completions(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct qmgr *q = ctx;
    uint64_t n;
    if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
        log_warn("completion eventfd: %m");
    pthread_mutex_lock(&q->done_mu);
    struct task *t = q->done_head;
    q->done_head = q->done_tail = NULL;
    pthread_mutex_unlock(&q->done_mu);
    while (t) {
        struct task *next = t->next;
        q->tasks_out--;
        t->done(q, t);
        t = next;
    }
}

int completions_init(struct qmgr *q)
{
    pthread_mutex_init(&q->done_mu, NULL);
    q->done_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->done_efd < 0)
        return -1;
    return event_add(q->srv->loop, q->done_efd, EPOLLIN, on_completions, q);
}

static struct task *take(struct pool *p)
{
    struct task *t = p->head;
    p->head = t->next;
    if (!p->head)
        p->tail = NULL;
    return t;
}

static void *pool_thread(void *arg)
{
    struct pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head) {
            p->idle++;
            pthread_cond_wait(&p->cv, &p->mu);
            p->idle--;
        }
        struct task *t = take(p);
        pthread_mutex_unlock(&p->mu);
        t->run(t);
        completion_push(p->q, t);
        pthread_mutex_lock(&p->mu);
    }
    return NULL;
}

void pool_init(struct pool *p, struct qmgr *q, const char *name, unsigned max_threads)
{
    memset(p, 0, sizeof *p);
    p->name = name;
    p->q = q;
    p->max_threads = max_threads ? max_threads : 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
}

/* Start one more thread; signals stay with the main thread (the skeleton's handlers). */
static void spawn(struct pool *p)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    int r = pthread_create(&th, &attr, pool_thread, p);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        if (p->threads == 0)
            log_fatal("%s pool: cannot start a thread: %s", p->name, strerror(r));
        log_warn("%s pool: cannot start a thread: %s", p->name, strerror(r));
        return;
    }
    p->threads++;
}

void pool_submit(struct pool *p, struct task *t)
{
    p->q->tasks_out++;
    t->next = NULL;
    t->cancelled = false;
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->next = t;
    else
        p->head = t;
    p->tail = t;
    size_t queued = 0;
    for (struct task *x = p->head; x && queued <= p->idle; x = x->next)
        queued++;
    if (queued > p->idle && p->threads < p->max_threads)
        spawn(p);
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void pool_cancel_queued(struct pool *p)
{
    pthread_mutex_lock(&p->mu);
    struct task *t = p->head;
    p->head = p->tail = NULL;
    pthread_mutex_unlock(&p->mu);
    while (t) {
        struct task *next = t->next;
        t->cancelled = true;
        completion_push(p->q, t);
        t = next;
    }
}
