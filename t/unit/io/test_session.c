/* test_session.c - lib/io/session.h on a real socketpair and event loop, with a toy
 * line protocol ("ok" answers "+ok", "bad" is an error, "quit" says bye and closes, "big"
 * writes 64 KB): replies in order, the error limit closing the session after the
 * protocol's last reply, replies held back by sess_hold and by the soft error limit, the
 * idle timeout, the deadline and the minimum data rate that input does not push back, the
 * output limit pausing input until the peer reads, EOF, and finish() running exactly once. */
#include "unit_test.h"
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "event.h"
#include "session.h"

struct toy {
    struct event_loop *loop;
    struct sess_list list;
    struct sess *s;
    int peer;
    unsigned steps, finished, eofs, timeouts, slow;
    const char *slow_why;
    struct buf line;
    struct buf received; /* what the peer read */
};

static struct toy *toy(const struct sess *s) { return s->owner; }

static bool step(struct sess *s)
{
    struct toy *t = toy(s);
    bool bare;
    enum conn_line r = conn_read_line(s->conn, 256, &t->line, &bare);
    if (r == CONN_LINE_NONE)
        return false;
    t->steps++;
    const char *l = buf_cstr(&t->line);
    if (strcmp(l, "ok") == 0) {
        sess_reply(s, "+ok");
    } else if (strcmp(l, "quit") == 0) {
        sess_reply(s, "bye");
        sess_close(s);
    } else if (strcmp(l, "big") == 0) {
        static char chunk[65536];
        memset(chunk, 'x', sizeof chunk);
        conn_write(s->conn, chunk, sizeof chunk);
    } else if (strcmp(l, "hold") == 0) {
        sess_hold(s, 100);
        sess_reply(s, "late");
    } else {
        sess_error(s, "-err %u", s->errors + 1);
    }
    return true;
}

static void on_eof(struct sess *s) { toy(s)->eofs++; }
static void too_many(struct sess *s) { sess_reply(s, "too many"); }
static void on_timeout(struct sess *s)
{
    toy(s)->timeouts++;
    sess_reply(s, "timeout");
}
static void on_too_slow(struct sess *s, const char *why)
{
    toy(s)->slow++;
    toy(s)->slow_why = why;
    sess_reply(s, "slow");
}
static void on_lost(struct sess *s, const char *why) {}
static void on_drained(struct sess *s) { sess_process(s); }
static void on_finish(struct sess *s)
{
    struct toy *t = toy(s);
    t->finished++;
    t->s = NULL;
}

static const struct sess_ops toy_ops = {
    .step = step,
    .eof = on_eof,
    .too_many_errors = too_many,
    .timeout = on_timeout,
    .too_slow = on_too_slow,
    .lost = on_lost,
    .drained = on_drained,
    .finish = on_finish,
};

static void stop(struct event_loop *loop, void *ctx) { event_stop(loop); }

static void run_for(struct toy *t, long ms)
{
    unsigned long id = event_timer(t->loop, ms, stop, NULL);
    event_run(t->loop);
    event_timer_cancel(t->loop, id);
}

static void setup(struct toy *t, unsigned error_limit)
{
    memset(t, 0, sizeof *t);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    t->loop = event_loop_new();
    t->peer = sv[1];
    int small = 4096; /* make the output limit reachable */
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    t->list.loop = t->loop;
    t->list.timeout_ms = 60000;
    t->list.error_limit = error_limit;
    t->list.soft_error_limit = error_limit;
    t->s = sess_new(&t->list, sv[0], 4096, &toy_ops, t);
    assert_int_equal(t->list.count, 1);
}

static void teardown(struct toy *t)
{
    if (t->s) {
        sess_kill(t->s);
        sess_reap(t->s);
    }
    assert_int_equal(t->finished, 1);
    assert_int_equal(t->list.count, 0);
    assert_true(DLIST_EMPTY(&t->list.sessions));
    close(t->peer);
    event_loop_free(t->loop);
    buf_free(&t->line);
    buf_free(&t->received);
}

