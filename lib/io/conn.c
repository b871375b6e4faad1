/* conn.c - non-blocking connection with optional TLS, accepted or connected (see conn.h). */
#include "conn.h"
#include "mem.h"
#include "tls.h"
#include "zstream.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK 16384
#define WRITE_CHUNK 16384
#define OUT_HIGH (256 * 1024) /* stop reading while this much output is unsent */
#define KEEP_CAP 4096         /* release larger idle buffers */
#define READS_PER_EVENT 8     /* fairness between connections */

enum conn_state {
    C_PLAIN,
    C_TLS_PENDING, /* STARTTLS accepted: flushing the plaintext reply */
    C_HANDSHAKE,
    C_TLS,
};

struct conn {
    struct event_loop *loop;
    int fd;
    SSL *ssl;
    enum conn_state state;
    const struct conn_ops *ops;
    void *ctx;
    struct buf in, out;
    size_t in_limit;
    bool reading, eof, failed, error_reported, skipping;
    bool read_wants_write, write_wants_read, hs_wants_write;
    bool hup;      /* the peer closed both directions; unread input may remain */
    bool unwatched; /* removed from epoll while hup and not reading (HUP is level-triggered) */
    int depth;  /* > 0 while inside a callback from the loop */
    bool dead;  /* conn_free was called inside a callback */
    unsigned long kick_timer;
    uint32_t mask;
    char *fail_reason;
    char addr[INET6_ADDRSTRLEN];
    int port;
    /* COMPRESS (conn_compress_start): zin holds received bytes not yet inflated into in,
     * zout the compressed bytes not yet written; out then holds what is still to compress. */
    struct zstream *z;
    struct buf zin, zout;
};

static void on_event(struct event_loop *loop, int fd, uint32_t events, void *ctx);

static void peer_lookup(struct conn *c)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    snprintf(c->addr, sizeof c->addr, "unknown");
    if (getpeername(c->fd, (struct sockaddr *)&ss, &len) < 0)
        return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &sin->sin_addr, c->addr, sizeof c->addr);
        c->port = ntohs(sin->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
            inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], c->addr, sizeof c->addr);
        else
            inet_ntop(AF_INET6, &s6->sin6_addr, c->addr, sizeof c->addr);
        c->port = ntohs(s6->sin6_port);
    }
}

struct conn *conn_new(struct event_loop *loop, int fd, size_t in_limit,
                      const struct conn_ops *ops, void *ctx)
{
    struct conn *c = xcalloc(1, sizeof *c);
    c->loop = loop;
    c->fd = fd;
    c->ops = ops;
    c->ctx = ctx;
    c->in_limit = in_limit < 1024 ? 1024 : in_limit;
    c->reading = true;
    c->mask = EPOLLIN;
    peer_lookup(c);
    if (event_add(loop, fd, c->mask, on_event, c) < 0) {
        c->failed = true;
        c->fail_reason = xasprintf("epoll: %s", strerror(errno));
    }
    return c;
}

static void destroy(struct conn *c)
{
    if (c->kick_timer)
        event_timer_cancel(c->loop, c->kick_timer);
    if (!c->unwatched)
        event_del(c->loop, c->fd);
    if (c->ssl) {
        if (c->state == C_TLS && !c->failed)
            tls_shutdown(c->ssl);
        tls_session_free(c->ssl);
    }
    close(c->fd);
    buf_free(&c->in);
    buf_free(&c->out);
    zstream_free(c->z);
    buf_free(&c->zin);
    buf_free(&c->zout);
    free(c->fail_reason);
    free(c);
}

void conn_free(struct conn *c)
{
    if (!c || c->dead)
        return;
    if (c->depth > 0) {
        c->dead = true;
        return;
    }
    destroy(c);
}

void conn_set_owner(struct conn *c, const struct conn_ops *ops, void *ctx)
{
    c->ops = ops;
    c->ctx = ctx;
}

