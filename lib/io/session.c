/* session.c - the life cycle of a connection-serving session (session.h): replies, held
 * replies and the error limits, closing and reaping, the idle timeout and output
 * back-pressure, around one struct conn. Event loop thread only. */
#include "session.h"
#include "log.h"
#include "mem.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool paused(const struct sess *s)
{
    return s->dead || s->closing || s->wait_tls || s->holding || !s->conn ||
           (s->ops->paused && s->ops->paused(s));
}

/* --- replies --- */

void sess_vreply(struct sess *s, const char *fmt, va_list ap)
{
    if (!s->conn)
        return;
    struct buf b = BUF_INIT;
    buf_vprintf(&b, fmt, ap);
    if (log_verbose())
        log_debug("> %s: %s%s", s->tag, buf_cstr(&b), s->holding ? " (delayed)" : "");
    if (s->ops->replied)
        s->ops->replied(s, buf_cstr(&b));
    buf_puts(&b, "\r\n");
    if (s->holding)
        buf_append(&s->held, b.data, b.len);
    else
        conn_write(s->conn, b.data, b.len);
    buf_free(&b);
}

void sess_reply(struct sess *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sess_vreply(s, fmt, ap);
    va_end(ap);
}

void sess_verror(struct sess *s, const char *fmt, va_list ap)
{
    struct sess_list *l = s->list;
    s->errors++;
    /* Tarpit a client that keeps making errors: the reply is held back and no further
     * input is processed until the timer fires. */
    if (!s->closing && l->error_delay_ms > 0 && s->errors > l->soft_error_limit &&
        s->errors < l->error_limit)
        sess_hold(s, l->error_delay_ms);
    sess_vreply(s, fmt, ap);
    if (!s->closing && s->errors >= l->error_limit) {
        s->ops->too_many_errors(s);
        sess_close(s);
    }
}

void sess_error(struct sess *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sess_verror(s, fmt, ap);
    va_end(ap);
}

static void write_held(struct sess *s)
{
    if (s->held.len && s->conn)
        conn_write(s->conn, s->held.data, s->held.len);
    buf_free(&s->held);
}

static void hold_over(struct sess *s)
{
    s->holding = false;
    write_held(s);
    if (s->closing || s->close_after_hold) {
        s->closing = false; /* close again, now that the held replies are out */
        s->close_after_hold = false;
        sess_close(s);
    } else {
        sess_process(s);
    }
    sess_reap(s);
}

static void on_hold_over(struct event_loop *loop, void *ctx)
{
    struct sess *s = ctx;
    s->hold_timer = 0;
    hold_over(s);
}

void sess_hold_open(struct sess *s) { s->holding = true; }

void sess_hold_end(struct sess *s)
{
    if (s->hold_timer)
        event_timer_cancel(s->list->loop, s->hold_timer);
    s->hold_timer = 0;
    hold_over(s);
}

void sess_hold(struct sess *s, long ms)
{
    if (s->holding)
        return;
    s->holding = true;
    s->hold_timer = event_timer(s->list->loop, ms, on_hold_over, s);
}

void sess_close_after_hold(struct sess *s)
{
    if (s->holding)
        s->close_after_hold = true;
    else
        sess_close(s);
}

void sess_release_held(struct sess *s)
{
    if (s->hold_timer)
        event_timer_cancel(s->list->loop, s->hold_timer);
    s->hold_timer = 0;
    s->holding = false;
    s->close_after_hold = false;
    write_held(s);
}

/* --- life cycle --- */

void sess_touch(struct sess *s) { s->last_active = event_now_ms(); }

void sess_close(struct sess *s)
{
    if (s->closing || s->dead)
        return;
    s->closing = true;
    s->closing_since = event_now_ms();
    if (!s->conn) {
        s->dead = true;
        return;
    }
    conn_set_reading(s->conn, false);
    if (!s->holding && conn_flush(s->conn)) /* while holding, the hold timer flushes */
        s->dead = true;
}

void sess_kill(struct sess *s) { s->dead = true; }

void sess_set_deadline(struct sess *s, long long ms)
{
    s->deadline = ms > 0 ? event_now_ms() + ms : 0;
}

long long sess_deadline_left(const struct sess *s)
{
    if (!s->deadline)
        return 0;
    long long left = s->deadline - event_now_ms();
    return left > 0 ? left : 1;
}

void sess_rate_start(struct sess *s)
{
    s->rate_since = event_now_ms();
    s->rate_bytes = 0;
}

void sess_rate_count(struct sess *s, size_t bytes) { s->rate_bytes += bytes; }
void sess_rate_stop(struct sess *s) { s->rate_since = 0; }
bool sess_rate_active(const struct sess *s) { return s->rate_since != 0; }

bool sess_in_handshake(const struct sess *s) { return s->wait_tls; }

static bool output_full(const struct sess *s)
{
    return s->list->out_limit && conn_out_pending(s->conn) > s->list->out_limit;
}

