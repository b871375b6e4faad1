/* anvil_client.c - the asynchronous client of the anvil service (see anvil_client.h). */
#include "anvil_client.h"
#include "buf.h"
#include "ipc.h"
#include "list.h"
#include "log.h"
#include "mem.h"
#include "unixsock.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RETRY_MS 1000        /* after a failure, no new connection for this long */
#define ANSWER_MAX_INPUT 65536      /* replies are a few dozen bytes */
#define REQUEST_MAX_OUTPUT (1 << 20) /* more than this waiting: anvil is not reading; give up on it */

struct anvil_req {
    struct anvil_req *prev, *next;
    struct anvil_client *ac;
    anvil_fn fn; /* NULL: nobody waits (fire and forget, or cancelled) */
    void *ctx;
    long long sent_ms;
};

struct anvil_client {
    struct event_loop *loop;
    char path[PATH_MAX];
    char *service;
    long timeout_ms;
    int fd;             /* -1: not connected */
    bool greeted;       /* anvil's protocol announcement was read */
    unsigned generation;
    long long retry_at; /* no connection attempt before this */
    long long full_logged; /* when "table full" was last logged */
    struct buf in, out;
    DLIST_HEAD(struct anvil_req) waiting; /* sent, in order */
    DLIST_HEAD(struct anvil_req) failed;  /* to be answered ANVIL_UNAVAILABLE */
    unsigned long fail_timer, timeout_timer;
    void (*on_connect)(void *ctx);
    void *on_connect_ctx;
    unsigned long reconnect_timer;
};

static void on_io(struct event_loop *loop, int fd, uint32_t events, void *ctx);
static void arm_timeout(struct anvil_client *ac);
static bool connect_anvil(struct anvil_client *ac);

static void on_reconnect(struct event_loop *loop, void *ctx)
{
    (void)loop;
    struct anvil_client *ac = ctx;
    ac->reconnect_timer = 0;
    connect_anvil(ac);
}

/* A client that hands anvil its state on connecting (anvil_client_on_connect) reconnects on
 * its own a little later, so a restarted anvil gets that state without waiting for the next
 * request. */
static void reconnect_later(struct anvil_client *ac)
{
    if (ac->on_connect && !ac->reconnect_timer)
        ac->reconnect_timer = event_timer(ac->loop, RETRY_MS, on_reconnect, ac);
}

/* Answer the failed requests from a timer, so no callback runs inside the caller's request. */
static void answer_failed(struct event_loop *loop, void *ctx)
{
    (void)loop;
    struct anvil_client *ac = ctx;
    ac->fail_timer = 0;
    struct anvil_req *r;
    while ((r = DLIST_FIRST(&ac->failed))) {
        DLIST_REMOVE(&ac->failed, r);
        struct anvil_reply reply = {.status = ANVIL_UNAVAILABLE};
        if (r->fn)
            r->fn(r->ctx, &reply);
        free(r);
    }
}

static void fail_later(struct anvil_client *ac, struct anvil_req *r)
{
    DLIST_INSERT_TAIL(&ac->failed, r);
    if (!ac->fail_timer)
        ac->fail_timer = event_timer(ac->loop, 0, answer_failed, ac);
}

/* why: for the log; NULL when closing on purpose. */
static void disconnect(struct anvil_client *ac, const char *why)
{
    if (ac->fd >= 0) {
        if (why)
            log_warn("anvil: %s; using this process's own limits meanwhile", why);
        event_del(ac->loop, ac->fd);
        close(ac->fd);
        ac->fd = -1;
    }
    ac->greeted = false;
    ac->retry_at = event_now_ms() + RETRY_MS;
    buf_reset(&ac->in);
    buf_reset(&ac->out);
    struct anvil_req *r;
    while ((r = DLIST_FIRST(&ac->waiting))) {
        DLIST_REMOVE(&ac->waiting, r);
        fail_later(ac, r);
    }
    if (ac->timeout_timer) {
        event_timer_cancel(ac->loop, ac->timeout_timer);
        ac->timeout_timer = 0;
    }
    if (why) /* not when closing on purpose */
        reconnect_later(ac);
}

