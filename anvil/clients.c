/* clients.c - the daemons' connections to SPOOL/private/anvil (doc/ipc.md, "anvil"). anvil
 * announces protocol=anvil version=1 and answers each request in order. A malformed request
 * closes the connection, and closing releases every count the connection held. A client that
 * does not read its answers is dropped once ANSWER_MAX_OUTPUT bytes wait. Event loop only. */
#include "anvil.h"
#include "buf.h"
#include "event.h"
#include "log.h"
#include "mem.h"
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQUEST_MAX_INPUT 65536      /* a request is a few hundred bytes */
#define ANSWER_MAX_OUTPUT (1 << 20)

struct anvil_conn {
    struct anvil_conn *prev, *next;
    struct anvil *av;
    unsigned id;
    int fd;
    struct buf in, out;
};

static void conn_close(struct anvil_conn *c)
{
    struct anvil *av = c->av;
    table_drop_client(av->table, c->id);
    event_del(av->srv->loop, c->fd);
    close(c->fd);
    buf_free(&c->in);
    buf_free(&c->out);
    DLIST_REMOVE(&av->clients, c);
    av->nclients--;
    free(c);
}

/* 0, or -1 when the connection is gone (closed and freed). */
static int flush(struct anvil_conn *c)
{
    while (c->out.len > 0) {
        ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            conn_close(c);
            return -1;
        }
        buf_consume(&c->out, (size_t)n);
    }
    if (c->out.len > ANSWER_MAX_OUTPUT) {
        log_warn("anvil client %u does not read its answers: dropped", c->id);
        conn_close(c);
        return -1;
    }
    event_mod(c->av->srv->loop, c->fd, c->out.len ? EPOLLIN | EPOLLOUT : EPOLLIN);
    return 0;
}

static void send_attrs(struct anvil_conn *c, struct attrs *a)
{
    ipc_encode(&c->out, a);
    attrs_free(a);
}

/* Answer every complete request buffered; -1 when the connection must close. */
static int serve(struct anvil_conn *c)
{
    for (;;) {
        struct attrs req = {0}, reply = {0};
        size_t used;
        char *err = NULL;
        int r = ipc_decode(c->in.data, c->in.len, &req, &used, &err);
        if (r == 0)
            return 0;
        if (r < 0 || anvil_request(c->av, c->id, &req, &reply) < 0) {
            const char *what = attrs_get(&req, "request");
            log_warn("anvil client %u: %s: closing the connection", c->id,
                     err ? err : what ? what : "request without a name");
            free(err);
            attrs_free(&req);
            attrs_free(&reply);
            return -1;
        }
        attrs_free(&req);
        buf_consume(&c->in, used);
        send_attrs(c, &reply);
    }
}

static void on_conn(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    (void)loop;
    struct anvil_conn *c = ctx;
    if ((events & EPOLLOUT) && flush(c) < 0)
        return;
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    char tmp[4096];
    ssize_t n = recv(fd, tmp, sizeof tmp, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        conn_close(c);
        return;
    }
    buf_append(&c->in, tmp, (size_t)n);
    if (serve(c) < 0 || c->in.len > REQUEST_MAX_INPUT) {
        conn_close(c);
        return;
    }
    flush(c);
}

void clients_accept(struct anvil *av, int fd)
{
    if (av->nclients >= av->client_limit) {
        log_warn("anvil_client_limit %u reached: refusing a connection", av->client_limit);
        close(fd);
        return;
    }
    struct anvil_conn *c = xcalloc(1, sizeof *c);
    c->av = av;
    c->fd = fd;
    c->id = ++av->next_client;
    if (c->id == 0)
        c->id = ++av->next_client;
    if (event_add(av->srv->loop, fd, EPOLLIN, on_conn, c) < 0) {
        log_warn("anvil: event_add: %m");
        close(fd);
        free(c);
        return;
    }
    DLIST_INSERT_TAIL(&av->clients, c);
    av->nclients++;
    struct attrs a = {0};
    attrs_add(&a, "protocol", "anvil");
    attrs_add(&a, "version", IPC_VERSION);
    send_attrs(c, &a);
    flush(c);
}