const char *conn_peer_addr(const struct conn *c) { return c->addr; }
int conn_peer_port(const struct conn *c) { return c->port; }
int conn_fd(const struct conn *c) { return c->fd; }
bool conn_eof(const struct conn *c) { return c->eof; }
bool conn_tls_active(const struct conn *c) { return c->state == C_TLS; }
SSL *conn_ssl(const struct conn *c) { return c->state == C_TLS ? c->ssl : NULL; }
size_t conn_out_pending(const struct conn *c) { return c->out.len + c->zout.len; }

static void fail(struct conn *c, char *reason)
{
    if (c->failed) {
        free(reason);
        return;
    }
    c->failed = true;
    c->fail_reason = reason;
}

static bool want_read(const struct conn *c)
{
    /* Compressed input still waiting for room in `in` is read first. */
    return c->reading && !c->eof && !c->failed && c->in.len < c->in_limit && c->zin.len == 0 &&
           conn_out_pending(c) < OUT_HIGH && (c->state == C_PLAIN || c->state == C_TLS);
}

static void update_mask(struct conn *c)
{
    if (c->dead || c->failed || c->unwatched)
        return;
    if (c->hup && !want_read(c) && c->state != C_HANDSHAKE) {
        /* Nothing to wait for any more but the owner's resume (conn_set_reading). */
        event_del(c->loop, c->fd);
        c->unwatched = true;
        return;
    }
    uint32_t m = 0;
    if (c->state == C_HANDSHAKE) {
        m = c->hs_wants_write ? EPOLLOUT : EPOLLIN;
    } else {
        if (want_read(c) || c->write_wants_read)
            m |= EPOLLIN;
        if (conn_out_pending(c) > 0 || c->read_wants_write)
            m |= EPOLLOUT;
    }
    if (m != c->mask && event_mod(c->loop, c->fd, m) == 0)
        c->mask = m;
}

static void on_kick(struct event_loop *loop, void *ctx)
{
    struct conn *c = ctx;
    c->kick_timer = 0;
    on_event(loop, c->fd, EPOLLIN | EPOLLOUT, c);
}

/* Run the I/O step from the loop soon (never re-enter the owner from its own call). */
static void kick(struct conn *c)
{
    if (!c->kick_timer && !c->dead)
        c->kick_timer = event_timer(c->loop, 0, on_kick, c);
}

static void release_if_idle(struct buf *b)
{
    if (b->len == 0 && b->cap > KEEP_CAP)
        buf_free(b);
}

/* Inflate compressed input into `in` as far as it has room. true if anything was added. */
static bool inflate_some(struct conn *c)
{
    if (!c->z || c->zin.len == 0 || c->in.len >= c->in_limit || c->failed)
        return false;
    long n = zstream_inflate(c->z, &c->zin, &c->in, c->in_limit - c->in.len);
    if (n < 0)
        fail(c, xstrdup("COMPRESS: invalid DEFLATE data from the client"));
    release_if_idle(&c->zin);
    return n > 0;
}

/* Read what is available into the input buffer. Returns true if anything changed. */
static bool read_some(struct conn *c)
{
    char tmp[READ_CHUNK];
    bool changed = inflate_some(c);
    for (int i = 0; i < READS_PER_EVENT && want_read(c); i++) {
        size_t room = c->in_limit - c->in.len, n = 0;
        if (room > sizeof tmp)
            room = sizeof tmp;
        if (c->ssl) {
            char *err = NULL;
            enum tls_io io = tls_read(c->ssl, tmp, room, &n, &err);
            if (io == TLS_IO_WANT_WRITE)
                c->read_wants_write = true;
            if (io == TLS_IO_EOF)
                c->eof = changed = true;
            if (io == TLS_IO_ERROR)
                fail(c, err);
            if (io != TLS_IO_OK)
                break;
        } else {
            ssize_t r = read(c->fd, tmp, room);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            if (r < 0) {
                fail(c, xasprintf("read: %s", strerror(errno)));
                break;
            }
            if (r == 0) {
                c->eof = changed = true;
                break;
            }
            n = (size_t)r;
        }
        if (c->z) {
            buf_append(&c->zin, tmp, n);
            inflate_some(c);
        } else
            buf_append(&c->in, tmp, n);
        changed = true;
    }
    return changed;
}

