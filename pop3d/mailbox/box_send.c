/* box_send.c - RETR and TOP: the message file is streamed through lib/pop3_proto's filter
 * (CRLF line ends, dot-stuffing, TOP's line limit) in chunks, never held whole in memory;
 * more is read only when the output buffer has drained below SEND_HIGH. */
#include "log.h"
#include "mem.h"
#include "pop3_mailbox.h"
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#define SEND_CHUNK (64 * 1024)
#define SEND_HIGH (128 * 1024)
#define SEND_ROUNDS 8 /* about 1 MiB per turn of the loop */

void box_send_abort(struct box_session *s)
{
    if (s->msg_fd >= 0)
        close(s->msg_fd);
    s->msg_fd = -1;
}

void box_send_start(struct box_session *s, size_t i, long long top_lines)
{
    const struct drop_msg *dm = &s->drop.msgs[i];
    struct mailbox_msg m = {.uid = dm->uid, .flags = dm->flags, .vsize = dm->vsize, .name = dm->name};
    char *err = NULL;
    int fd = mailbox_open_message(s->drop.mb, "INBOX", &m, &err);
    if (fd < 0) {
        if (errno == ENOENT) {
            box_error(s, "-ERR Message %zu has been removed by another client.", i + 1);
        } else {
            log_warn("%s: %s", s->user, err ? err : "cannot open a message");
            box_error(s, "-ERR [SYS/TEMP] The message cannot be read, try again later.");
        }
        free(err);
        return;
    }
    if (top_lines < 0)
        box_reply(s, "+OK %" PRIu64 " octets", dm->vsize);
    else
        box_reply(s, "+OK Top of message follows");
    s->msg_fd = fd;
    s->sending_top = top_lines >= 0;
    s->sent = 0;
    pop3_filter_init(&s->filter, top_lines);
    box_send_more(s);
}

static void finish(struct box_session *s)
{
    box_send_abort(s);
    if (s->sending_top) {
        s->st.top++;
        s->st.top_bytes += s->sent;
    } else {
        s->st.retr++;
        s->st.retr_bytes += s->sent;
    }
}

static void on_send_timer(struct event_loop *loop, void *ctx)
{
    struct box_session *s = ctx;
    s->send_timer = 0;
    if (box_send_more(s))
        box_process(s);
    box_reap(s);
}

/* Read, convert and queue up to SEND_HIGH bytes of output. true at the end. */
static bool fill(struct box_session *s, char *chunk, struct buf *out)
{
    while (conn_out_pending(s->conn) < SEND_HIGH) {
        ssize_t n = read(s->msg_fd, chunk, SEND_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            /* Mid-response nothing can be said: end the session without UPDATE. */
            log_error("%s: reading a message: %m", s->user);
            box_send_abort(s);
            s->end_reason = "Read error";
            box_kill(s);
            return true;
        }
        buf_reset(out);
        bool end = n == 0 || pop3_filter_done(&s->filter);
        if (end)
            pop3_filter_end(&s->filter, out);
        else
            pop3_filter_chunk(&s->filter, chunk, (size_t)n, out);
        s->sent += out->len;
        conn_write(s->conn, out->data, out->len);
        if (end) {
            finish(s);
            return true;
        }
    }
    return false;
}

bool box_send_more(struct box_session *s)
{
    if (s->msg_fd < 0 || s->send_timer)
        return s->msg_fd < 0;
    char *chunk = xmalloc(SEND_CHUNK);
    struct buf out = BUF_INIT;
    bool done = false;
    for (int round = 0; !done; round++) {
        done = fill(s, chunk, &out);
        if (box_dead(s) || !conn_flush(s->conn))
            break; /* drained() continues */
        if (!done && round == SEND_ROUNDS) { /* the socket takes all: let others run too */
            s->send_timer = event_timer(s->d->srv->loop, 0, on_send_timer, s);
            break;
        }
    }
    free(chunk);
    buf_free(&out);
    return done;
}
