/* agent.c - qmgr's connections to private/smtp: the deliver protocol of doc/ipc.md from
 * the agent's side, non-blocking on the event loop so one process serves many requests.
 *
 * On accept the peer is checked (SO_PEERCRED: root, mail_owner or our own user) and the
 * announcement protocol=deliver version=1 sent. A request arrives with the queue file's
 * descriptor (SCM_RIGHTS, exactly one, lib/io/fdpass.h); it is checked strictly
 * (lib/global/deliver_request.h) and becomes a delivery; its reply is written when the
 * delivery ends. One request at a time per connection: input while a request runs, a
 * malformed request or a wrong number of descriptors closes the connection (qmgr then
 * defers). qmgr closing the connection while a delivery runs leaves the delivery to finish
 * and its result unanswered (qmgr has deferred those recipients). Idle connections close
 * after a minute. */
#include "smtpc.h"
#include "fdpass.h"
#include "log.h"
#include "mem.h"
#include "peercred.h"
#include "privs.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define AGENT_IDLE_MS 60000

struct agent {
    struct smtpc *sc;
    struct agent *prev, *next;
    int fd;
    struct buf in, out;
    int passed_fd;
    bool extra_fd;
    bool writing;
    struct delivery *d; /* the request being served */
    long long last_ms;
};

static void agent_close(struct agent *a)
{
    struct smtpc *sc = a->sc;
    if (a->d)
        delivery_agent_gone(a->d);
    event_del(sc->srv->loop, a->fd);
    close(a->fd);
    if (a->passed_fd >= 0)
        close(a->passed_fd);
    buf_free(&a->in);
    buf_free(&a->out);
    DLIST_REMOVE(&sc->agents, a);
    sc->nagents--;
    free(a);
}

/* Write what the socket takes; false when the connection is broken (closed by then). */
static bool flush_out(struct agent *a)
{
    while (a->out.len > 0) {
        ssize_t n = send(a->fd, a->out.data, a->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            agent_close(a);
            return false;
        }
        buf_consume(&a->out, (size_t)n);
    }
    bool want_out = a->out.len > 0;
    if (want_out != a->writing) {
        a->writing = want_out;
        event_mod(a->sc->srv->loop, a->fd, EPOLLIN | (want_out ? EPOLLOUT : 0));
    }
    return true;
}

static void send_attrs(struct agent *a, const struct attrs *m)
{
    ipc_encode(&a->out, m);
    flush_out(a);
}

void agent_bind(struct agent *a, struct delivery *d) { a->d = d; }

void agent_delivery_done(struct agent *a, struct attrs *reply)
{
    a->d = NULL;
    a->last_ms = event_now_ms();
    send_attrs(a, reply);
}

/* One complete request in attrs: false when the connection was closed. */
static bool handle_request(struct agent *a, struct attrs *attrs)
{
    const char *why = fdpass_check_one(a->passed_fd, a->extra_fd);
    char *err = NULL;
    if (why) {
        log_warn("delivery request: %s", why);
        agent_close(a);
        return false;
    }
    int qfd = a->passed_fd;
    a->passed_fd = -1;
    a->extra_fd = false;
    if (delivery_start(a->sc, a, attrs, qfd, &err) < 0) {
        log_warn("delivery request: %s", err);
        free(err);
        agent_close(a);
        return false;
    }
    return true;
}

static void on_agent(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct agent *a = ctx;
    if ((events & EPOLLOUT) && !flush_out(a))
        return;
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    char tmp[4096];
    ssize_t n = fdpass_recv(fd, tmp, sizeof tmp, MSG_DONTWAIT, &a->passed_fd, &a->extra_fd);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0 || a->d) { /* closed, broken, or input while a request runs */
        if (n > 0)
            log_warn("delivery request: input while a request is running");
        agent_close(a);
        return;
    }
    buf_append(&a->in, tmp, (size_t)n);
    a->last_ms = event_now_ms();
    struct attrs req = {0};
    size_t used;
    char *err = NULL;
    int r = ipc_decode(a->in.data, a->in.len, &req, &used, &err);
    if (r < 0) {
        log_warn("delivery request: %s", err);
        free(err);
        agent_close(a);
        return;
    }
    if (r == 0)
        return;
    buf_consume(&a->in, used);
    if (a->in.len > 0) { /* a second request before the first was answered */
        log_warn("delivery request: more input after the request");
        attrs_free(&req);
        agent_close(a);
        return;
    }
    handle_request(a, &req);
    attrs_free(&req);
}

static bool peer_ok(struct smtpc *sc, int fd)
{
    struct peercred cred;
    uid_t owner;
    gid_t gid;
    char *err = NULL;
    size_t n = 0;
    if (peercred_get(fd, &cred) < 0) {
        log_warn("SO_PEERCRED: %m");
        return false;
    }
    if (privs_lookup(config_str(sc->srv->cfg, PARAM(mail_owner)), &owner, &gid, &err) == 0)
        n = 1;
    free(err);
    if (peercred_uid_trusted(cred.uid, &owner, n))
        return true;
    log_warn("refusing a delivery connection from uid %u (pid %d)", (unsigned)cred.uid,
             (int)cred.pid);
    return false;
}

void agent_accept(struct smtpc *sc, int fd)
{
    if (!peer_ok(sc, fd)) {
        close(fd);
        return;
    }
    struct agent *a = xcalloc(1, sizeof *a);
    a->sc = sc;
    a->fd = fd;
    a->passed_fd = -1;
    a->last_ms = event_now_ms();
    if (event_add(sc->srv->loop, fd, EPOLLIN, on_agent, a) < 0) {
        log_warn("delivery connection: event_add: %m");
        close(fd);
        free(a);
        return;
    }
    DLIST_INSERT_TAIL(&sc->agents, a);
    sc->nagents++;
    struct attrs hello = {0};
    attrs_add(&hello, "protocol", "deliver");
    attrs_add(&hello, "version", IPC_VERSION);
    send_attrs(a, &hello);
    attrs_free(&hello);
}

void agent_tick(struct smtpc *sc)
{
    long long now = event_now_ms();
    struct agent *a, *next;
    DLIST_FOREACH_SAFE(a, &sc->agents, next) {
        if (!a->d && now - a->last_ms > AGENT_IDLE_MS)
            agent_close(a);
    }
}