static void start_handshake(struct conn *c)
{
    c->state = C_HANDSHAKE;
    c->hs_wants_write = false;
    kick(c);
}

/* Write pending output (compressed first when COMPRESS is active: each flush ends a batch
 * of replies, so the peer can decode all of it, RFC 4978 sec 4). */
static void flush_now(struct conn *c)
{
    if (c->z && c->out.len > 0 && !c->failed) {
        if (!zstream_deflate(c->z, c->out.data, c->out.len, &c->zout))
            fail(c, xstrdup("COMPRESS: deflate failed"));
        buf_reset(&c->out);
        release_if_idle(&c->out);
    }
    struct buf *wire = c->z ? &c->zout : &c->out;
    while (wire->len > 0 && !c->failed) {
        size_t len = wire->len < WRITE_CHUNK ? wire->len : WRITE_CHUNK, n = 0;
        if (c->ssl && c->state == C_TLS) {
            char *err = NULL;
            enum tls_io io = tls_write(c->ssl, wire->data, len, &n, &err);
            if (io == TLS_IO_WANT_READ)
                c->write_wants_read = true;
            if (io == TLS_IO_EOF)
                fail(c, xstrdup("connection closed by peer"));
            if (io == TLS_IO_ERROR)
                fail(c, err);
            if (io != TLS_IO_OK)
                break;
        } else {
            ssize_t w = send(c->fd, wire->data, len, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            if (w < 0) {
                fail(c, xasprintf("write: %s", strerror(errno)));
                break;
            }
            n = (size_t)w;
        }
        buf_consume(wire, n);
    }
    release_if_idle(wire);
    if (c->out.len == 0 && c->state == C_TLS_PENDING && !c->failed)
        start_handshake(c);
}

static void handshake_step(struct conn *c)
{
    char *err = NULL;
    switch (tls_handshake(c->ssl, &err)) {
    case TLS_IO_OK:
        c->state = C_TLS;
        c->reading = true;
        c->ops->tls_ready(c, c->ctx);
        /* Records that arrived with the handshake's last flight may already be decrypted. */
        if (!c->dead && SSL_pending(c->ssl) > 0)
            kick(c);
        break;
    case TLS_IO_WANT_READ:
        c->hs_wants_write = false;
        break;
    case TLS_IO_WANT_WRITE:
        c->hs_wants_write = true;
        break;
    default:
        fail(c, err ? err : xstrdup("TLS handshake failed"));
    }
}

static void deliver_input(struct conn *c)
{
    for (int i = 0; i < READS_PER_EVENT; i++) {
        if (!read_some(c) || c->failed)
            return;
        c->ops->input(c, c->ctx);
        if (c->dead || ((!c->ssl || SSL_pending(c->ssl) == 0) && c->zin.len == 0))
            return;
    }
}

static char *socket_error(struct conn *c)
{
    int e = 0;
    socklen_t len = sizeof e;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0 || e == 0)
        return xstrdup("connection closed by peer");
    return xasprintf("connection error: %s", strerror(e));
}

static void handle(struct conn *c, uint32_t events)
{
    if ((events & EPOLLERR) && !c->failed)
        fail(c, socket_error(c));
    if (c->failed)
        return;
    if (events & EPOLLHUP) {
        /* Both directions closed; what the peer sent before is still to be read. */
        c->hup = true;
        events |= EPOLLIN;
    }
    if (c->state == C_HANDSHAKE) {
        handshake_step(c);
        return;
    }
    if ((events & EPOLLOUT) || (c->write_wants_read && (events & EPOLLIN))) {
        bool had = conn_out_pending(c) > 0;
        c->write_wants_read = false;
        flush_now(c);
        if (had && conn_out_pending(c) == 0 && !c->failed && c->ops->drained)
            c->ops->drained(c, c->ctx);
    }
    if (!c->dead && !c->failed &&
        ((events & EPOLLIN) || (c->read_wants_write && (events & EPOLLOUT)))) {
        c->read_wants_write = false;
        deliver_input(c);
    }
}

