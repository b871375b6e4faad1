/* clients.c - showq's connections: announce, read one request, stream the listing while the
 * client keeps reading, send the end record and close (showqd.h). A malformed request, a
 * client that goes away, or one that makes no progress for showq_timeout closes the
 * connection. Queue files that cannot be read are logged and left out, as Postfix's showq
 * does. */
#include "showqd.h"
#include "buf.h"
#include "event.h"
#include "log.h"
#include "mem.h"
#include "queue_listing.h"
#include "showq_proto.h"
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct showq_conn {
    struct showq_conn *prev, *next;
    struct showqd *sq;
    int fd;
    struct buf in, out;
    struct qlist *scan; /* NULL until the request arrived */
    bool ending;        /* the end record is queued: close once it is sent */
    long long last_ms;  /* when the client last sent or took something */
};

static void conn_close(struct showq_conn *c)
{
    struct showqd *sq = c->sq;
    event_del(sq->srv->loop, c->fd);
    close(c->fd);
    buf_free(&c->in);
    buf_free(&c->out);
    qlist_close(c->scan);
    DLIST_REMOVE(&sq->clients, c);
    sq->nclients--;
    free(c);
}

/* Queue more of the listing, up to SHOWQ_HIGH_WATER, reading at most SHOWQ_FILES_PER_TURN
 * queue files so that other clients get their turn (the socket stays writable, so the loop
 * calls again at once). */
static void produce(struct showq_conn *c)
{
    for (int files = 0; !c->ending && c->out.len < SHOWQ_HIGH_WATER && files < SHOWQ_FILES_PER_TURN;
         files++) {
        const struct qlist_msg *m = NULL;
        char *err = NULL;
        switch (qlist_next(c->scan, &m, &err)) {
        case QLIST_MSG:
            if (m->warning)
                log_warn("%s: %s", m->id, m->warning);
            showq_encode_msg(&c->out, m);
            break;
        case QLIST_SKIPPED:
            log_warn("%s", err);
            break;
        case QLIST_END:
            showq_encode_end(&c->out, NULL);
            c->ending = true;
            break;
        case QLIST_FAILED:
            log_warn("%s", err);
            showq_encode_end(&c->out, err);
            c->ending = true;
            break;
        }
        free(err);
    }
    c->last_ms = event_now_ms(); /* reading the queue is progress too (files left out) */
}

/* Send what the socket takes. 0, or -1 when the connection is gone (closed and freed). */
static int flush(struct showq_conn *c)
{
    while (c->out.len > 0) {
        ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n <= 0) {
            conn_close(c); /* the client went away: nothing to report */
            return -1;
        }
        buf_consume(&c->out, (size_t)n);
        c->last_ms = event_now_ms();
    }
    if (c->ending) {
        conn_close(c);
        return -1;
    }
    return 0;
}

/* Before the request: read it (and write the announcement if the socket was full). After:
 * only write. */
static void update_events(struct showq_conn *c)
{
    uint32_t ev = c->scan ? EPOLLOUT : EPOLLIN | (c->out.len ? EPOLLOUT : 0);
    event_mod(c->sq->srv->loop, c->fd, ev);
}

/* The request, once complete: 1 started, 0 more bytes needed, -1 refused (logged). */
static int take_request(struct showq_conn *c)
{
    struct attrs req = {0};
    size_t used;
    char *err = NULL;
    const char *const *queues;
    int r = ipc_decode(c->in.data, c->in.len, &req, &used, &err);
    if (r == 1 && (used != c->in.len || showq_parse_request(&req, &queues, &err) < 0))
        r = -1;
    if (r < 0)
        log_warn("showq client: %s: closing the connection", err ? err : "data after the request");
    attrs_free(&req);
    free(err);
    if (r == 1) {
        c->scan = qlist_open(c->sq->srv->spool, queues);
        buf_free(&c->in);
        update_events(c);
    }
    return r;
}

static void on_request_input(struct showq_conn *c)
{
    char tmp[1024];
    ssize_t n = recv(c->fd, tmp, sizeof tmp, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        conn_close(c);
        return;
    }
    c->last_ms = event_now_ms();
    buf_append(&c->in, tmp, (size_t)n);
    int r = take_request(c);
    if (r < 0 || (r == 0 && c->in.len > SHOWQ_REQUEST_MAX)) {
        if (r == 0)
            log_warn("showq client: request longer than %d bytes: closing the connection",
                     SHOWQ_REQUEST_MAX);
        conn_close(c);
        return;
    }
    if (r == 1) {
        produce(c);
        flush(c);
    }
}

static void on_conn(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    (void)loop, (void)fd;
    struct showq_conn *c = ctx;
    if ((events & EPOLLOUT) && flush(c) < 0)
        return;
    if (!c->scan) {
        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            on_request_input(c);
        else
            update_events(c);
        return;
    }
    if (events & (EPOLLHUP | EPOLLERR)) {
        conn_close(c);
        return;
    }
    if (c->out.len == 0) { /* everything taken: the next part */
        produce(c);
        flush(c);
    }
}

void showq_accept(struct showqd *sq, int fd)
{
    if (sq->nclients >= sq->client_limit) {
        log_warn("showq_client_limit %u reached: refusing a connection", sq->client_limit);
        close(fd);
        return;
    }
    struct showq_conn *c = xcalloc(1, sizeof *c);
    c->sq = sq;
    c->fd = fd;
    c->last_ms = event_now_ms();
    if (event_add(sq->srv->loop, fd, EPOLLIN, on_conn, c) < 0) {
        log_warn("showq: event_add: %m");
        close(fd);
        free(c);
        return;
    }
    DLIST_INSERT_TAIL(&sq->clients, c);
    sq->nclients++;
    struct attrs a = {0};
    attrs_add(&a, "protocol", SHOWQ_PROTOCOL);
    attrs_add(&a, "version", IPC_VERSION);
    ipc_encode(&c->out, &a);
    attrs_free(&a);
    if (flush(c) == 0 && c->out.len)
        update_events(c);
}

void showq_expire(struct showqd *sq)
{
    long long now = event_now_ms();
    for (struct showq_conn *c = DLIST_FIRST(&sq->clients), *next; c; c = next) {
        next = c->next;
        if (now - c->last_ms > sq->timeout_ms) {
            log_warn("showq client: no progress for %llds: closing the connection",
                     sq->timeout_ms / 1000);
            conn_close(c);
        }
    }
}
