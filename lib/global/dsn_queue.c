/* dsn_queue.c - queueing a delivery status notification (dsn_queue() in dsn.h): read the
 * start of the original message from its queue file, compose the report (dsn.c) and write
 * it as a new queue file from the null sender <> to the original envelope sender
 * (doc/queue-format.md). Errors come back as malloc'ed strings; nothing is logged. */
#include "dsn.h"
#include "utf8.h"
#include <stdio.h>

#define CONTENT_HARD_MAX (64 * 1024 * 1024) /* most of an original ever read back */

/* queue_read_body() callback: keep the first `want` bytes, then stop the reading. */
struct collect {
    struct buf *b;
    size_t want;
};

static int collect_fn(void *ctx, const char *data, size_t len)
{
    struct collect *c = ctx;
    size_t room = c->want - c->b->len;
    buf_append(c->b, data, len < room ? len : room);
    return c->b->len >= c->want ? -1 : 0;
}

/* The envelope and content of the report's queue file. */
static void put_report(struct queue_writer *w, const struct dsn_report *r, const struct buf *text)
{
    queue_put_str(w, REC_SENDER, "");
    if (!utf8_is_ascii(text->data, text->len))
        queue_put_attr(w, "body", "8BITMIME");
    if (dsn_report_is_global(r))
        queue_put_attr(w, "smtputf8", "yes");
    queue_put_attr(w, "dsn_for", r->queue_id);
    queue_put_rcpt(w, r->sender, "", "");
    queue_begin_message(w);
    queue_write_body(w, text->data, text->len);
}

int dsn_queue(const char *spool, const struct dsn_report *r, int fd, const struct queue_msg *m,
              char new_id[QUEUE_ID_SIZE], char **err)
{
    size_t limit = r->size_limit < CONTENT_HARD_MAX ? r->size_limit : CONTENT_HARD_MAX;
    struct buf content = BUF_INIT, text = BUF_INIT;
    struct collect c = {&content, limit + 1};
    char *rerr = NULL;
    if (queue_read_body(fd, m, collect_fn, &c, &rerr) < 0 && rerr) {
        *err = rerr;
        buf_free(&content);
        return -1;
    }
    struct queue_writer *w = queue_create(spool, err);
    if (!w) {
        buf_free(&content);
        return -1;
    }
    snprintf(new_id, QUEUE_ID_SIZE, "%s", queue_writer_id(w));
    struct dsn_report rr = *r;
    rr.size_limit = limit;
    dsn_compose(&text, &rr, new_id, content.data ? content.data : "", content.len,
                content.len == m->body_size);
    put_report(w, r, &text);
    buf_free(&content);
    buf_free(&text);
    return queue_commit(w, true, err);
}