static void on_event(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct conn *c = ctx;
    c->depth++;
    handle(c, events);
    if (c->failed && !c->dead && !c->error_reported) {
        c->error_reported = true;
        c->ops->error(c, c->ctx, c->fail_reason ? c->fail_reason : "connection failed");
    }
    c->depth--;
    if (c->dead) {
        if (c->depth == 0)
            destroy(c);
        return;
    }
    if (c->failed && !c->error_reported)
        kick(c);
    update_mask(c);
}

/* --- input --- */

const char *conn_data(const struct conn *c, size_t *len)
{
    *len = c->in.len;
    return c->in.data ? c->in.data : "";
}

void conn_consume(struct conn *c, size_t n)
{
    buf_consume(&c->in, n);
    release_if_idle(&c->in);
    if (c->zin.len > 0)
        kick(c); /* compressed input waits for the room just made */
    update_mask(c);
}

enum conn_line conn_read_line(struct conn *c, size_t limit, struct buf *line, bool *bare_lf)
{
    const char *nl = c->in.len ? memchr(c->in.data, '\n', c->in.len) : NULL;
    if (c->skipping) {
        if (!nl) {
            conn_consume(c, c->in.len);
            return CONN_LINE_NONE;
        }
        c->skipping = false;
        conn_consume(c, (size_t)(nl - c->in.data) + 1);
        return CONN_LINE_TOO_LONG;
    }
    if (!nl) {
        /* limit bytes plus a CR may still be a valid line waiting for its LF. */
        if (c->in.len > limit + 1 || c->in.len >= c->in_limit) {
            c->skipping = true;
            conn_consume(c, c->in.len);
        }
        return CONN_LINE_NONE;
    }
    size_t len = (size_t)(nl - c->in.data);
    bool bare = !(len > 0 && c->in.data[len - 1] == '\r');
    size_t content = bare ? len : len - 1;
    if (content > limit) {
        conn_consume(c, len + 1);
        return CONN_LINE_TOO_LONG;
    }
    buf_reset(line);
    buf_append(line, c->in.data, content);
    *bare_lf = bare;
    conn_consume(c, len + 1);
    return CONN_LINE_OK;
}

void conn_unread(struct conn *c, const void *data, size_t len)
{
    struct buf b = BUF_INIT;
    buf_append(&b, data, len);
    if (c->in.len)
        buf_append(&b, c->in.data, c->in.len);
    buf_free(&c->in);
    c->in = b;
    update_mask(c);
}

void conn_set_reading(struct conn *c, bool on)
{
    c->reading = on;
    if (on && ((c->ssl && c->state == C_TLS && SSL_pending(c->ssl) > 0) || c->hup))
        kick(c);
    update_mask(c);
}

/* --- output --- */

void conn_write(struct conn *c, const void *data, size_t len) { buf_append(&c->out, data, len); }
void conn_puts(struct conn *c, const char *s) { buf_puts(&c->out, s); }

void conn_printf(struct conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&c->out, fmt, ap);
    va_end(ap);
}

bool conn_flush(struct conn *c)
{
    if (c->dead || c->failed)
        return false;
    if (c->state == C_HANDSHAKE)
        return c->out.len == 0;
    flush_now(c);
    if (c->failed)
        kick(c);
    update_mask(c);
    return conn_out_pending(c) == 0;
}

/* --- COMPRESS --- */

