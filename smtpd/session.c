/* session.c - one SMTP session: connection callbacks, the input loop, replies and the error
 * limits (soft: delay replies with a timer; hard: 421 and close), idle timeout, and the end
 * of the session. See smtpd.h for the lifetime rule. */
#include "log.h"
#include "mem.h"
#include "smtpd.h"
#include "tls.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLOSE_GRACE_MS 10000 /* how long a closing session may take to flush its replies */

static bool paused(const struct session *s)
{
    return s->dead || s->closing || s->wait_commit || s->wait_delay || s->wait_tls;
}

__attribute__((format(printf, 2, 0))) static void vformat(struct buf *b, const char *fmt,
                                                          va_list ap)
{
    buf_vprintf(b, fmt, ap);
}

static void send_line(struct session *s, struct buf *b)
{
    if (log_verbose())
        log_debug("> unknown[%s]: %s", s->addr, buf_cstr(b));
    buf_puts(b, "\r\n");
    conn_write(s->conn, b->data, b->len);
}

__attribute__((format(printf, 2, 0))) static void vreply(struct session *s, const char *fmt, va_list ap)
{
    struct buf b = BUF_INIT;
    vformat(&b, fmt, ap);
    if (s->wait_delay) { /* keep the order behind a held error reply */
        buf_append(&s->held, b.data, b.len);
        buf_puts(&s->held, "\r\n");
    } else {
        send_line(s, &b);
    }
    buf_free(&b);
}

/* Release the replies held back by the soft error limit. */
static void release_held(struct session *s)
{
    if (s->held.len)
        conn_write(s->conn, s->held.data, s->held.len);
    buf_free(&s->held);
}

void session_reply(struct session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreply(s, fmt, ap);
    va_end(ap);
}

static void on_delay(struct event_loop *loop, void *ctx)
{
    struct session *s = ctx;
    s->delay_timer = 0;
    s->wait_delay = false;
    release_held(s);
    if (s->closing) {
        if (conn_flush(s->conn))
            s->dead = true;
    } else {
        session_process(s);
    }
    session_reap(s);
}

void session_error(struct session *s, const char *fmt, ...)
{
    struct smtpd *d = s->d;
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    vformat(&b, fmt, ap);
    va_end(ap);
    s->errors++;
    bool delay = !s->closing && s->errors < d->p.hard_errors && s->errors > d->p.soft_errors &&
                 d->p.error_sleep_ms > 0;
    if (delay || s->wait_delay) {
        /* Tarpit a client that keeps making errors: the reply is held back (not even in the
         * output buffer) and no further input is processed until the timer fires. */
        if (log_verbose())
            log_debug("> unknown[%s]: %s (delayed)", s->addr, buf_cstr(&b));
        buf_append(&s->held, b.data, b.len);
        buf_puts(&s->held, "\r\n");
        if (!s->wait_delay) {
            s->wait_delay = true;
            s->delay_timer = event_timer(d->srv->loop, d->p.error_sleep_ms, on_delay, s);
        }
    } else {
        send_line(s, &b);
    }
    buf_free(&b);
    if (!s->closing && s->errors >= d->p.hard_errors) {
        log_info("too many errors after %s from unknown[%s]", s->last_cmd, s->addr);
        session_reply(s, "421 4.7.0 %s Error: too many errors", d->p.hostname);
        session_close(s);
    }
}

void session_close(struct session *s)
{
    if (s->closing || s->dead)
        return;
    s->closing = true;
    s->closing_since = event_now_ms();
    conn_set_reading(s->conn, false);
    if (s->wait_delay)
        return; /* the delay timer flushes */
    if (conn_flush(s->conn))
        s->dead = true;
}

static void lost_connection(struct session *s)
{
    if (s->txn.active || s->mode != MODE_CMD)
        log_info("lost connection after %s from unknown[%s]", s->last_cmd, s->addr);
    txn_reset(s);
}

void session_process(struct session *s)
{
    while (!paused(s)) {
        bool progress = s->mode == MODE_DATA ? data_input(s)
                      : s->mode == MODE_BDAT ? bdat_input(s)
                                             : command_input(s);
        if (!progress)
            break;
    }
    if (s->dead)
        return;
    if (!paused(s) && conn_eof(s->conn)) {
        lost_connection(s);
        session_close(s);
        return;
    }
    if (!s->wait_delay && conn_flush(s->conn) && s->closing)
        s->dead = true;
}

/* --- connection callbacks --- */

static void on_input(struct conn *c, void *ctx)
{
    struct session *s = ctx;
    s->last_active = event_now_ms();
    session_process(s);
    session_reap(s);
}

static void on_error(struct conn *c, void *ctx, const char *why)
{
    struct session *s = ctx;
    if (s->txn.active || s->mode != MODE_CMD || s->wait_tls)
        log_info("lost connection after %s from unknown[%s]: %s", s->last_cmd, s->addr, why);
    else
        log_debug("connection from unknown[%s]: %s", s->addr, why);
    s->dead = true;
    session_reap(s);
}

