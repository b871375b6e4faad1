/* login_handoff.c - the descriptor handoff between login and post-login processes (see
 * login_handoff.h). */
#include "login_handoff.h"
#include "fdpass.h"
#include "mem.h"
#include "peercred.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

bool handoff_fd_id(int fd, char *out, size_t outsize)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return false;
    snprintf(out, outsize, "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    return true;
}

/* Read what is there into in; returns 1 progress, 0 EOF, -1 error (errno), 2 would block.
 * A received descriptor goes to *fd (lib/io/fdpass.h: more than one are closed, *extra
 * set); fd NULL means none is expected, so any is closed and counts as extra. */
static int read_some(int sock, struct buf *in, int *fd, bool *extra)
{
    char tmp[8192];
    int unwanted = -1;
    ssize_t n = fdpass_recv(sock, tmp, sizeof tmp, MSG_DONTWAIT, fd ? fd : &unwanted, extra);
    if (unwanted >= 0) {
        close(unwanted);
        *extra = true;
    }
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 2 : -1;
    if (n == 0)
        return 0;
    if (in->len + (size_t)n > IPC_MAX_MESSAGE) {
        errno = EMSGSIZE;
        return -1;
    }
    buf_append(in, tmp, (size_t)n);
    return 1;
}

/* ================= login side ================= */

struct handoff {
    struct event_loop *loop;
    int sock;
    int fd; /* to pass; not ours */
    struct buf out; /* the encoded request */
    size_t sent;
    struct buf in;
    bool announced;
    unsigned long timer;
    handoff_fn fn;
    void *ctx;
    char *early_err; /* a failure found before the loop ran */
};

static void handoff_free(struct handoff *h)
{
    if (h->timer)
        event_timer_cancel(h->loop, h->timer);
    if (h->sock >= 0) {
        event_del(h->loop, h->sock);
        close(h->sock);
    }
    buf_free(&h->out);
    buf_free(&h->in);
    free(h->early_err);
    free(h);
}

static void finish(struct handoff *h, bool ok, const char *err)
{
    handoff_fn fn = h->fn;
    void *ctx = h->ctx;
    char *copy = err ? xstrdup(err) : NULL;
    handoff_free(h);
    fn(ctx, ok, copy);
    free(copy);
}

static void on_timeout(struct event_loop *loop, void *ctx)
{
    struct handoff *h = ctx;
    h->timer = 0;
    finish(h, false, h->early_err ? h->early_err : "timed out");
}