static void send_text(struct toy *t, const char *text)
{
    assert_int_equal(write(t->peer, text, strlen(text)), (ssize_t)strlen(text));
}

/* Read what is there; true when the session's side is closed. */
static bool drain_peer(struct toy *t)
{
    char b[65536];
    for (;;) {
        ssize_t n = read(t->peer, b, sizeof b);
        if (n == 0)
            return true;
        if (n < 0)
            return false;
        buf_append(&t->received, b, (size_t)n);
    }
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void test_replies_and_close(void **state)
{
    struct toy t;
    setup(&t, 10);
    send_text(&t, "ok\r\nok\nquit\r\nok\r\n");
    run_for(&t, 200);
    assert_true(drain_peer(&t));
    assert_string_equal(buf_cstr(&t.received), "+ok\r\n+ok\r\nbye\r\n");
    assert_int_equal(t.steps, 3); /* nothing after quit runs */
    assert_int_equal(t.finished, 1);
    teardown(&t);
}

static void test_error_limit_closes(void **state)
{
    struct toy t;
    setup(&t, 3);
    send_text(&t, "x\r\ny\r\nok\r\nz\r\nok\r\n");
    run_for(&t, 200);
    assert_true(drain_peer(&t));
    assert_string_equal(buf_cstr(&t.received), "-err 1\r\n-err 2\r\n+ok\r\n-err 3\r\ntoo many\r\n");
    assert_int_equal(t.finished, 1);
    teardown(&t);
}

static void test_hold_delays_replies_in_order(void **state)
{
    struct toy t;
    setup(&t, 10);
    long long start = now_ms();
    send_text(&t, "hold\r\nok\r\n");
    run_for(&t, 50);
    assert_false(drain_peer(&t));
    assert_int_equal(t.received.len, 0); /* held, and "ok" not processed yet */
    assert_int_equal(t.steps, 1);
    run_for(&t, 200);
    drain_peer(&t);
    assert_string_equal(buf_cstr(&t.received), "late\r\n+ok\r\n");
    assert_true(now_ms() - start >= 100);
    teardown(&t);
}

static void test_soft_error_limit_tarpits(void **state)
{
    struct toy t;
    setup(&t, 10);
    t.list.soft_error_limit = 1;
    t.list.error_delay_ms = 100;
    send_text(&t, "x\r\ny\r\nok\r\n");
    run_for(&t, 50);
    drain_peer(&t);
    assert_string_equal(buf_cstr(&t.received), "-err 1\r\n"); /* the second error is held */
    run_for(&t, 200);
    drain_peer(&t);
    assert_string_equal(buf_cstr(&t.received), "-err 1\r\n-err 2\r\n+ok\r\n");
    teardown(&t);
}

static void test_idle_timeout(void **state)
{
    struct toy t;
    setup(&t, 10);
    t.list.timeout_ms = 30;
    sess_tick(&t.list);
    assert_int_equal(t.timeouts, 0);
    usleep(60 * 1000);
    sess_tick(&t.list);
    assert_int_equal(t.timeouts, 1);
    assert_int_equal(t.finished, 1); /* the reply went out at once: closed and reaped */
    assert_true(drain_peer(&t));
    assert_string_equal(buf_cstr(&t.received), "timeout\r\n");
    teardown(&t);
}

static void test_deadline_is_not_pushed_back_by_input(void **state)
{
    struct toy t;
    setup(&t, 10);
    t.list.idle_on_input = true;
    t.list.timeout_ms = 1000;
    assert_int_equal(sess_deadline_left(t.s), 0);
    sess_set_deadline(t.s, 80);
    long long left = sess_deadline_left(t.s);
    assert_true(left > 0 && left <= 80);
    long long start = now_ms();
    while (t.slow == 0 && now_ms() - start < 1000) {
        send_text(&t, "ok\r\n"); /* input keeps the idle timer young, not the deadline */
        run_for(&t, 20);
        sess_tick(&t.list);
    }
    assert_int_equal(t.slow, 1);
    assert_int_equal(t.timeouts, 0);
    assert_string_equal(t.slow_why, "time limit exceeded");
    assert_true(now_ms() - start >= 70);
    assert_int_equal(t.finished, 1);
    assert_true(drain_peer(&t));
    const char *r = buf_cstr(&t.received);
    assert_true(strlen(r) > 7 && strcmp(r + strlen(r) - 6, "slow\r\n") == 0);
    teardown(&t);
}

static void test_deadline_removed(void **state)
{
    struct toy t;
    setup(&t, 10);
    sess_set_deadline(t.s, 20);
    sess_set_deadline(t.s, 0);
    assert_int_equal(sess_deadline_left(t.s), 0);
    usleep(40 * 1000);
    sess_tick(&t.list);
    assert_int_equal(t.slow, 0);
    teardown(&t);
}

static void test_min_data_rate(void **state)
{
    struct toy t;
    setup(&t, 10);
    t.list.min_rate = 1000; /* bytes/s, i.e. 1 byte per ms */
    t.list.rate_grace_ms = 30;
    sess_rate_start(t.s);
    assert_true(sess_rate_active(t.s));
    sess_rate_count(t.s, 10000);
    usleep(60 * 1000);
    sess_tick(&t.list); /* 10000 bytes in ~60 ms: fast enough */
    assert_int_equal(t.slow, 0);
    sess_rate_start(t.s);
    sess_rate_count(t.s, 10);
    sess_tick(&t.list); /* within the grace period */
    assert_int_equal(t.slow, 0);
    usleep(60 * 1000);
    sess_tick(&t.list); /* 10 bytes in ~60 ms: too slow */
    assert_int_equal(t.slow, 1);
    assert_string_equal(t.slow_why, "data rate too low");
    teardown(&t);
}

static void test_rate_stopped_is_not_measured(void **state)
{
    struct toy t;
    setup(&t, 10);
    t.list.min_rate = 1000;
    t.list.rate_grace_ms = 10;
    sess_rate_start(t.s);
    sess_rate_stop(t.s);
    assert_false(sess_rate_active(t.s));
    usleep(40 * 1000);
    sess_tick(&t.list);
    assert_int_equal(t.slow, 0);
    teardown(&t);
}

static void test_output_limit_pauses_input(void **state)
{
    struct toy t;
    setup(&t, 10);
    t.list.out_limit = 1000;
    send_text(&t, "big\r\nbig\r\nbig\r\nbig\r\nbig\r\nbig\r\n");
    run_for(&t, 100);
    unsigned before = t.steps;
    assert_true(before >= 1 && before < 6); /* stopped while the peer does not read */
    for (int i = 0; i < 50 && t.steps < 6; i++) {
        drain_peer(&t);
        run_for(&t, 20);
    }
    assert_int_equal(t.steps, 6);
    teardown(&t);
}

static void test_eof_closes(void **state)
{
    struct toy t;
    setup(&t, 10);
    send_text(&t, "ok\r\n");
    shutdown(t.peer, SHUT_WR);
    run_for(&t, 200);
    assert_int_equal(t.eofs, 1);
    assert_int_equal(t.finished, 1);
    assert_true(drain_peer(&t));
    assert_string_equal(buf_cstr(&t.received), "+ok\r\n");
    teardown(&t);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_replies_and_close),
               cmocka_unit_test(test_error_limit_closes),
               cmocka_unit_test(test_hold_delays_replies_in_order),
               cmocka_unit_test(test_soft_error_limit_tarpits),
               cmocka_unit_test(test_idle_timeout),
               cmocka_unit_test(test_deadline_is_not_pushed_back_by_input),
               cmocka_unit_test(test_deadline_removed),
               cmocka_unit_test(test_min_data_rate),
               cmocka_unit_test(test_rate_stopped_is_not_measured),
               cmocka_unit_test(test_output_limit_pauses_input),
               cmocka_unit_test(test_eof_closes))
