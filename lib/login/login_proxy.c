/* login_proxy.c - relay between a client TLS connection and a post-login process
 * (see login_proxy.h). */
#include "login_proxy.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

struct login_proxy {
    struct event_loop *loop;
    struct conn *client, *server; /* server: our end of the socketpair */
    struct conn *flush_target;    /* while closing: the side whose output is delivered */
    unsigned long start_timer;
    void (*closed)(void *ctx, const char *why);
    void *ctx;
    bool closing, gone;
    unsigned long close_timer;
    char *why;
    unsigned long long in_bytes, out_bytes;
};

static struct conn *other(struct login_proxy *p, struct conn *c)
{
    return c == p->client ? p->server : p->client;
}

static void end(struct login_proxy *p, const char *why)
{
    if (p->gone)
        return;
    p->gone = true;
    if (p->close_timer)
        event_timer_cancel(p->loop, p->close_timer);
    if (p->start_timer)
        event_timer_cancel(p->loop, p->start_timer);
    conn_free(p->client);
    conn_free(p->server);
    p->closed(p->ctx, p->why ? p->why : why);
    free(p->why);
    free(p);
}

static void on_close_timer(struct event_loop *loop, void *ctx)
{
    struct login_proxy *p = ctx;
    p->close_timer = 0;
    end(p, "closing timed out");
}

/* One side ended: deliver what is pending to the other side, then close both. */
static void start_closing(struct login_proxy *p, struct conn *ended, const char *why)
{
    if (!p->why)
        p->why = xstrdup(why);
    if (p->closing)
        return;
    p->closing = true;
    conn_set_reading(p->client, false);
    conn_set_reading(p->server, false);
    struct conn *to = other(p, ended);
    p->flush_target = to;
    if (conn_flush(to)) {
        end(p, why);
        return;
    }
    p->close_timer = event_timer(p->loop, LOGIN_PROXY_CLOSE_MS, on_close_timer, p);
}

static void relay(struct login_proxy *p, struct conn *from)
{
    struct conn *to = other(p, from);
    size_t len;
    const char *data = conn_data(from, &len);
    if (len > 0) {
        conn_write(to, data, len);
        if (from == p->client)
            p->in_bytes += len;
        else
            p->out_bytes += len;
        conn_consume(from, len);
        conn_flush(to);
    }
    if (conn_out_pending(to) > LOGIN_PROXY_HIGH)
        conn_set_reading(from, false); /* resumed when `to` drains */
    if (conn_eof(from))
        start_closing(p, from, from == p->client ? "client closed" : "post-login process closed");
}

static void on_input(struct conn *c, void *ctx)
{
    struct login_proxy *p = ctx;
    if (!p->closing)
        relay(p, c);
}

static void on_error(struct conn *c, void *ctx, const char *why)
{
    struct login_proxy *p = ctx;
    if (p->closing)
        end(p, why);
    else /* what c sent before has been relayed: deliver it, then close */
        start_closing(p, c, why);
}

static void on_drained(struct conn *c, void *ctx)
{
    struct login_proxy *p = ctx;
    if (p->closing) {
        if (c == p->flush_target)
            end(p, p->why);
        return;
    }
    conn_set_reading(other(p, c), true);
}

static void on_tls_ready(struct conn *c, void *ctx) {}

/* Relay what the client pipelined behind its login, from the loop (never from _new). */
static void on_start(struct event_loop *loop, void *ctx)
{
    struct login_proxy *p = ctx;
    p->start_timer = 0;
    relay(p, p->client);
}

static const struct conn_ops proxy_ops = {
    .input = on_input,
    .error = on_error,
    .tls_ready = on_tls_ready,
    .drained = on_drained,
};

struct login_proxy *login_proxy_new(struct event_loop *loop, struct conn *client, int pair_fd,
                                    void (*closed)(void *ctx, const char *why), void *ctx)
{
    struct login_proxy *p = xcalloc(1, sizeof *p);
    p->loop = loop;
    p->client = client;
    p->closed = closed;
    p->ctx = ctx;
    conn_set_owner(client, &proxy_ops, p);
    p->server = conn_new(loop, pair_fd, LOGIN_PROXY_HIGH, &proxy_ops, p);
    conn_set_reading(client, true);
    p->start_timer = event_timer(loop, 0, on_start, p);
    return p;
}

void login_proxy_kill(struct login_proxy *p, const char *why) { end(p, why); }

void login_proxy_counts(const struct login_proxy *p, unsigned long long *in,
                        unsigned long long *out)
{
    *in = p->in_bytes;
    *out = p->out_bytes;
}
