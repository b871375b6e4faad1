/* box.c - the mailbox role's sessions: taking a logged-in session from a login process
 * (lib/login_handoff.h), opening its maildrop, answering the login command, the command
 * loop with output back-pressure, the idle timeout and the end of a session with its
 * Dovecot-shaped summary line. */
#include "log.h"
#include "mem.h"
#include "pop3d.h"
#include "sasl.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROCESS_OUT_HIGH (256 * 1024) /* stop taking commands while this much is unsent */

__attribute__((format(printf, 2, 0))) static void vline(struct box_session *s, const char *fmt,
                                                         va_list ap)
{
    struct buf b = BUF_INIT;
    buf_vprintf(&b, fmt, ap);
    if (log_verbose())
        log_debug("> %s: %s", s->user, buf_cstr(&b));
    buf_puts(&b, "\r\n");
    conn_write(s->conn, b.data, b.len);
    buf_free(&b);
}

void box_reply(struct box_session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(s, fmt, ap);
    va_end(ap);
}

void box_error(struct box_session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(s, fmt, ap);
    va_end(ap);
    if (++s->errors >= s->d->p.error_limit && !s->closing) {
        s->end_reason = "Too many errors";
        box_reply(s, "-ERR Too many errors, closing the connection.");
        box_close(s);
    }
}

void box_close(struct box_session *s)
{
    if (s->closing || s->dead)
        return;
    s->closing = true;
    s->closing_since = event_now_ms();
    conn_set_reading(s->conn, false);
    if (conn_flush(s->conn))
        s->dead = true;
}

static void session_free(struct box_session *s)
{
    struct pop3d *d = s->d;
    DLIST_REMOVE(&d->boxes, s);
    d->nsessions--;
    box_send_abort(s);
    if (s->send_timer)
        event_timer_cancel(d->srv->loop, s->send_timer);
    size_t deleted = 0;
    unsigned long long size = 0;
    for (size_t i = 0; i < s->drop.n; i++) {
        deleted += s->drop.msgs[i].deleted;
        size += s->drop.msgs[i].vsize;
    }
    log_info("%s: Disconnected: %s top=%u/%llu, retr=%u/%llu, del=%zu/%zu, size=%llu, session=<%s>",
             s->user, s->end_reason, s->st.top, s->st.top_bytes, s->st.retr, s->st.retr_bytes,
             s->updated ? deleted : 0, s->drop.n, size, s->id);
    maildrop_close(&s->drop);
    conn_free(s->conn);
    free(s->user);
    buf_free(&s->line);
    free(s);
}

void box_reap(struct box_session *s)
{
    if (s->dead)
        session_free(s);
}

void box_process(struct box_session *s)
{
    for (;;) {
        bool more = false; /* stopped by the output limit with commands still buffered */
        while (!s->dead && !s->closing && s->msg_fd < 0) {
            if (conn_out_pending(s->conn) > PROCESS_OUT_HIGH) {
                more = true;
                break;
            }
            bool bare;
            size_t limit = s->d->p.line_limit;
            enum conn_line r = conn_read_line(s->conn, limit, &s->line, &bare);
            if (r == CONN_LINE_NONE)
                break;
            s->last_active = event_now_ms();
            if (r == CONN_LINE_TOO_LONG)
                box_error(s, "-ERR Line too long (at most %zu bytes).", limit);
            else
                box_command(s, &s->line);
        }
        if (s->dead)
            return;
        if (s->msg_fd < 0 && !s->closing && !more && conn_eof(s->conn)) {
            s->end_reason = "Connection closed";
            box_close(s);
            return;
        }
        bool empty = conn_flush(s->conn);
        if (empty && s->closing)
            s->dead = true;
        /* Output that went out at once brings no drained() callback: go on here. */
        if (!empty || !more || s->dead)
            return;
    }
}

/* --- connection callbacks --- */

static void on_input(struct conn *c, void *ctx)
{
    struct box_session *s = ctx;
    box_process(s);
    box_reap(s);
}

static void on_error(struct conn *c, void *ctx, const char *why)
{
    struct box_session *s = ctx;
    if (!s->closing)
        s->end_reason = "Connection closed";
    log_debug("%s: %s, session=<%s>", s->user, why, s->id);
    s->dead = true;
    box_reap(s);
}

static void on_tls_ready(struct conn *c, void *ctx) {}

static void on_drained(struct conn *c, void *ctx)
{
    struct box_session *s = ctx;
    s->last_active = event_now_ms();
    if (s->closing) {
        s->dead = true;
    } else if (s->msg_fd < 0 || box_send_more(s)) {
        box_process(s);
    }
    box_reap(s);
}

