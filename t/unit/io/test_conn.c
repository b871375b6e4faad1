/* test_conn.c - lib/conn on a real socketpair and event loop: line extraction (CRLF, bare LF,
 * over-long lines reported once and skipped, lines longer than the buffer), large output
 * written through EPOLLOUT with the drained callback, EOF, conn_free inside a callback, and
 * a write error reported through the error callback (not mistaken for EOF). */
#include "unit_test.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "conn.h"
#include "event.h"

struct fixture {
    struct event_loop *loop;
    struct conn *c;
    int peer;
    struct buf lines; /* "L:text|" "B:text|" (bare LF) "T|" (too long) "E|" (EOF) */
    size_t limit;
    bool drained, failed, free_on_eof;
    char why[128]; /* the reason on_error was given */
    struct buf received; /* what the peer read */
};

static void on_input(struct conn *c, void *ctx)
{
    struct fixture *f = ctx;
    struct buf line = BUF_INIT;
    bool bare;
    enum conn_line r;
    while ((r = conn_read_line(c, f->limit, &line, &bare)) != CONN_LINE_NONE) {
        if (r == CONN_LINE_TOO_LONG)
            buf_puts(&f->lines, "T|");
        else
            buf_printf(&f->lines, "%s:%s|", bare ? "B" : "L", buf_cstr(&line));
    }
    buf_free(&line);
    if (conn_eof(c)) {
        buf_puts(&f->lines, "E|");
        if (f->free_on_eof) {
            conn_free(c); /* must be safe inside the callback */
            f->c = NULL;
        }
        event_stop(f->loop);
    }
}

static void on_error(struct conn *c, void *ctx, const char *why)
{
    struct fixture *f = ctx;
    f->failed = true;
    snprintf(f->why, sizeof f->why, "%s", why);
    event_stop(f->loop);
}

static void on_tls(struct conn *c, void *ctx) {}

static void on_drained(struct conn *c, void *ctx)
{
    struct fixture *f = ctx;
    f->drained = true;
}

static const struct conn_ops ops = {on_input, on_error, on_tls, on_drained};

static void stop(struct event_loop *loop, void *ctx) { event_stop(loop); }

static void setup(struct fixture *f, size_t in_limit, size_t limit)
{
    int sv[2];
    memset(f, 0, sizeof *f);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    f->loop = event_loop_new();
    f->limit = limit;
    f->c = conn_new(f->loop, sv[0], in_limit, &ops, f);
    f->peer = sv[1];
}

static void teardown(struct fixture *f)
{
    if (f->c)
        conn_free(f->c);
    close(f->peer);
    event_loop_free(f->loop);
    buf_free(&f->lines);
    buf_free(&f->received);
}

static void run_for(struct fixture *f, long ms)
{
    unsigned long t = event_timer(f->loop, ms, stop, NULL);
    event_run(f->loop);
    event_timer_cancel(f->loop, t);
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        assert_true(w > 0);
        s += w;
        n -= (size_t)w;
    }
}

static void test_lines(void **state)
{
    struct fixture f;
    setup(&f, 4096, 20);
    const char in[] = "EHLO a\r\nNOOP\n\r\nline\rwith cr\r\n0123456789012345678901234\r\nok\r\npartial";
    send_all(f.peer, in, sizeof in - 1);
    shutdown(f.peer, SHUT_WR);
    run_for(&f, 2000);
    assert_string_equal(buf_cstr(&f.lines),
                        "L:EHLO a|B:NOOP|L:|L:line\rwith cr|T|L:ok|E|");
    teardown(&f);
}

static void test_line_longer_than_buffer(void **state)
{
    struct fixture f;
    setup(&f, 1024, 2000);
    char big[5000];
    memset(big, 'x', sizeof big);
    send_all(f.peer, big, sizeof big);
    send_all(f.peer, "\r\nafter\r\n", 9);
    shutdown(f.peer, SHUT_WR);
    run_for(&f, 2000);
    assert_string_equal(buf_cstr(&f.lines), "T|L:after|E|");
    teardown(&f);
}

static void on_peer(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct fixture *f = ctx;
    char tmp[65536];
    ssize_t n;
    while ((n = read(fd, tmp, sizeof tmp)) > 0)
        buf_append(&f->received, tmp, (size_t)n);
    if (f->received.len >= 3u << 20)
        event_stop(loop);
}

static void test_large_output_and_drained(void **state)
{
    struct fixture f;
    setup(&f, 4096, 100);
    struct buf out = BUF_INIT;
    for (size_t i = 0; out.len < (3u << 20); i++)
        buf_printf(&out, "%zu\r\n", i);
    buf_truncate(&out, 3u << 20);
    conn_write(f.c, out.data, out.len);
    assert_false(conn_flush(f.c)); /* far more than a socket buffer */
    assert_true(conn_out_pending(f.c) > 0);
    event_add(f.loop, f.peer, EPOLLIN, on_peer, &f);
    run_for(&f, 5000);
    event_del(f.loop, f.peer);
    assert_int_equal(f.received.len, out.len);
    assert_memory_equal(f.received.data, out.data, out.len);
    assert_true(f.drained);
    assert_int_equal(conn_out_pending(f.c), 0);
    buf_free(&out);
    teardown(&f);
}

static void test_free_inside_callback_and_peer_addr(void **state)
{
    struct fixture f;
    setup(&f, 4096, 100);
    f.free_on_eof = true;
    assert_string_equal(conn_peer_addr(f.c), "unknown"); /* AF_UNIX has no address */
    send_all(f.peer, "QUIT\r\n", 6);
    close(f.peer);
    f.peer = open("/dev/null", O_RDONLY);
    run_for(&f, 2000);
    assert_null(f.c);
    assert_string_equal(buf_cstr(&f.lines), "L:QUIT|E|");
    teardown(&f);
}

/* The peer stops reading but keeps its sending side open: the conn can see no EOF, so only
 * a reported write error (EPIPE) ends the loop. */
static void test_write_error_reported(void **state)
{
    struct fixture f;
    setup(&f, 4096, 100);
    assert_int_equal(shutdown(f.peer, SHUT_RD), 0);
    conn_puts(f.c, "221 bye\r\n");
    conn_flush(f.c);
    run_for(&f, 2000);
    assert_true(f.failed);
    assert_non_null(strstr(f.why, "write"));
    assert_null(strstr(buf_cstr(&f.lines), "E|"));
    teardown(&f);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_lines),
               cmocka_unit_test(test_line_longer_than_buffer),
               cmocka_unit_test(test_large_output_and_drained),
               cmocka_unit_test(test_free_inside_callback_and_peer_addr),
               cmocka_unit_test(test_write_error_reported))
