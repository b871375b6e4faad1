/* test_event.c - the timers of lib/util/event.c (a min-heap since many IDLE sessions each
 * hold one): timers fire in due order whatever the insertion order, cancelling the first,
 * a middle and the last timer, a stale id that must not cancel the timer now using its
 * slot, a timer added from inside a timer callback (it waits for the next turn, so a chain
 * of 0 ms timers lets a readable descriptor in), and many timers with half cancelled. */
#include "unit_test.h"
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "event.h"

#define MAX_FIRED 20000

struct record {
    struct event_loop *loop;
    long long due[MAX_FIRED], due_hi[MAX_FIRED]; /* bounds of each fired timer's due time,
                                                  * in firing order */
    int tag[MAX_FIRED];
    size_t nfired, expect; /* the loop stops once expect timers fired */
};

struct shot {
    struct record *r;
    long long due, due_hi; /* the clock just before and just after event_timer(), + ms */
    int tag;
    bool add_child; /* add a 0 ms timer (tag + 1000) from inside the callback */
    struct shot *child;
};

static void on_shot(struct event_loop *loop, void *ctx)
{
    struct shot *s = ctx;
    struct record *r = s->r;
    assert_true(r->nfired < MAX_FIRED);
    r->due[r->nfired] = s->due;
    r->due_hi[r->nfired] = s->due_hi;
    r->tag[r->nfired] = s->tag;
    r->nfired++;
    if (s->add_child) {
        s->child->due = event_now_ms();
        event_timer(loop, 0, on_shot, s->child);
        s->child->due_hi = event_now_ms();
    }
    if (r->nfired == r->expect)
        event_stop(loop);
}

static void on_guard(struct event_loop *loop, void *ctx)
{
    (void)ctx;
    event_stop(loop); /* the test would otherwise hang */
}

static unsigned long add_shot(struct record *r, struct shot *s, int tag, long ms)
{
    s->r = r;
    s->tag = tag;
    s->due = event_now_ms() + ms;
    unsigned long id = event_timer(r->loop, ms, on_shot, s);
    s->due_hi = event_now_ms() + ms;
    return id;
}

static struct record *record_new(void)
{
    struct record *r = calloc(1, sizeof *r);
    r->loop = event_loop_new();
    return r;
}

static void record_free(struct record *r)
{
    event_loop_free(r->loop);
    free(r);
}

static void run_until(struct record *r, size_t expect, long guard_ms)
{
    r->expect = expect;
    event_timer(r->loop, guard_ms, on_guard, NULL);
    event_run(r->loop);
}

/* event_timer() reads the clock between the test's two readings (a loaded machine may
 * preempt the test in between for many milliseconds), so each due time is known as a
 * range; in due order, an earlier timer's range cannot start after a later one's ends. */
static void assert_due_order(const struct record *r)
{
    for (size_t i = 1; i < r->nfired; i++)
        assert_true(r->due[i - 1] <= r->due_hi[i]);
}

static void test_due_order_random_insertion(void **state)
{
    struct record *r = record_new();
    enum { N = 200 };
    static struct shot shots[N];
    srand(12345);
    for (int i = 0; i < N; i++)
        add_shot(r, &shots[i], i, rand() % 60);
    run_until(r, N, 5000);
    assert_int_equal(r->nfired, N);
    assert_due_order(r);
    record_free(r);
}

