/* commit.c - group commit of queue files off the event loop.
 *
 * The loop hands finished queue writers to one worker thread. The worker takes every job
 * waiting, commits each (write END, fsync, close, rename into incoming/) without syncing
 * the directory, then fsyncs incoming/ once for the whole batch, and reports back through
 * an eventfd; only then does the session answer 250. When a commit fails (ENOSPC, EIO)
 * the job carries the error and the session answers 451 4.3.0. After a batch with new
 * mail the worker wakes qmgr (a lossy hint: qmgr also rescans incoming/). The worker
 * touches only the jobs' writers and results; sessions stay with the loop thread. */
#include "fileio.h"
#include "ipc.h"
#include "log.h"
#include "mem.h"
#include "smtpd.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct committer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct commit_job *todo; /* newest first */
    struct commit_job *done; /* newest first */
    int efd;
    char *incoming;
    char *qmgr_path;
    struct buf wakeup;       /* the encoded request=wakeup message */
    unsigned pending;        /* loop thread only */
    void (*cb)(struct commit_job *j, void *ctx);
    void *ctx;
};

static struct commit_job *reverse(struct commit_job *j)
{
    struct commit_job *out = NULL;
    while (j) {
        struct commit_job *next = j->next;
        j->next = out;
        out = j;
        j = next;
    }
    return out;
}

/* Tell qmgr there is new mail: connect, send request=wakeup, close. Never waits. */
static void wake_qmgr(struct committer *c)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(c->qmgr_path) >= sizeof sun.sun_path)
        return;
    strcpy(sun.sun_path, c->qmgr_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return;
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0 &&
        send(fd, c->wakeup.data, c->wakeup.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* lossy by design: qmgr rescans incoming/ every queue_run_delay */
    }
    close(fd);
}

static void commit_batch(struct committer *c, struct commit_job *batch)
{
    bool any = false;
    for (struct commit_job *j = batch; j; j = j->next) {
        j->rc = queue_commit(j->w, false, &j->err);
        j->w = NULL; /* freed by queue_commit in every case */
        any |= j->rc == 0;
    }
    if (any && fsync_dir(c->incoming) < 0) {
        int e = errno;
        for (struct commit_job *j = batch; j; j = j->next)
            if (j->rc == 0) {
                j->rc = -1;
                j->err = xasprintf("fsync %s: %s", c->incoming, strerror(e));
            }
        any = false;
    }
    pthread_mutex_lock(&c->mu);
    while (batch) {
        struct commit_job *next = batch->next;
        batch->next = c->done;
        c->done = batch;
        batch = next;
    }
    pthread_mutex_unlock(&c->mu);
    uint64_t one = 1;
    while (write(c->efd, &one, sizeof one) < 0 && errno == EINTR) {
    }
    if (any)
        wake_qmgr(c);
}

static void *worker(void *arg)
{
    struct committer *c = arg;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        while (!c->todo)
            pthread_cond_wait(&c->cv, &c->mu);
        struct commit_job *batch = c->todo;
        c->todo = NULL;
        pthread_mutex_unlock(&c->mu);
        commit_batch(c, reverse(batch));
    }
    return NULL;
}

static void on_done(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct committer *c = ctx;
    uint64_t v;
    if (read(fd, &v, sizeof v) < 0 && errno != EAGAIN)
        log_warn("commit eventfd: %m");
    pthread_mutex_lock(&c->mu);
    struct commit_job *list = reverse(c->done);
    c->done = NULL;
    pthread_mutex_unlock(&c->mu);
    while (list) {
        struct commit_job *next = list->next;
        c->pending--;
        c->cb(list, c->ctx);
        list = next;
    }
}

struct committer *committer_new(struct event_loop *loop, const char *spool,
                                void (*done)(struct commit_job *j, void *ctx), void *ctx)
{
    struct committer *c = xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->cb = done;
    c->ctx = ctx;
    c->incoming = xasprintf("%s/%s", spool, QUEUE_INCOMING);
    c->qmgr_path = xasprintf("%s/private/qmgr", spool);
    struct attrs a = {0};
    attrs_add(&a, "request", "wakeup");
    ipc_encode(&c->wakeup, &a);
    attrs_free(&a);
    c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->efd < 0)
        log_fatal("eventfd: %m");
    if (event_add(loop, c->efd, EPOLLIN, on_done, c) < 0)
        log_fatal("eventfd: %m");
    /* Signals belong to the loop thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int e = pthread_create(&c->thread, NULL, worker, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0)
        log_fatal("pthread_create: %s", strerror(e));
    return c;
}

void committer_submit(struct committer *c, struct commit_job *j)
{
    c->pending++;
    pthread_mutex_lock(&c->mu);
    j->next = c->todo;
    c->todo = j;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

unsigned committer_pending(const struct committer *c) { return c ? c->pending : 0; }