/* Send the rest of the request; the descriptor goes with the first byte. */
static int send_request(struct handoff *h)
{
    while (h->sent < h->out.len) {
        /* The descriptor goes with the first byte. */
        ssize_t n = fdpass_send(h->sock, h->out.data + h->sent, h->out.len - h->sent,
                                h->sent == 0 ? h->fd : -1, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return event_mod(h->loop, h->sock, EPOLLIN | EPOLLOUT) < 0 ? -1 : 0;
        if (n < 0)
            return -1;
        h->sent += (size_t)n;
    }
    return event_mod(h->loop, h->sock, EPOLLIN);
}

/* 1 finished (h freed), 0 one message handled, -1 incomplete: wait for more. */
static int take_message(struct handoff *h)
{
    struct attrs a = {0};
    size_t used;
    char *err = NULL;
    int r = ipc_decode(h->in.data, h->in.len, &a, &used, &err);
    if (r == 0)
        return -1;
    if (r < 0) {
        char *why = xasprintf("bad message from the post-login service: %s", err);
        free(err);
        finish(h, false, why);
        free(why);
        return 1;
    }
    buf_consume(&h->in, used);
    int done = 0;
    if (!h->announced) {
        const char *p = attrs_get(&a, "protocol"), *v = attrs_get(&a, "version");
        if (!p || strcmp(p, HANDOFF_PROTOCOL) != 0 || !v || strcmp(v, IPC_VERSION) != 0) {
            finish(h, false, "the post-login service speaks another protocol");
            done = 1;
        } else {
            h->announced = true;
            if (send_request(h) < 0) {
                finish(h, false, strerror(errno));
                done = 1;
            }
        }
    } else {
        const char *st = attrs_get(&a, "status"), *reason = attrs_get(&a, "reason");
        bool ok = st && strcmp(st, "ok") == 0;
        finish(h, ok, ok ? NULL : reason ? reason : "refused by the post-login service");
        done = 1;
    }
    attrs_free(&a);
    return done;
}

static void on_client_event(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct handoff *h = ctx;
    if ((events & EPOLLOUT) && h->announced && h->sent < h->out.len && send_request(h) < 0) {
        finish(h, false, strerror(errno));
        return;
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    bool extra = false;
    int r = read_some(h->sock, &h->in, NULL, &extra);
    if (r == 2)
        return;
    if (r <= 0) {
        finish(h, false, r == 0 ? "the post-login service closed the connection" : strerror(errno));
        return;
    }
    while (h->in.len > 0)
        if (take_message(h) != 0)
            return;
}

struct handoff *handoff_start(struct event_loop *loop, const char *path, const struct attrs *req,
                              int fd, long timeout_ms, handoff_fn fn, void *ctx)
{
    struct handoff *h = xcalloc(1, sizeof *h);
    h->loop = loop;
    h->fd = fd;
    h->fn = fn;
    h->ctx = ctx;
    h->sock = -1;
    char id[64];
    struct attrs full = {0};
    for (size_t i = 0; i < req->n; i++)
        attrs_add(&full, req->v[i].name, req->v[i].value);
    if (handoff_fd_id(fd, id, sizeof id))
        attrs_add(&full, "fd_id", id);
    ipc_encode(&h->out, &full);
    attrs_free(&full);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path) {
        h->early_err = xasprintf("%s: path too long", path);
    } else {
        strcpy(sun.sun_path, path);
        h->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (h->sock < 0 || connect(h->sock, (struct sockaddr *)&sun, sizeof sun) < 0 ||
            event_add(loop, h->sock, EPOLLIN, on_client_event, h) < 0) {
            h->early_err = xasprintf("connect %s: %s", path, strerror(errno));
            if (h->sock >= 0)
                close(h->sock);
            h->sock = -1;
        }
    }
    h->timer = event_timer(loop, h->early_err ? 0 : timeout_ms, on_timeout, h);
    return h;
}

void handoff_cancel(struct handoff *h)
{
    if (h)
        handoff_free(h);
}

/* ================= post-login side ================= */

struct handoff_in {
    struct event_loop *loop;
    int sock;
    pid_t peer_pid;
    struct buf in;
    int client_fd; /* the descriptor that came with the request, or -1 */
    bool extra;
    unsigned long timer;
    handoff_in_fn fn;
    void *ctx;
};

static void in_free(struct handoff_in *h)
{
    if (h->timer)
        event_timer_cancel(h->loop, h->timer);
    event_del(h->loop, h->sock);
    close(h->sock);
    if (h->client_fd >= 0)
        close(h->client_fd);
    buf_free(&h->in);
    free(h);
}

static void send_attrs(int sock, const struct attrs *a)
{
    struct buf b = BUF_INIT;
    ipc_encode(&b, a);
    /* A few dozen bytes on a fresh local socket: the buffer has room; a failure only
     * means the peer is gone. */
    if (send(sock, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
    }
    buf_free(&b);
}

void handoff_in_finish(struct handoff_in *h, bool ok, const char *reason)
{
    struct attrs a = {0};
    attrs_add(&a, "status", ok ? "ok" : "fail");
    if (!ok && reason)
        attrs_add(&a, "reason", reason);
    send_attrs(h->sock, &a);
    attrs_free(&a);
    in_free(h);
}

static void in_fail(struct handoff_in *h, const char *why)
{
    handoff_in_fn fn = h->fn;
    void *ctx = h->ctx;
    char *copy = xstrdup(why);
    handoff_in_finish(h, false, why);
    fn(ctx, NULL, NULL, -1, copy);
    free(copy);
}

static void on_in_timeout(struct event_loop *loop, void *ctx)
{
    struct handoff_in *h = ctx;
    h->timer = 0;
    in_fail(h, "timed out waiting for the login request");
}

/* The descriptor is the one announced and its peer is the client or the sender. NULL or
 * what is wrong. */
static const char *check_fd(struct handoff_in *h, const struct attrs *req, int fd)
{
    char id[64];
    struct stat st;
    const char *want = attrs_get(req, "fd_id");
    if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
        return "the passed descriptor is not a socket";
    if (!want || !handoff_fd_id(fd, id, sizeof id) || strcmp(id, want) != 0)
        return "the passed descriptor is not the announced one";
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
        return "the passed socket is not connected";
    if (ss.ss_family == AF_UNIX) {
        struct peercred cred;
        if (peercred_get(fd, &cred) < 0 || cred.pid != h->peer_pid)
            return "the passed socket does not lead back to the login process";
        return NULL;
    }
    char addr[INET6_ADDRSTRLEN] = "";
    int port = 0;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof addr);
        port = ntohs(sin->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
            inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], addr, sizeof addr);
        else
            inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof addr);
        port = ntohs(s6->sin6_port);
    }
    const char *rip = attrs_get(req, "rip"), *rport = attrs_get(req, "rport");
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    if (!rip || !rport || strcmp(rip, addr) != 0 || strcmp(rport, portstr) != 0)
        return "the passed socket's peer is not the announced client";
    return NULL;
}

