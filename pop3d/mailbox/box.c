/* box.c - pop3d-mailbox's sessions: taking a logged-in session from a login process
 * (lib/login/login_handoff.h), opening its maildrop, answering the login command, and the
 * POP3 side of the session skeleton (lib/io/session.h): the command step, the replies on
 * too many errors and inactivity, and the end of a session with its Dovecot-shaped summary
 * line. Output back-pressure and the idle timeout are the skeleton's. */
#include "log.h"
#include "mem.h"
#include "pop3_mailbox.h"
#include "sasl.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROCESS_OUT_HIGH (256 * 1024) /* stop taking commands while this much is unsent */

static struct box_session *box(const struct sess *ss) { return ss->owner; }

void box_close(struct box_session *s) { sess_close(s->sess); }
void box_kill(struct box_session *s) { sess_kill(s->sess); }
bool box_dead(const struct box_session *s) { return s->sess->dead; }
void box_process(struct box_session *s) { sess_process(s->sess); }
void box_reap(struct box_session *s) { sess_reap(s->sess); }

/* --- the session skeleton's hooks (lib/io/session.h) --- */

static bool step(struct sess *ss)
{
    struct box_session *s = box(ss);
    bool bare;
    size_t limit = s->d->p.line_limit;
    enum conn_line r = conn_read_line(s->conn, limit, &s->line, &bare);
    if (r == CONN_LINE_NONE)
        return false;
    sess_touch(ss);
    if (r == CONN_LINE_TOO_LONG)
        box_error(s, "-ERR Line too long (at most %zu bytes).", limit);
    else
        box_command(s, &s->line);
    return true;
}

/* A RETR or TOP is being streamed: the next command waits for its end. */
static bool sending(const struct sess *ss) { return box(ss)->msg_fd >= 0; }

static void on_eof(struct sess *ss) { box(ss)->end_reason = "Connection closed"; }

static void too_many_errors(struct sess *ss)
{
    struct box_session *s = box(ss);
    s->end_reason = "Too many errors";
    box_reply(s, "-ERR Too many errors, closing the connection.");
}

static void on_timeout(struct sess *ss)
{
    struct box_session *s = box(ss);
    /* RFC 1939 sec 3: the autologout timer ends the session without UPDATE. */
    s->end_reason = "Inactivity";
    if (s->msg_fd >= 0) /* mid-response: nothing more can be said */
        box_send_abort(s);
    else
        box_reply(s, "-ERR Disconnected for inactivity.");
}

static void on_lost(struct sess *ss, const char *why)
{
    struct box_session *s = box(ss);
    if (!ss->closing)
        s->end_reason = "Connection closed";
    log_debug("%s: %s, session=<%s>", s->user, why, s->id);
}

static void on_drained(struct sess *ss)
{
    struct box_session *s = box(ss);
    sess_touch(ss);
    if (s->msg_fd < 0 || box_send_more(s))
        box_process(s);
}

/* Runs from sess_reap(); the connection is freed after. */
static void session_free(struct sess *ss)
{
    struct box_session *s = box(ss);
    box_send_abort(s);
    if (s->send_timer)
        event_timer_cancel(s->d->srv->loop, s->send_timer);
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
    free(s->user);
    buf_free(&s->line);
    free(s);
}

static const struct sess_ops box_ops = {
    .step = step, .paused = sending, .eof = on_eof, .too_many_errors = too_many_errors,
    .timeout = on_timeout, .lost = on_lost, .drained = on_drained, .finish = session_free,
};

void box_setup(struct pop3d *d)
{
    struct sess_list *l = &d->boxes;
    l->loop = d->srv->loop;
    l->timeout_ms = d->p.idle_timeout_ms;
    l->error_limit = d->p.error_limit;
    l->soft_error_limit = d->p.error_limit; /* no tarpit after login */
    l->out_limit = PROCESS_OUT_HIGH;
}

/* --- taking over a session --- */

static void start_session(struct pop3d *d, struct box_session *s, int fd, struct buf *input)
{
    s->sess = sess_new(&d->boxes, fd, d->p.line_limit + 4096, &box_ops, s);
    s->conn = s->sess->conn;
    sess_set_tag(s->sess, "%s", s->user);
    if (input->len)
        conn_unread(s->conn, input->data, input->len);
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
    const char *bad = box_check_request(req, &input);
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

void box_tick(struct pop3d *d) { sess_tick(&d->boxes); }
