/* test_worker.c - lib/util/worker on a real event loop: jobs run off the loop thread and
 * come back on it, in order, exactly once; cancelled jobs still come back flagged; queued
 * jobs can be dropped; many jobs over several threads; the thread count grows to the limit
 * and never past it; a batch takes every waiting job; worker_free returns every job. */
#include "unit_test.h"
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "worker.h"

#define MANY 2000

struct job {
    struct worker_job wj;
    int id;
    bool ran_off_loop; /* written by run */
    size_t batch_len;  /* written by run: length of the batch it came in */
};

struct fixture {
    struct event_loop *loop;
    pthread_t loop_thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool gate_open;     /* run waits for it when block is set */
    bool block;
    unsigned running, max_running, started;
    int order[MANY];    /* ids in done order */
    size_t ndone, want;
    bool done_off_loop, done_twice;
    unsigned char seen[MANY];
    struct job *jobs;
};

static struct job *job_of(struct worker_job *wj) { return WORKER_JOB_OWNER(wj, struct job, wj); }

static void run(struct worker_job *first, void *ctx)
{
    struct fixture *f = ctx;
    size_t n = 0;
    for (struct worker_job *wj = first; wj; wj = wj->next)
        n++;
    pthread_mutex_lock(&f->mu);
    f->started++;
    if (++f->running > f->max_running)
        f->max_running = f->running;
    pthread_cond_broadcast(&f->cv);
    while (f->block && !f->gate_open)
        pthread_cond_wait(&f->cv, &f->mu);
    f->running--;
    pthread_mutex_unlock(&f->mu);
    for (struct worker_job *wj = first; wj; wj = wj->next) {
        job_of(wj)->ran_off_loop = !pthread_equal(pthread_self(), f->loop_thread);
        job_of(wj)->batch_len = n;
    }
}

static void done(struct worker_job *wj, void *ctx)
{
    struct fixture *f = ctx;
    struct job *j = job_of(wj);
    if (!pthread_equal(pthread_self(), f->loop_thread))
        f->done_off_loop = true;
    if (f->seen[j->id]++)
        f->done_twice = true;
    f->order[f->ndone++] = j->id;
    if (f->ndone == f->want)
        event_stop(f->loop);
}

static void open_gate(struct fixture *f)
{
    pthread_mutex_lock(&f->mu);
    f->gate_open = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* Wait (off the loop) until n runs have started; false after 5 seconds. */
static bool wait_started(struct fixture *f, unsigned n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&f->mu);
    int r = 0;
    while (f->started < n && r == 0)
        r = pthread_cond_timedwait(&f->cv, &f->mu, &until);
    bool ok = f->started >= n;
    pthread_mutex_unlock(&f->mu);
    return ok;
}

static void watchdog(struct event_loop *loop, void *ctx)
{
    (void)ctx;
    event_stop(loop);
}

/* Run the loop until want jobs are back or 10 seconds passed. */
static void run_loop(struct fixture *f, size_t want)
{
    f->want = want;
    if (f->ndone >= want)
        return;
    unsigned long t = event_timer(f->loop, 10000, watchdog, NULL);
    event_run(f->loop);
    event_timer_cancel(f->loop, t);
    assert_int_equal(f->ndone, want);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->loop = event_loop_new();
    f->loop_thread = pthread_self();
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->jobs = calloc(MANY, sizeof *f->jobs);
    for (int i = 0; i < MANY; i++)
        f->jobs[i].id = i;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    event_loop_free(f->loop);
    free(f->jobs);
    free(f);
    return 0;
}

static struct worker *start(struct fixture *f, unsigned threads, size_t batch)
{
    struct worker_config wc = {.name = "test", .max_threads = threads, .max_batch = batch,
                               .run = run, .done = done, .ctx = f};
    char *err = NULL;
    struct worker *w = worker_new(f->loop, &wc, &err);
    assert_non_null(w);
    assert_null(err);
    return w;
}

static void submit(struct worker *w, struct job *j)
{
    char *err = NULL;
    assert_int_equal(worker_submit(w, &j->wj, &err), 0);
}

static void test_jobs_come_back_on_the_loop_in_order(void **state)
{
    struct fixture *f = *state;
    struct worker *w = start(f, 1, 1);
    for (int i = 0; i < 10; i++)
        submit(w, &f->jobs[i]);
    assert_int_equal(worker_pending(w), 10);
    run_loop(f, 10);
    assert_int_equal(worker_pending(w), 0);
    assert_false(f->done_off_loop);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(f->order[i], i);
        assert_true(f->jobs[i].ran_off_loop);
        assert_true(f->jobs[i].wj.ran);
        assert_false(f->jobs[i].wj.cancelled);
    }
    worker_free(w);
}

