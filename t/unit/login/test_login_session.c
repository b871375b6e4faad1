/* test_login_session.c - lib/login/login_session.h with a toy protocol on socketpairs and
 * a real event loop (no account database: nothing reaches the password worker): the
 * greeting, the session limit and the failed-login penalty refusing at connect, the
 * plaintext-auth policy, STARTTLS offered only with a TLS context, the error limit, an
 * over-long line, a failed login closing the session at login_max_failures (this process's
 * count: no anvil here), and the
 * pre-login timeout. */
#include "unit_test.h"
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "event.h"
#include "login_session.h"

static void on_line(struct login_client *c, struct buf *line)
{
    const char *l = buf_cstr(line);
    if (strcmp(l, "may") == 0)
        login_reply(c, "may %s", login_may_auth(c) ? "yes" : "no");
    else if (strcmp(l, "tls") == 0)
        login_reply(c, "tls %s", login_can_starttls(c) ? "yes" : "no");
    else if (strcmp(l, "fail") == 0)
        login_fail(c, NULL, "TEST");
    else if (strcmp(l, "quit") == 0) {
        login_reply(c, "bye");
        login_close(c);
    } else
        login_error(c, "error");
}

static void too_long(struct login_client *c, size_t limit) { login_error(c, "long %zu", limit); }
static void greet(struct login_client *c) { login_reply(c, "hello %s", login_server_params(c->srv)->greeting); }
static void busy(struct login_client *c) { login_reply(c, "busy"); }
static void penalty(struct login_client *c) { login_reply(c, "penalty"); }
static void too_many(struct login_client *c) { login_reply(c, "too many"); }
static void timeout(struct login_client *c, long long s) { login_reply(c, "timeout %lld", s); }
static void failed(struct login_client *c, bool last) { login_error(c, last ? "failed, last" : "failed"); }
static void tempfail(struct login_client *c) { login_reply(c, "tempfail"); }
static void refused(struct login_client *c, const char *why) { login_reply(c, "refused"); }
static void forget(struct login_client *c) {}

static const struct login_protocol toy = {
    .service = "toy",
    .starttls = "STARTTLS",
    .state_size = 16,
    .line = on_line,
    .line_too_long = too_long,
    .greet = greet,
    .refuse_busy = busy,
    .refuse_penalty = penalty,
    .too_many_errors = too_many,
    .timeout = timeout,
    .auth_failed = failed,
    .auth_tempfail = tempfail,
    .handoff_refused = refused,
    .forget = forget,
};

static struct login_params params(void)
{
    struct login_params p = {
        .greeting = "toy ready",
        .max_failures = 2,
        .penalty_time_ms = 60000,
        .login_timeout_ms = 60000,
        .line_limit = 64,
        .error_limit = 3,
        .session_limit = 10,
        .session_limit_name = "toy_session_limit",
        .post_login_socket = "/nonexistent",
    };
    return p;
}

static void stop(struct event_loop *loop, void *ctx) { event_stop(loop); }

static void run_for(struct event_loop *loop, long ms)
{
    unsigned long id = event_timer(loop, ms, stop, NULL);
    event_run(loop);
    event_timer_cancel(loop, id);
}

/* Connect a new client; returns the peer's end. */
static int connect_client(struct login_server *srv)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    login_server_accept(srv, sv[0]);
    return sv[1];
}

/* Send text (if any), run the loop, and return what the peer received; *closed tells
 * whether the session's side is closed. */