static void test_equal_due_fire_in_creation_order(void **state)
{
    struct record *r = record_new();
    static struct shot shots[5];
    for (int i = 0; i < 5; i++)
        add_shot(r, &shots[i], i, 0);
    run_until(r, 5, 5000);
    assert_int_equal(r->nfired, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(r->tag[i], i);
    record_free(r);
}

static void test_cancel_head_middle_last(void **state)
{
    struct record *r = record_new();
    static struct shot shots[5];
    unsigned long id[5];
    for (int i = 0; i < 5; i++) /* inserted out of order: 40 10 50 20 30 ms */
        id[i] = add_shot(r, &shots[i], i, (long[]){40, 10, 50, 20, 30}[i]);
    event_timer_cancel(r->loop, id[1]); /* the head (10 ms) */
    event_timer_cancel(r->loop, id[4]); /* a middle one (30 ms) */
    event_timer_cancel(r->loop, id[2]); /* the last (50 ms) */
    event_timer_cancel(r->loop, id[2]); /* twice: harmless */
    event_timer_cancel(r->loop, 0);     /* never an id */
    run_until(r, 2, 300);
    assert_int_equal(r->nfired, 2);
    assert_int_equal(r->tag[0], 3);
    assert_int_equal(r->tag[1], 0);
    record_free(r);
}

static void test_stale_id_does_not_cancel_slot_reuser(void **state)
{
    struct record *r = record_new();
    static struct shot first, second;
    unsigned long old = add_shot(r, &first, 1, 0);
    run_until(r, 1, 1000);
    assert_int_equal(r->nfired, 1);
    unsigned long fresh = add_shot(r, &second, 2, 0); /* takes the freed slot */
    assert_true(fresh != old);
    event_timer_cancel(r->loop, old);
    run_until(r, 2, 1000);
    assert_int_equal(r->nfired, 2);
    assert_int_equal(r->tag[1], 2);
    record_free(r);
}

static void test_timer_added_from_callback(void **state)
{
    struct record *r = record_new();
    static struct shot parent, child, later;
    parent.add_child = true;
    parent.child = &child;
    child.r = r;
    child.tag = 1000;
    add_shot(r, &parent, 1, 5);
    add_shot(r, &later, 2, 80);
    run_until(r, 3, 2000);
    assert_int_equal(r->nfired, 3);
    assert_int_equal(r->tag[0], 1);
    assert_int_equal(r->tag[1], 1000); /* due at once: before the 80 ms timer */
    assert_int_equal(r->tag[2], 2);
    record_free(r);
}

/* A timer callback that sets a 0 ms timer again and again (work cut into slices) must let
 * the file descriptors in between: the new timer waits for the next turn of the loop. */
struct chain {
    int links, links_when_read;
    int wfd; /* written to by the first link: readable from then on */
};

static void on_link(struct event_loop *loop, void *ctx)
{
    struct chain *c = ctx;
    if (++c->links == 1)
        assert_int_equal(write(c->wfd, "x", 1), 1);
    if (c->links < 1000)
        event_timer(loop, 0, on_link, c);
    else
        event_stop(loop);
}

static void on_readable(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    (void)events;
    struct chain *c = ctx;
    char b;
    assert_int_equal(read(fd, &b, 1), 1);
    c->links_when_read = c->links;
    event_del(loop, fd);
}

static void test_zero_timer_chain_lets_fds_in(void **state)
{
    struct event_loop *loop = event_loop_new();
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct chain c = {0, -1, p[1]};
    event_timer(loop, 0, on_link, &c);
    assert_int_equal(event_add(loop, p[0], EPOLLIN, on_readable, &c), 0);
    event_run(loop);
    assert_int_equal(c.links, 1000);
    assert_true(c.links_when_read >= 1 && c.links_when_read <= 2);
    close(p[0]);
    close(p[1]);
    event_loop_free(loop);
}

static void test_many_timers_half_cancelled(void **state)
{
    struct record *r = record_new();
    enum { N = 10000 };
    struct shot *shots = calloc(N, sizeof *shots);
    unsigned long *ids = calloc(N, sizeof *ids);
    srand(777);
    for (int i = 0; i < N; i++)
        ids[i] = add_shot(r, &shots[i], i, rand() % 40);
    for (int i = 0; i < N; i += 2)
        event_timer_cancel(r->loop, ids[i]);
    run_until(r, N / 2, 5000);
    assert_int_equal(r->nfired, N / 2);
    assert_due_order(r);
    for (size_t i = 0; i < r->nfired; i++)
        assert_int_equal(r->tag[i] % 2, 1);
    free(ids);
    free(shots);
    record_free(r);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_due_order_random_insertion),
               cmocka_unit_test(test_equal_due_fire_in_creation_order),
               cmocka_unit_test(test_cancel_head_middle_last),
               cmocka_unit_test(test_stale_id_does_not_cancel_slot_reuser),
               cmocka_unit_test(test_timer_added_from_callback),
               cmocka_unit_test(test_zero_timer_chain_lets_fds_in),
               cmocka_unit_test(test_many_timers_half_cancelled))