static bool connect_anvil(struct anvil_client *ac)
{
    if (ac->fd >= 0)
        return true;
    if (event_now_ms() < ac->retry_at)
        return false;
    ac->fd = unix_connect(ac->path, true);
    if (ac->fd < 0) {
        if (errno != ENOENT) { /* no anvil in master.cf is an operator's choice, not news */
            log_warn("anvil: connect %s: %m; using this process's own limits meanwhile", ac->path);
            reconnect_later(ac);
        }
        ac->retry_at = event_now_ms() + RETRY_MS;
        return false;
    }
    if (event_add(ac->loop, ac->fd, EPOLLIN, on_io, ac) < 0) {
        close(ac->fd);
        ac->fd = -1;
        ac->retry_at = event_now_ms() + RETRY_MS;
        return false;
    }
    ac->generation++;
    if (ac->generation == 0)
        ac->generation = 1;
    if (ac->on_connect)
        ac->on_connect(ac->on_connect_ctx);
    return ac->fd >= 0;
}

static void flush_out(struct anvil_client *ac)
{
    while (ac->out.len > 0) {
        ssize_t n = send(ac->fd, ac->out.data, ac->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            disconnect(ac, "write error");
            return;
        }
        buf_consume(&ac->out, (size_t)n);
    }
    if (ac->out.len > REQUEST_MAX_OUTPUT)
        disconnect(ac, "not reading its requests");
    else
        event_mod(ac->loop, ac->fd, ac->out.len ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

/* Queue a request; with fn NULL nobody waits for the answer (but it is read in order). */
static struct anvil_req *request(struct anvil_client *ac, struct attrs *a, anvil_fn fn, void *ctx)
{
    struct anvil_req *r = xcalloc(1, sizeof *r);
    r->ac = ac;
    r->fn = fn;
    r->ctx = ctx;
    if (!connect_anvil(ac)) {
        attrs_free(a);
        fail_later(ac, r);
        return r;
    }
    ipc_encode(&ac->out, a);
    attrs_free(a);
    r->sent_ms = event_now_ms();
    DLIST_INSERT_TAIL(&ac->waiting, r);
    flush_out(ac); /* may disconnect, which moves r to the failed list */
    arm_timeout(ac);
    return r;
}

static void on_timeout(struct event_loop *loop, void *ctx)
{
    (void)loop;
    struct anvil_client *ac = ctx;
    ac->timeout_timer = 0;
    struct anvil_req *head = DLIST_FIRST(&ac->waiting);
    if (head && event_now_ms() - head->sent_ms >= ac->timeout_ms)
        disconnect(ac, "no answer within anvil_timeout");
    arm_timeout(ac);
}

static void arm_timeout(struct anvil_client *ac)
{
    struct anvil_req *head = DLIST_FIRST(&ac->waiting);
    if (!head || ac->timeout_timer)
        return;
    long long left = head->sent_ms + ac->timeout_ms - event_now_ms();
    ac->timeout_timer = event_timer(ac->loop, left > 0 ? (long)left : 0, on_timeout, ac);
}

static unsigned get_uint(const struct attrs *a, const char *name)
{
    long long v = 0;
    return attrs_get_ll(a, name, &v) && v >= 0 && v <= UINT_MAX ? (unsigned)v : 0;
}

static bool get_yes(const struct attrs *a, const char *name)
{
    const char *v = attrs_get(a, name);
    return v && strcmp(v, "yes") == 0;
}

/* One message from anvil: the announcement, then answers in request order. */
static int handle(struct anvil_client *ac, const struct attrs *a)
{
    if (!ac->greeted) {
        const char *proto = attrs_get(a, "protocol"), *version = attrs_get(a, "version");
        if (!proto || strcmp(proto, "anvil") != 0 || !version || strcmp(version, IPC_VERSION) != 0)
            return -1;
        ac->greeted = true;
        return 0;
    }
    struct anvil_req *r = DLIST_FIRST(&ac->waiting);
    const char *status = attrs_get(a, "status");
    if (!r || !status)
        return -1;
    DLIST_REMOVE(&ac->waiting, r);
    struct anvil_reply reply = {.generation = ac->generation};
    if (strcmp(status, "ok") == 0)
        reply.status = ANVIL_OK;
    else if (strcmp(status, "refuse") == 0)
        reply.status = ANVIL_REFUSE;
    else if (strcmp(status, "wait") == 0)
        reply.status = ANVIL_WAIT;
    else /* "full" or anything else: the caller's own limits decide */
        reply.status = ANVIL_UNAVAILABLE, reply.generation = 0;
    if (strcmp(status, "full") == 0 && event_now_ms() - ac->full_logged >= 60000) {
        ac->full_logged = event_now_ms(); /* at most once a minute */
        log_warn("anvil: its table is full (anvil_max_entries); using this process's own "
                 "limits meanwhile");
    }
    reply.count = get_uint(a, "count");
    reply.rate = get_uint(a, "rate");
    reply.failures = get_uint(a, "failures");
    reply.amnesic = get_yes(a, "amnesic");
    reply.delay_ms = (long)get_uint(a, "delay");
    reply.messages = get_uint(a, "messages");
    reply.recipients = get_uint(a, "recipients");
    reply.held = get_yes(a, "held");
    reply.tripped = get_yes(a, "tripped");
    if (r->fn)
        r->fn(r->ctx, &reply);
    free(r);
    return 0;
}

static void read_input(struct anvil_client *ac)
{
    char tmp[4096];
    ssize_t n = recv(ac->fd, tmp, sizeof tmp, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        disconnect(ac, n == 0 ? "connection closed" : "read error");
        return;
    }
    buf_append(&ac->in, tmp, (size_t)n);
    for (;;) {
        struct attrs a = {0};
        size_t used;
        char *err = NULL;
        int r = ipc_decode(ac->in.data, ac->in.len, &a, &used, &err);
        if (r == 0)
            break;
        if (r > 0)
            buf_consume(&ac->in, used);
        int h = r < 0 ? -1 : handle(ac, &a); /* a callback may make requests, or disconnect */
        attrs_free(&a);
        free(err);
        if (h < 0)
            disconnect(ac, "malformed or unexpected answer");
        if (ac->fd < 0)
            return;
    }
    if (ac->in.len > ANSWER_MAX_INPUT)
        disconnect(ac, "answer too long");
}

static void on_io(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    (void)loop;
    (void)fd;
    struct anvil_client *ac = ctx;
    if (events & EPOLLOUT)
        flush_out(ac);
    if (ac->fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        read_input(ac);
    if (ac->fd >= 0 && !ac->timeout_timer)
        arm_timeout(ac);
}

struct anvil_client *anvil_client_new(struct event_loop *loop, struct config *cfg,
                                      const char *spool, const char *service)
{
    struct anvil_client *ac = xcalloc(1, sizeof *ac);
    ac->loop = loop;
    snprintf(ac->path, sizeof ac->path, "%s/%s", spool, ANVIL_SOCKET);
    ac->service = xstrdup(service);
    ac->timeout_ms = (long)config_int(cfg, PARAM(anvil_timeout)) * 1000;
    ac->fd = -1;
    return ac;
}

void anvil_client_on_connect(struct anvil_client *ac, void (*fn)(void *ctx), void *ctx)
{
    ac->on_connect = fn;
    ac->on_connect_ctx = ctx;
}

void anvil_client_free(struct anvil_client *ac)
{
    if (!ac)
        return;
    disconnect(ac, NULL);
    if (ac->reconnect_timer)
        event_timer_cancel(ac->loop, ac->reconnect_timer);
    struct anvil_req *r;
    while ((r = DLIST_FIRST(&ac->failed))) {
        DLIST_REMOVE(&ac->failed, r);
        free(r);
    }
    if (ac->fail_timer)
        event_timer_cancel(ac->loop, ac->fail_timer);
    buf_free(&ac->in);
    buf_free(&ac->out);
    free(ac->service);
    free(ac);
}

struct anvil_req *anvil_connect(struct anvil_client *ac, const char *addr, anvil_fn fn, void *ctx)
{
    struct attrs a = {0};
    attrs_add(&a, "request", "connect");
    attrs_add(&a, "service", ac->service);
    attrs_add(&a, "addr", addr);
    return request(ac, &a, fn, ctx);
}

void anvil_disconnect(struct anvil_client *ac, const char *addr, unsigned generation)
{
    if (generation == 0 || generation != ac->generation || ac->fd < 0)
        return; /* counted on a connection anvil has forgotten with everything it held */
    struct attrs a = {0};
    attrs_add(&a, "request", "disconnect");
    attrs_add(&a, "service", ac->service);
    attrs_add(&a, "addr", addr);
    request(ac, &a, NULL, NULL);
}

struct anvil_req *anvil_login(struct anvil_client *ac, const char *addr, const char *user,
                              const struct login_limits *lim, anvil_fn fn, void *ctx)
{
    struct attrs a = {0};
    attrs_add(&a, "request", "login");
    attrs_add(&a, "addr", addr);
    if (user)
        attrs_add(&a, "user", user);
    attrs_addf(&a, "max_failures", "%u", lim->max_failures);
    attrs_addf(&a, "delay", "%ld", lim->delay_ms);
    attrs_addf(&a, "delay_limit", "%ld", lim->delay_limit_ms);
    return request(ac, &a, fn, ctx);
}

struct anvil_req *anvil_login_done(struct anvil_client *ac, const char *addr, const char *user,
                                   enum anvil_login_result result, unsigned generation,
                                   anvil_fn fn, void *ctx)
{
    /* A failure is worth reporting even when the reservation was made on a connection
     * anvil has since forgotten: it still counts, just without releasing anything. */
    bool reserved = generation != 0 && generation == ac->generation && ac->fd >= 0;
    if (!reserved && result != ANVIL_LOGIN_FAILED) { /* nothing to tell: answer from a timer */
        struct anvil_req *r = xcalloc(1, sizeof *r);
        r->ac = ac;
        r->fn = fn;
        r->ctx = ctx;
        fail_later(ac, r);
        return r;
    }
    struct attrs a = {0};
    attrs_add(&a, "request", "login_done");
    attrs_add(&a, "addr", addr);
    if (user)
        attrs_add(&a, "user", user);
    attrs_add(&a, "result", result == ANVIL_LOGIN_OK       ? "ok"
                            : result == ANVIL_LOGIN_FAILED ? "failed"
                                                           : "not_checked");
    attrs_add(&a, "reserved", reserved ? "yes" : "no");
    return request(ac, &a, fn, ctx);
}

struct anvil_req *anvil_send(struct anvil_client *ac, const char *user, unsigned messages,
                             unsigned recipients, const struct send_limits *lim, anvil_fn fn,
                             void *ctx)
{
    struct attrs a = {0};
    attrs_add(&a, "request", "send");
    attrs_add(&a, "user", user);
    attrs_addf(&a, "messages", "%u", messages);
    attrs_addf(&a, "recipients", "%u", recipients);
    attrs_addf(&a, "unit", "%lld", lim->unit_ms);
    attrs_addf(&a, "max_messages", "%u", lim->max_messages);
    attrs_addf(&a, "max_recipients", "%u", lim->max_recipients);
    attrs_addf(&a, "hard_messages", "%u", lim->hard_messages);
    attrs_addf(&a, "hard_recipients", "%u", lim->hard_recipients);
    attrs_addf(&a, "hold", "%lld", lim->hold_ms);
    return request(ac, &a, fn, ctx);
}

void anvil_login_seed(struct anvil_client *ac, const char *addr, unsigned failures,
                      long long age_ms)
{
    struct attrs a = {0};
    attrs_add(&a, "request", "login_seed");
    attrs_add(&a, "addr", addr);
    attrs_addf(&a, "failures", "%u", failures);
    attrs_addf(&a, "age", "%lld", age_ms);
    request(ac, &a, NULL, NULL);
}

void anvil_cancel(struct anvil_req *req)
{
    if (req)
        req->fn = NULL;
}