static char *exchange(struct event_loop *loop, int peer, const char *text, bool *closed)
{
    if (text)
        assert_int_equal(write(peer, text, strlen(text)), (ssize_t)strlen(text));
    run_for(loop, 100);
    static char out[4096];
    size_t len = 0;
    *closed = false;
    for (;;) {
        ssize_t n = read(peer, out + len, sizeof out - 1 - len);
        if (n == 0)
            *closed = true;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    out[len] = 0;
    return out;
}

static void test_greeting_policy_and_quit(void **state)
{
    struct event_loop *loop = event_loop_new();
    struct login_params p = params();
    struct login_server *srv = login_server_new(loop, &p, NULL, NULL, &toy);
    bool closed;
    int peer = connect_client(srv);
    assert_int_equal(login_server_busy(srv), 1);
    assert_string_equal(exchange(loop, peer, NULL, &closed), "hello toy ready\r\n");
    /* no TLS context: no STARTTLS; no TLS and plaintext not allowed: no credentials */
    assert_string_equal(exchange(loop, peer, "may\r\ntls\r\nquit\r\n", &closed),
                        "may no\r\ntls no\r\nbye\r\n");
    assert_true(closed);
    assert_int_equal(login_server_busy(srv), 0);
    close(peer);

    p.allow_plaintext = true;
    struct login_server *open = login_server_new(loop, &p, NULL, NULL, &toy);
    peer = connect_client(open);
    assert_string_equal(exchange(loop, peer, "may\r\n", &closed), "hello toy ready\r\nmay yes\r\n");
    close(peer);
    run_for(loop, 50);
    assert_int_equal(login_server_busy(open), 0);
    login_server_free(open);
    login_server_free(srv);
    event_loop_free(loop);
}

static void test_session_limit_refuses(void **state)
{
    struct event_loop *loop = event_loop_new();
    struct login_params p = params();
    p.session_limit = 1;
    struct login_server *srv = login_server_new(loop, &p, NULL, NULL, &toy);
    bool closed;
    int first = connect_client(srv);
    int second = connect_client(srv);
    assert_string_equal(exchange(loop, second, NULL, &closed), "busy\r\n");
    assert_true(closed);
    assert_string_equal(exchange(loop, first, "quit\r\n", &closed), "hello toy ready\r\nbye\r\n");
    close(first);
    close(second);
    login_server_free(srv);
    event_loop_free(loop);
}

static void test_error_limit_and_long_line(void **state)
{
    struct event_loop *loop = event_loop_new();
    struct login_params p = params();
    struct login_server *srv = login_server_new(loop, &p, NULL, NULL, &toy);
    bool closed;
    int peer = connect_client(srv);
    char longline[200];
    memset(longline, 'a', sizeof longline - 3);
    memcpy(longline + sizeof longline - 3, "\r\n", 3);
    exchange(loop, peer, NULL, &closed);
    assert_string_equal(exchange(loop, peer, longline, &closed), "long 64\r\n");
    assert_false(closed);
    assert_string_equal(exchange(loop, peer, "x\r\ny\r\nmay\r\n", &closed),
                        "error\r\nerror\r\ntoo many\r\n");
    assert_true(closed);
    close(peer);
    login_server_free(srv);
    event_loop_free(loop);
}

static void test_failed_logins_close_and_refuse(void **state)
{
    struct event_loop *loop = event_loop_new();
    struct login_params p = params();
    struct login_server *srv = login_server_new(loop, &p, NULL, NULL, &toy);
    bool closed;
    int peer = connect_client(srv);
    exchange(loop, peer, NULL, &closed);
    assert_string_equal(exchange(loop, peer, "fail\r\n", &closed), "failed\r\n");
    assert_false(closed);
    assert_string_equal(exchange(loop, peer, "fail\r\nmay\r\n", &closed), "failed, last\r\n");
    assert_true(closed);
    close(peer);
    /* the address has reached auth_max_failures: refused at connect */
    peer = connect_client(srv);
    assert_string_equal(exchange(loop, peer, NULL, &closed), "penalty\r\n");
    assert_true(closed);
    close(peer);
    login_server_free(srv);
    event_loop_free(loop);
}

static void test_login_timeout(void **state)
{
    struct event_loop *loop = event_loop_new();
    struct login_params p = params();
    p.login_timeout_ms = 1000;
    struct login_server *srv = login_server_new(loop, &p, NULL, NULL, &toy);
    bool closed;
    int peer = connect_client(srv);
    exchange(loop, peer, "may\r\n", &closed);
    login_server_tick(srv);
    assert_int_equal(login_server_busy(srv), 1);
    usleep(1100 * 1000);
    login_server_tick(srv);
    assert_string_equal(exchange(loop, peer, NULL, &closed), "timeout 1\r\n");
    assert_true(closed);
    assert_int_equal(login_server_busy(srv), 0);
    close(peer);
    login_server_free(srv);
    event_loop_free(loop);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_greeting_policy_and_quit),
               cmocka_unit_test(test_session_limit_refuses),
               cmocka_unit_test(test_error_limit_and_long_line),
               cmocka_unit_test(test_failed_logins_close_and_refuse),
               cmocka_unit_test(test_login_timeout))