void sess_process(struct sess *s)
{
    for (;;) {
        bool more = false; /* stopped by the output limit with input still buffered */
        while (!paused(s)) {
            if (output_full(s)) {
                more = true;
                break;
            }
            if (!s->ops->step(s))
                break;
        }
        if (s->dead || !s->conn)
            return;
        if (!paused(s) && !more && conn_eof(s->conn)) {
            if (s->ops->eof)
                s->ops->eof(s);
            sess_close(s);
            return;
        }
        if (s->holding)
            return;
        bool empty = conn_flush(s->conn);
        if (empty && s->closing)
            s->dead = true;
        /* Output that went out at once brings no drained() callback: go on here. */
        if (!empty || !more || s->dead)
            return;
    }
}

static void unlink_session(struct sess *s)
{
    struct sess_list *l = s->list;
    DLIST_REMOVE(&l->sessions, s);
    l->count--;
}

void sess_reap(struct sess *s)
{
    if (!s->dead)
        return;
    unlink_session(s);
    if (s->hold_timer)
        event_timer_cancel(s->list->loop, s->hold_timer);
    s->ops->finish(s);
    if (s->conn)
        conn_free(s->conn);
    buf_free(&s->held);
    free(s);
}

long sess_starttls(struct sess *s, SSL_CTX *ctx, char **err)
{
    long discarded = conn_starttls(s->conn, ctx, err);
    if (discarded >= 0)
        s->wait_tls = true;
    return discarded;
}

struct conn *sess_detach(struct sess *s)
{
    struct conn *c = s->conn;
    s->conn = NULL;
    return c;
}

/* Why the session must end now: "idle", a deadline or the data rate; NULL: it may go on. */
static const char *overdue(const struct sess *s, long long now)
{
    const struct sess_list *l = s->list;
    if (s->ops->waiting && s->ops->waiting(s))
        return NULL;
    if (now - s->last_active > l->timeout_ms)
        return "idle";
    if (s->deadline && now >= s->deadline)
        return "time limit exceeded";
    long long spent = s->rate_since ? now - s->rate_since : 0;
    if (l->min_rate && spent > l->rate_grace_ms &&
        s->rate_bytes * 1000 < (unsigned long long)l->min_rate * (unsigned long long)spent)
        return "data rate too low";
    return NULL;
}

void sess_tick(struct sess_list *l)
{
    long long now = event_now_ms();
    struct sess *s, *next;
    DLIST_FOREACH_SAFE(s, &l->sessions, next) {
        const char *why = NULL;
        if (!s->conn || s->dead) {
            /* detached: its new owner times it out */
        } else if (s->closing) {
            if (now - s->closing_since > SESS_CLOSE_GRACE_MS)
                s->dead = true;
        } else if ((why = overdue(s, now)) != NULL) {
            if (strcmp(why, "idle") == 0 || !s->ops->too_slow)
                s->ops->timeout(s);
            else
                s->ops->too_slow(s, why);
            if (s->wait_tls)
                s->dead = true; /* mid-handshake: nothing can be said in plaintext */
            else
                sess_close(s);
        }
        sess_reap(s);
    }
}

/* --- connection callbacks --- */

static void on_input(struct conn *c, void *ctx)
{
    struct sess *s = ctx;
    if (s->list->idle_on_input)
        sess_touch(s);
    sess_process(s);
    sess_reap(s);
}

static void on_error(struct conn *c, void *ctx, const char *why)
{
    struct sess *s = ctx;
    s->ops->lost(s, why);
    s->dead = true;
    sess_reap(s);
}

static void on_tls_ready(struct conn *c, void *ctx)
{
    struct sess *s = ctx;
    s->wait_tls = false;
    if (s->ops->tls_ready)
        s->ops->tls_ready(s);
    sess_process(s);
    sess_reap(s);
}

static void on_drained(struct conn *c, void *ctx)
{
    struct sess *s = ctx;
    if (s->closing)
        s->dead = true;
    else if (s->ops->drained)
        s->ops->drained(s);
    sess_reap(s);
}

static const struct conn_ops sess_conn_ops = {
    .input = on_input,
    .error = on_error,
    .tls_ready = on_tls_ready,
    .drained = on_drained,
};

struct sess *sess_new(struct sess_list *l, int fd, size_t in_limit, const struct sess_ops *ops,
                      void *owner)
{
    struct sess *s = xcalloc(1, sizeof *s);
    s->list = l;
    s->ops = ops;
    s->owner = owner;
    s->conn = conn_new(l->loop, fd, in_limit, &sess_conn_ops, s);
    snprintf(s->tag, sizeof s->tag, "%s", conn_peer_addr(s->conn));
    s->last_active = event_now_ms();
    DLIST_INSERT_HEAD(&l->sessions, s);
    l->count++;
    return s;
}

void sess_set_tag(struct sess *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->tag, sizeof s->tag, fmt, ap);
    va_end(ap);
}