static void on_in_event(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct handoff_in *h = ctx;
    int r = read_some(h->sock, &h->in, &h->client_fd, &h->extra);
    if (r == 2)
        return;
    if (r <= 0) {
        in_fail(h, r == 0 ? "the login process closed the connection" : strerror(errno));
        return;
    }
    struct attrs a = {0};
    size_t used;
    char *err = NULL;
    int d = ipc_decode(h->in.data, h->in.len, &a, &used, &err);
    if (d == 0)
        return;
    const char *why = d < 0 ? "malformed login request"
                    : h->extra || used != h->in.len ? "more than one descriptor or message"
                    : h->client_fd < 0 ? "no descriptor came with the login request"
                    : !attrs_get(&a, "request") || strcmp(attrs_get(&a, "request"), "login") != 0
                        ? "not a login request"
                        : check_fd(h, &a, h->client_fd);
    free(err);
    if (why) {
        attrs_free(&a);
        in_fail(h, why);
        return;
    }
    int client = h->client_fd;
    h->client_fd = -1;
    h->fn(h->ctx, h, &a, client, NULL); /* answers with handoff_in_finish() */
    attrs_free(&a);
}

struct handoff_in *handoff_in_start(struct event_loop *loop, int fd, uid_t allowed_uid,
                                    long timeout_ms, handoff_in_fn fn, void *ctx)
{
    struct handoff_in *h = xcalloc(1, sizeof *h);
    h->loop = loop;
    h->sock = fd;
    h->client_fd = -1;
    h->fn = fn;
    h->ctx = ctx;
    struct peercred cred;
    const char *why = NULL;
    if (peercred_get(fd, &cred) < 0)
        why = "SO_PEERCRED failed";
    else if (!peercred_uid_trusted(cred.uid, &allowed_uid, 1))
        why = "the peer runs as a user that may not hand over logins";
    else if (event_add(loop, fd, EPOLLIN, on_in_event, h) < 0)
        why = "epoll failed";
    if (why) {
        close(fd);
        free(h);
        fn(ctx, NULL, NULL, -1, why);
        return NULL;
    }
    h->peer_pid = cred.pid;
    struct attrs a = {0};
    attrs_add(&a, "protocol", HANDOFF_PROTOCOL);
    attrs_add(&a, "version", IPC_VERSION);
    send_attrs(fd, &a);
    attrs_free(&a);
    h->timer = event_timer(loop, timeout_ms, on_in_timeout, h);
    return h;
}

bool handoff_session_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 23)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9')))
            return false;
    return true;
}