bool conn_compress_start(struct conn *c, int level, int window_bits, int mem_level)
{
    if (c->z || c->state == C_HANDSHAKE || c->state == C_TLS_PENDING)
        return false;
    c->z = zstream_new(level, window_bits, mem_level);
    if (!c->z)
        return false;
    /* What is queued now (the reply that starts compression) goes out as it is; what the
     * client sent after its command is already compressed. */
    buf_append(&c->zout, c->out.data ? c->out.data : "", c->out.len);
    buf_reset(&c->out);
    buf_append(&c->zin, c->in.data ? c->in.data : "", c->in.len);
    buf_reset(&c->in);
    if (c->zin.len)
        kick(c);
    return true;
}

bool conn_compressed(const struct conn *c) { return c->z != NULL; }

/* --- TLS --- */

static bool can_start_tls(struct conn *c, char **err)
{
    if (c->ssl || c->failed) {
        *err = xstrdup(c->ssl ? "TLS already started" : "connection failed");
        return false;
    }
    return true;
}

/* Switch to TLS with ssl: discard buffered input, flush pending output, then handshake. */
static long begin_tls(struct conn *c, SSL *ssl)
{
    /* RFC 3207 sec 4 / CVE-2011-0411: nothing sent before the handshake may be used. */
    long discarded = (long)c->in.len;
    buf_free(&c->in);
    c->skipping = false;
    c->ssl = ssl;
    c->state = C_TLS_PENDING;
    flush_now(c);
    if (c->failed)
        kick(c);
    update_mask(c);
    return discarded;
}

long conn_starttls(struct conn *c, SSL_CTX *ctx, char **err)
{
    if (!can_start_tls(c, err))
        return -1;
    SSL *ssl = tls_session_new(ctx, c->fd, err);
    if (!ssl)
        return -1;
    return begin_tls(c, ssl);
}

long conn_starttls_client(struct conn *c, SSL_CTX *ctx, const struct tls_client_params *p,
                          char **err)
{
    if (!can_start_tls(c, err))
        return -1;
    SSL *ssl = tls_client_session_new(ctx, c->fd, p, err);
    if (!ssl)
        return -1;
    return begin_tls(c, ssl);
}

/* --- client side: connecting --- */

struct conn_connect {
    struct event_loop *loop;
    int fd;
    unsigned long timer;
    long timeout_ms;
    size_t in_limit;
    const struct conn_ops *ops;
    void *ctx;
    conn_connected_fn done;
    char addr[INET6_ADDRSTRLEN + 2];
    int port;
    int early_errno;
    bool registered; /* fd is on the loop */
};

/* A numeric address, optionally in brackets, into ss. Returns false if it is not one. */
static bool parse_numeric_addr(const char *addr, int port, struct sockaddr_storage *ss,
                               socklen_t *len)
{
    char host[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(addr);
    if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']')
        snprintf(host, sizeof host, "%.*s", (int)(n - 2), addr + 1);
    else if (n < sizeof host)
        snprintf(host, sizeof host, "%s", addr);
    else
        return false;
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        *len = sizeof *sin;
        return true;
    }
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *len = sizeof *s6;
        return true;
    }
    return false;
}

/* Bind fd to the numeric source address (any port). Returns false with *err. */
static bool bind_source(int fd, int family, const char *source, char **err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (!parse_numeric_addr(source, 0, &ss, &len) || ss.ss_family != family) {
        *err = xasprintf("source address %s: not a numeric address of the destination's family",
                         source);
        return false;
    }
    int on = 1; /* the port is picked at connect time, so the 4-tuple need only be unique */
    (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
        *err = xasprintf("source address %s: %s", source, strerror(errno));
        return false;
    }
    return true;
}

/* A non-blocking socket with the connect started; -1 with *err. A failure the kernel knew
 * at once (refused, unreachable) is left in *early_errno, to be reported from the loop. */
static int start_connect(const struct conn_connect_params *p, int *early_errno, char **err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (p->port <= 0 || p->port > 65535 || !parse_numeric_addr(p->addr, p->port, &ss, &len)) {
        *err = xasprintf("connect to %s port %d: not a numeric address and port", p->addr,
                         p->port);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = xasprintf("connect to %s port %d: socket: %s", p->addr, p->port, strerror(errno));
        return -1;
    }
    if (p->source && !bind_source(fd, ss.ss_family, p->source, err)) {
        close(fd);
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
        if (errno != ECONNREFUSED && errno != ENETUNREACH && errno != EHOSTUNREACH) {
            *err = xasprintf("connect to %s port %d: %s", p->addr, p->port, strerror(errno));
            close(fd);
            return -1;
        }
        *early_errno = errno;
    }
    return fd;
}