static void on_tls_ready(struct conn *c, void *ctx)
{
    struct session *s = ctx;
    char desc[256];
    tls_describe(conn_ssl(c), desc, sizeof desc);
    log_info("TLS connection established from unknown[%s]: %s", s->addr, desc);
    /* RFC 3207 sec 4.2: forget everything learned before TLS, including EHLO. */
    free(s->helo);
    s->helo = NULL;
    s->esmtp = false;
    txn_reset(s);
    s->wait_tls = false;
    s->last_active = event_now_ms();
    session_process(s);
    session_reap(s);
}

static void on_drained(struct conn *c, void *ctx)
{
    struct session *s = ctx;
    if (s->closing)
        s->dead = true;
    session_reap(s);
}

static const struct conn_ops session_ops = {
    .input = on_input,
    .error = on_error,
    .tls_ready = on_tls_ready,
    .drained = on_drained,
};

/* --- life cycle --- */

void txn_reset(struct session *s)
{
    if (s->txn.msg)
        msg_abort(s);
    for (size_t i = 0; i < s->txn.nrcpts; i++) {
        free(s->txn.rcpts[i].addr);
        free(s->txn.rcpts[i].orcpt);
    }
    free(s->txn.rcpts);
    memset(&s->txn, 0, sizeof s->txn);
    s->mode = MODE_CMD;
}

static void session_free(struct session *s)
{
    struct smtpd *d = s->d;
    DLIST_REMOVE(&d->sessions, s);
    d->nsessions--;
    clients_del(d->clients, s->addr);
    if (s->job)
        s->job->owner = NULL; /* the commit goes on; its result is only logged */
    txn_reset(s);
    if (s->delay_timer)
        event_timer_cancel(d->srv->loop, s->delay_timer);
    log_info("disconnect from unknown[%s] commands=%u errors=%u", s->addr, s->commands,
             s->errors);
    conn_free(s->conn);
    free(s->helo);
    buf_free(&s->line);
    buf_free(&s->held);
    free(s);
}

void session_reap(struct session *s)
{
    if (s->dead)
        session_free(s);
}

void session_accept(struct smtpd *d, int fd)
{
    struct smtpd_params *p = &d->p;
    struct session *s = xcalloc(1, sizeof *s);
    s->d = d;
    s->conn = conn_new(d->srv->loop, fd, p->line_limit + 65536, &session_ops, s);
    snprintf(s->addr, sizeof s->addr, "%s", conn_peer_addr(s->conn));
    s->last_active = event_now_ms();
    s->last_cmd = "CONNECT";
    DLIST_INSERT_HEAD(&d->sessions, s);
    d->nsessions++;
    unsigned count = clients_add(d->clients, s->addr);
    log_info("connect from unknown[%s]", s->addr);
    if (d->nsessions > p->process_limit) {
        log_warn("process connection limit %u reached: refusing unknown[%s]", p->process_limit,
                 s->addr);
        session_reply(s, "421 4.3.2 %s Service not available: too many connections", p->hostname);
        session_close(s);
    } else if (p->client_limit && count > p->client_limit) {
        log_warn("Connection concurrency limit exceeded: %u from unknown[%s]", count, s->addr);
        session_reply(s, "421 4.7.0 %s Error: too many connections from %s", p->hostname, s->addr);
        session_close(s);
    } else {
        session_reply(s, "220 %s", p->banner);
        conn_flush(s->conn);
    }
    session_reap(s);
}

void session_tick(struct smtpd *d)
{
    long long now = event_now_ms();
    struct session *s, *next;
    DLIST_FOREACH_SAFE(s, &d->sessions, next) {
        if (s->closing) {
            if (now - s->closing_since > CLOSE_GRACE_MS)
                s->dead = true;
        } else if (!s->wait_commit && now - s->last_active > d->p.timeout_ms) {
            log_info("timeout after %s from unknown[%s]", s->last_cmd, s->addr);
            if (s->wait_tls) {
                s->dead = true; /* mid-handshake: nothing can be said in plaintext */
                session_reap(s);
                continue;
            }
            txn_reset(s);
            s->wait_delay = false;
            if (s->delay_timer)
                event_timer_cancel(d->srv->loop, s->delay_timer);
            s->delay_timer = 0;
            release_held(s);
            session_reply(s, "421 4.4.2 %s Error: timeout exceeded", d->p.hostname);
            session_close(s);
        }
        session_reap(s);
    }
}

const char *session_protocol(const struct session *s)
{
    bool tls = conn_tls_active(s->conn);
    if (!s->esmtp)
        return tls ? "SMTPS" : "SMTP";
    if (s->txn.mail.smtputf8)
        return tls ? "UTF8SMTPS" : "UTF8SMTP"; /* RFC 6531 sec 3.7.3 */
    return tls ? "ESMTPS" : "ESMTP";
}

void session_commit_done(struct session *s, int rc, const char *id, const char *err)
{
    s->wait_commit = false;
    if (rc == 0) {
        session_reply(s, "250 2.0.0 Ok: queued as %s", id);
        s->errors = 0;
    } else {
        log_warn("%s: %s", id, err ? err : "queue file commit failed");
        session_error(s, "451 4.3.0 Error: queue file write error");
    }
    txn_reset(s);
    session_process(s);
}
