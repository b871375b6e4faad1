/* fuzz_client.h - the client side of the session targets (fuzz_smtpd, fuzz_pop3d,
 * fuzz_pop3_login, fuzz_imap_login): one end of a non-blocking socket pair on the daemon's
 * private event loop. It sends the input (as fast as the daemon reads it), half-closes,
 * collects every byte the daemon writes, and stops the loop once the daemon closed its end
 * and the target's idle() says nothing of the daemon's is still running. */
#ifndef POSTHORN_FUZZ_CLIENT_H
#define POSTHORN_FUZZ_CLIENT_H
#include "buf.h"
#include "event.h"
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct fuzz_client {
    int sock;              /* our end */
    int peer;              /* the daemon's end, for the target to hand over */
    const uint8_t *out;
    size_t out_len, sent;
    struct buf in;         /* what the daemon wrote */
    bool eof;
    bool (*idle)(void);    /* the daemon has nothing left to do */
};

static inline void fuzz_client_poll(struct event_loop *loop, void *ctx)
{
    struct fuzz_client *c = ctx;
    if (c->idle())
        event_stop(loop);
    else
        event_timer(loop, 1, fuzz_client_poll, ctx);
}

static inline void fuzz_client_event(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct fuzz_client *c = ctx;
    if ((events & EPOLLOUT) && c->sent < c->out_len) {
        ssize_t w = send(fd, c->out + c->sent, c->out_len - c->sent, MSG_NOSIGNAL);
        if (w > 0)
            c->sent += (size_t)w;
        else if (errno != EAGAIN)
            c->sent = c->out_len; /* the daemon closed: the rest is never read */
        if (c->sent == c->out_len) {
            shutdown(fd, SHUT_WR);
            event_mod(loop, fd, EPOLLIN);
        }
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        char tmp[8192];
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n > 0) {
            buf_append(&c->in, tmp, (size_t)n);
        } else if (n == 0 || errno != EAGAIN) {
            c->eof = true;
            event_del(loop, fd);
            fuzz_client_poll(loop, c);
        }
    }
}

/* Make the pair and register our end; the target then hands c->peer to the daemon and
 * runs the loop. */
static inline void fuzz_client_start(struct fuzz_client *c, struct event_loop *loop,
                                     const uint8_t *data, size_t size, bool (*idle)(void))
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    *c = (struct fuzz_client){.sock = sv[0], .peer = sv[1], .out = data, .out_len = size,
                              .idle = idle};
    buf_init(&c->in);
    if (size == 0)
        shutdown(sv[0], SHUT_WR);
    if (event_add(loop, sv[0], size ? EPOLLIN | EPOLLOUT : EPOLLIN, fuzz_client_event, c) < 0)
        abort();
}

/* After the loop stopped: the daemon must have closed its end. */
static inline void fuzz_client_done(struct fuzz_client *c)
{
    if (!c->eof)
        abort();
    if (getenv("FUZZ_SHOW")) /* for checking seeds: what the daemon answered */
        fprintf(stderr, "%.*s", (int)c->in.len, c->in.data ? c->in.data : "");
}

static inline void fuzz_client_free(struct fuzz_client *c)
{
    close(c->sock);
    buf_free(&c->in);
}

#endif