static void connect_release(struct conn_connect *pc, bool close_fd)
{
    if (pc->timer)
        event_timer_cancel(pc->loop, pc->timer);
    if (pc->registered)
        event_del(pc->loop, pc->fd);
    if (close_fd)
        close(pc->fd);
    free(pc);
}

static void connect_failed(struct conn_connect *pc, const char *reason)
{
    char why[256];
    snprintf(why, sizeof why, "connect to %s port %d: %s", pc->addr, pc->port, reason);
    conn_connected_fn done = pc->done;
    void *ctx = pc->ctx;
    connect_release(pc, true);
    done(NULL, ctx, why);
}

static void connect_succeeded(struct conn_connect *pc)
{
    struct conn *c;
    struct event_loop *loop = pc->loop;
    int fd = pc->fd;
    size_t in_limit = pc->in_limit;
    const struct conn_ops *ops = pc->ops;
    conn_connected_fn done = pc->done;
    void *ctx = pc->ctx;
    connect_release(pc, false);
    c = conn_new(loop, fd, in_limit, ops, ctx);
    done(c, ctx, NULL);
}

static void on_connect_event(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct conn_connect *pc = ctx;
    int e = 0;
    socklen_t len = sizeof e;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
        e = errno;
    if (e == 0 && (events & (EPOLLERR | EPOLLHUP)))
        e = ECONNRESET;
    if (e == EINPROGRESS || e == EINTR)
        return;
    if (e != 0)
        connect_failed(pc, strerror(e));
    else
        connect_succeeded(pc);
}

static void on_connect_timeout(struct event_loop *loop, void *ctx)
{
    struct conn_connect *pc = ctx;
    char reason[64];
    pc->timer = 0;
    snprintf(reason, sizeof reason, "timed out after %ld ms", pc->timeout_ms);
    connect_failed(pc, reason);
}

static void on_early_failure(struct event_loop *loop, void *ctx)
{
    struct conn_connect *pc = ctx;
    pc->timer = 0;
    connect_failed(pc, strerror(pc->early_errno));
}

struct conn_connect *conn_connect(struct event_loop *loop, const struct conn_connect_params *p,
                                  const struct conn_ops *ops, void *ctx, conn_connected_fn done,
                                  char **err)
{
    int early_errno = 0;
    int fd = start_connect(p, &early_errno, err);
    if (fd < 0)
        return NULL;
    struct conn_connect *pc = xcalloc(1, sizeof *pc);
    *pc = (struct conn_connect){.loop = loop, .fd = fd, .timeout_ms = p->timeout_ms,
                                .in_limit = p->in_limit, .ops = ops, .ctx = ctx, .done = done,
                                .port = p->port, .early_errno = early_errno};
    snprintf(pc->addr, sizeof pc->addr, "%s", p->addr);
    if (early_errno) {
        pc->timer = event_timer(loop, 0, on_early_failure, pc);
        return pc;
    }
    /* Writable means connected or failed; a refusal already known shows up as EPOLLERR. */
    if (event_add(loop, fd, EPOLLOUT, on_connect_event, pc) < 0) {
        *err = xasprintf("connect to %s port %d: epoll: %s", p->addr, p->port, strerror(errno));
        close(fd);
        free(pc);
        return NULL;
    }
    pc->registered = true;
    if (p->timeout_ms > 0)
        pc->timer = event_timer(loop, p->timeout_ms, on_connect_timeout, pc);
    return pc;
}

void conn_connect_cancel(struct conn_connect *pc)
{
    if (pc)
        connect_release(pc, true);
}