static const struct conn_ops box_ops = {
    .input = on_input,
    .error = on_error,
    .tls_ready = on_tls_ready,
    .drained = on_drained,
};

/* --- taking over a session --- */

static bool valid_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= sizeof ((struct box_session *)0)->id)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9')))
            return false;
    return true;
}

/* The request's fields, checked again here: the login process is trusted to have
 * authenticated the user, not to send well-formed data. NULL or what is wrong. */
static const char *check_request(const struct attrs *req, struct buf *input)
{
    const char *user = attrs_get(req, "user"), *svc = attrs_get(req, "service");
    const char *in = attrs_get(req, "input");
    char *norm = user ? login_user_name(user, NULL) : NULL;
    bool ok = norm && strcmp(norm, user) == 0 && strchr(user, '@');
    free(norm);
    if (!ok)
        return "bad user name";
    if (!svc || strcmp(svc, "pop3") != 0)
        return "not a POP3 session";
    if (!valid_id(attrs_get(req, "session")))
        return "bad session id";
    if (in && !base64_decode(in, strlen(in), input))
        return "bad input";
    return NULL;
}

static void start_session(struct pop3d *d, struct box_session *s, int fd, struct buf *input)
{
    s->conn = conn_new(d->srv->loop, fd, d->p.line_limit + 4096, &box_ops, s);
    if (input->len)
        conn_unread(s->conn, input->data, input->len);
    s->last_active = event_now_ms();
    DLIST_INSERT_HEAD(&d->boxes, s);
    d->nsessions++;
    log_debug("%s: logged in, %zu messages, session=<%s>", s->user, s->drop.n, s->id);
    box_reply(s, "+OK Logged in.");
    box_process(s);
    box_reap(s);
}

static void on_request(void *ctx, struct handoff_in *h, const struct attrs *req, int fd,
                       const char *err)
{
    struct pop3d *d = ctx;
    d->handoffs_in--;
    if (!req) {
        log_warn("login handoff failed: %s", err);
        return;
    }
    struct buf input = BUF_INIT;
    const char *bad = check_request(req, &input);
    if (bad) {
        log_warn("login handoff refused: %s", bad);
        handoff_in_finish(h, false, bad);
        close(fd);
        buf_free(&input);
        return;
    }
    struct box_session *s = xcalloc(1, sizeof *s);
    s->d = d;
    s->msg_fd = -1;
    s->user = xstrdup(attrs_get(req, "user"));
    s->end_reason = "Connection closed";
    snprintf(s->id, sizeof s->id, "%s", attrs_get(req, "session"));
    char *e2 = NULL;
    int rc = maildrop_open(&s->drop, d, s->user, &e2);
    if (rc < 0) {
        if (rc == -1)
            log_info("%s: maildrop in use by another POP3 session, session=<%s>", s->user, s->id);
        else
            log_warn("%s: cannot open the maildrop: %s, session=<%s>", s->user, e2 ? e2 : "?", s->id);
        handoff_in_finish(h, false, rc == -1 ? "[IN-USE] The mailbox is in use by another POP3 session."
                                             : "[SYS/TEMP] The mailbox cannot be opened, try again later.");
        free(e2);
        close(fd);
        free(s->user);
        free(s);
        buf_free(&input);
        return;
    }
    handoff_in_finish(h, true, NULL);
    start_session(d, s, fd, &input);
    explicit_bzero(input.data ? input.data : (char *)"", input.len);
    buf_free(&input);
}

void box_accept(struct pop3d *d, int fd)
{
    d->handoffs_in++;
    handoff_in_start(d->srv->loop, fd, d->mail_owner_uid, HANDOFF_TIMEOUT_MS, on_request, d);
}

void box_tick(struct pop3d *d)
{
    long long now = event_now_ms();
    struct box_session *s, *next;
    DLIST_FOREACH_SAFE(s, &d->boxes, next) {
        if (s->closing) {
            if (now - s->closing_since > CLOSE_GRACE_MS)
                s->dead = true;
        } else if (now - s->last_active > d->p.idle_timeout_ms) {
            /* RFC 1939 sec 3: the autologout timer ends the session without UPDATE. */
            s->end_reason = "Inactivity";
            if (s->msg_fd >= 0) /* mid-response: nothing more can be said */
                box_send_abort(s);
            else
                box_reply(s, "-ERR Disconnected for inactivity.");
            box_close(s);
        }
        box_reap(s);
    }
}
