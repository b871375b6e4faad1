/* listen.c - clients of SPOOL/private/qmgr (doc/ipc.md). qmgr announces protocol=qmgr
 * version=1, then reads requests: request=wakeup (scan incoming/ soon; no answer, the
 * client usually has closed already) and request=flush (all deferred mail due now; answer
 * status=ok). Anything else is answered status=error and the connection closed. Sockets
 * are non-blocking; answers are a few bytes, so a client that does not read them is
 * simply dropped. Event loop only. */
#include "qmgr.h"
#include "ipc.h"
#include "log.h"
#include "mem.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CLIENTS 256
#define CLIENT_IDLE_MS 60000
#define CLIENT_MAX_INPUT 4096

struct qclient {
    struct qmgr *q;
    struct qclient *prev, *next;
    int fd;
    struct buf in;
    long long last_ms;
};

static void client_close(struct qclient *c)
{
    struct qmgr *q = c->q;
    event_del(q->srv->loop, c->fd);
    close(c->fd);
    buf_free(&c->in);
    DLIST_REMOVE(&q->clients, c);
    q->nclients--;
    free(c);
}

/* Best effort: the peer may be gone (wakeups do not wait for anything). */
static void client_send(struct qclient *c, const struct attrs *a)
{
    struct buf out = BUF_INIT;
    ipc_encode(&out, a);
    if (send(c->fd, out.data, out.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EPIPE &&
        errno != ECONNRESET)
        log_debug("qmgr client: send: %m");
    buf_free(&out);
}

static void reply(struct qclient *c, const char *status, const char *reason)
{
    struct attrs a = {0};
    attrs_add(&a, "status", status);
    if (reason)
        attrs_add(&a, "reason", reason);
    client_send(c, &a);
    attrs_free(&a);
}

/* 0 to go on, -1 to close the connection. */
static int handle(struct qclient *c, const struct attrs *a)
{
    const char *req = attrs_get(a, "request");
    if (req && strcmp(req, "wakeup") == 0 && a->n == 1) {
        scan_incoming_soon(c->q);
        return 0;
    }
    if (req && strcmp(req, "flush") == 0 && a->n == 1) {
        if (scan_flush(c->q) < 0) {
            reply(c, "error", "cannot list the deferred queue");
            return -1;
        }
        reply(c, "ok", NULL);
        return 0;
    }
    log_warn("qmgr client: unknown request %s", req ? req : "(none)");
    reply(c, "error", "unknown request");
    return -1;
}

static void on_client(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct qclient *c = ctx;
    char tmp[1024];
    ssize_t n = recv(fd, tmp, sizeof tmp, MSG_DONTWAIT);
    bool eof = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
    if (n > 0) {
        buf_append(&c->in, tmp, (size_t)n);
        c->last_ms = event_now_ms();
    }
    for (;;) {
        struct attrs a = {0};
        size_t used;
        char *err = NULL;
        int r = ipc_decode(c->in.data ? c->in.data : "", c->in.len, &a, &used, &err);
        if (r < 0) {
            log_warn("qmgr client: %s", err);
            free(err);
            client_close(c);
            return;
        }
        if (r == 0)
            break;
        buf_consume(&c->in, used);
        int h = handle(c, &a);
        attrs_free(&a);
        if (h < 0) {
            client_close(c);
            return;
        }
    }
    if (eof || c->in.len > CLIENT_MAX_INPUT)
        client_close(c);
}

void listen_accept(struct qmgr *q, int fd)
{
    if (q->nclients >= MAX_CLIENTS) {
        /* Too many idle clients: a wakeup is lossy anyway; scan and drop this one. */
        scan_incoming_soon(q);
        close(fd);
        return;
    }
    struct qclient *c = xcalloc(1, sizeof *c);
    c->q = q;
    c->fd = fd;
    c->last_ms = event_now_ms();
    if (event_add(q->srv->loop, fd, EPOLLIN, on_client, c) < 0) {
        log_warn("qmgr client: event_add: %m");
        close(fd);
        free(c);
        return;
    }
    DLIST_INSERT_HEAD(&q->clients, c);
    q->nclients++;
    struct attrs a = {0};
    attrs_add(&a, "protocol", "qmgr");
    attrs_add(&a, "version", IPC_VERSION);
    client_send(c, &a);
    attrs_free(&a);
}

void listen_tick(struct qmgr *q)
{
    long long now = event_now_ms();
    struct qclient *c, *next;
    DLIST_FOREACH_SAFE(c, &q->clients, next) {
        if (now - c->last_ms > CLIENT_IDLE_MS)
            client_close(c);
    }
}