static void test_cancelled_job_still_comes_back(void **state)
{
    struct fixture *f = *state;
    f->block = true;
    struct worker *w = start(f, 1, 1);
    submit(w, &f->jobs[0]);
    submit(w, &f->jobs[1]);
    assert_true(wait_started(f, 1));
    worker_cancel(&f->jobs[0].wj); /* running */
    worker_cancel(&f->jobs[1].wj); /* queued */
    open_gate(f);
    run_loop(f, 2);
    for (int i = 0; i < 2; i++) {
        assert_true(f->jobs[i].wj.cancelled);
        assert_true(f->jobs[i].wj.ran); /* cancel is not drop: the work still happens */
    }
    assert_int_equal(worker_pending(w), 0);
    worker_free(w);
}

static void test_drop_queued(void **state)
{
    struct fixture *f = *state;
    f->block = true;
    struct worker *w = start(f, 1, 1);
    for (int i = 0; i < 4; i++)
        submit(w, &f->jobs[i]);
    assert_true(wait_started(f, 1));
    worker_drop_queued(w);
    run_loop(f, 3); /* the three dropped ones come back while the first still runs */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(f->order[i], i + 1);
        assert_false(f->jobs[i + 1].wj.ran);
        assert_false(f->jobs[i + 1].ran_off_loop);
    }
    assert_int_equal(worker_pending(w), 1);
    open_gate(f);
    run_loop(f, 4);
    assert_int_equal(f->order[3], 0);
    assert_true(f->jobs[0].wj.ran);
    worker_free(w);
}

static void test_many_jobs_many_threads(void **state)
{
    struct fixture *f = *state;
    struct worker *w = start(f, 4, 1);
    for (int i = 0; i < MANY; i++)
        submit(w, &f->jobs[i]);
    run_loop(f, MANY);
    assert_false(f->done_twice);
    assert_false(f->done_off_loop);
    for (int i = 0; i < MANY; i++)
        assert_int_equal(f->seen[i], 1);
    assert_true(worker_threads(w) >= 1 && worker_threads(w) <= 4);
    assert_int_equal(worker_pending(w), 0);
    worker_free(w);
}

static void test_threads_grow_to_the_limit_only(void **state)
{
    struct fixture *f = *state;
    f->block = true;
    struct worker *w = start(f, 3, 1);
    for (int i = 0; i < 6; i++)
        submit(w, &f->jobs[i]);
    assert_true(wait_started(f, 3)); /* three run at once: three threads */
    assert_int_equal(worker_threads(w), 3);
    pthread_mutex_lock(&f->mu);
    assert_int_equal(f->max_running, 3);
    pthread_mutex_unlock(&f->mu);
    open_gate(f);
    run_loop(f, 6);
    assert_true(f->max_running <= 3);
    assert_int_equal(worker_threads(w), 3);
    worker_free(w);
}

static void test_batch_takes_every_waiting_job(void **state)
{
    struct fixture *f = *state;
    f->block = true;
    struct worker *w = start(f, 1, 0);
    submit(w, &f->jobs[0]);
    assert_true(wait_started(f, 1));
    for (int i = 1; i < 4; i++)
        submit(w, &f->jobs[i]);
    open_gate(f);
    run_loop(f, 4);
    assert_int_equal(f->jobs[0].batch_len, 1);
    for (int i = 1; i < 4; i++)
        assert_int_equal(f->jobs[i].batch_len, 3);
    for (int i = 0; i < 4; i++)
        assert_int_equal(f->order[i], i);
    worker_free(w);
}

static void *open_gate_later(void *arg)
{
    struct timespec ms50 = {0, 50 * 1000 * 1000};
    nanosleep(&ms50, NULL);
    open_gate(arg);
    return NULL;
}

static void test_free_returns_every_job(void **state)
{
    struct fixture *f = *state;
    f->block = true;
    struct worker *w = start(f, 1, 1);
    for (int i = 0; i < 3; i++)
        submit(w, &f->jobs[i]);
    assert_true(wait_started(f, 1));
    f->want = 100; /* never stop the loop from done */
    pthread_t opener;
    pthread_create(&opener, NULL, open_gate_later, f);
    worker_free(w); /* waits for the running job, drops the queued ones */
    pthread_join(opener, NULL);
    assert_int_equal(f->ndone, 3);
    assert_true(f->jobs[0].wj.ran);
    assert_false(f->jobs[1].wj.ran);
    assert_false(f->jobs[2].wj.ran);
    assert_false(f->done_off_loop);
}

UNIT_TEST_MAIN(cmocka_unit_test_setup_teardown(test_jobs_come_back_on_the_loop_in_order, setup, teardown),
               cmocka_unit_test_setup_teardown(test_cancelled_job_still_comes_back, setup, teardown),
               cmocka_unit_test_setup_teardown(test_drop_queued, setup, teardown),
               cmocka_unit_test_setup_teardown(test_many_jobs_many_threads, setup, teardown),
               cmocka_unit_test_setup_teardown(test_threads_grow_to_the_limit_only, setup, teardown),
               cmocka_unit_test_setup_teardown(test_batch_takes_every_waiting_job, setup, teardown),
               cmocka_unit_test_setup_teardown(test_free_returns_every_job, setup, teardown))
