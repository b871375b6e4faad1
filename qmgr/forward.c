/* forward.c - alias targets the delivery agent could not deliver itself (forward_i in its
 * reply, e.g. remote addresses): queue one new message per forwarding recipient, same
 * sender and content, recipients = the forward list, ATTR forwarded_by=<recipient>. It is
 * committed durably before the original recipient is marked done, so a crash in between
 * can duplicate the copy but never lose it. If the copy cannot be queued the recipient is
 * deferred instead (its local part of the expansion may then be delivered twice).
 * RFC 3461 section 6.2.7.3: the copy's recipients keep the original ORCPT (or get one naming
 * the original recipient) and lose NOTIFY=SUCCESS, which the "expanded" success DSN of the
 * original answers. Runs on a worker thread. */
#include "qmgr.h"
#include "buf.h"
#include "xtext.h"
#include "mem.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FORWARD_MAX 1000 /* addresses in one forward list */

/* Split "a@x, b@y" into validated addresses; NULL with *err on anything odd. */
static char **split_forward(const char *list, size_t *n, char **err)
{
    char **v = NULL;
    *n = 0;
    const char *p = list;
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        size_t len = strcspn(p, ",");
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == 0)
            break;
        bool ok = len <= 998 && memchr(p, '@', len) && *n < FORWARD_MAX;
        for (size_t i = 0; ok && i < len; i++)
            ok = (unsigned char)p[i] > 32 && p[i] != 127 && p[i] != '<' && p[i] != '>';
        if (!ok) {
            *err = xasprintf("bad forward address \"%.*s\"", (int)(len > 100 ? 100 : len), p);
            for (size_t i = 0; i < *n; i++)
                free(v[i]);
            free(v);
            return NULL;
        }
        v = xreallocarray(v, *n + 1, sizeof *v);
        v[(*n)++] = xstrndup(p, len);
        p += strcspn(p, ",");
    }
    if (*n == 0) {
        *err = xstrdup("empty forward list");
        return NULL;
    }
    return v;
}

static char *notify_without_success(const char *notify)
{
    if (!*notify)
        return xstrdup("");
    struct buf b = BUF_INIT;
    const char *p = notify;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len && !(len == 7 && strncasecmp(p, "SUCCESS", 7) == 0)) {
            if (b.len)
                buf_putc(&b, ',');
            buf_append(&b, p, len);
        }
        p += len + (p[len] == ',');
    }
    if (b.len == 0)
        buf_puts(&b, "NEVER");
    return buf_steal(&b);
}

static int copy_body(void *ctx, const char *data, size_t len)
{
    queue_write_body(ctx, data, len);
    return 0;
}

static int queue_copy(struct job *j, struct job_rcpt *r, char **err)
{
    struct qmsg *msg = j->msg;
    const struct queue_rcpt *orig = &msg->m.rcpts[r->index];
    size_t n;
    char **to = split_forward(r->forward, &n, err);
    if (!to)
        return -1;
    struct queue_writer *w = queue_create(msg->q->spool, err);
    if (w) {
        queue_put_str(w, REC_SENDER, msg->m.sender);
        for (size_t i = 0; i < msg->m.nattrs; i++)
            if (strcmp(msg->m.attrs[i].name, "forwarded_by") != 0)
                queue_put_attr(w, msg->m.attrs[i].name, msg->m.attrs[i].value);
        queue_put_attr(w, "forwarded_by", orig->addr);
        char *x = xtext_encode(orig->addr);
        char *orcpt = *orig->orcpt ? xstrdup(orig->orcpt) : xasprintf("rfc822;%s", x);
        char *notify = notify_without_success(orig->notify);
        for (size_t i = 0; i < n; i++)
            queue_put_rcpt(w, to[i], orcpt, notify);
        free(x);
        free(orcpt);
        free(notify);
        queue_begin_message(w);
        char *rerr = NULL;
        if (queue_read_body(msg->fd, &msg->m, copy_body, w, &rerr) < 0) {
            *err = rerr ? rerr : xstrdup("cannot read the message content");
            queue_abort(w);
            w = NULL;
        } else {
            snprintf(r->fwd_id, sizeof r->fwd_id, "%s", queue_writer_id(w));
        }
    }
    for (size_t i = 0; i < n; i++)
        free(to[i]);
    free(to);
    if (!w)
        return -1;
    return queue_commit(w, true, err);
}

void forward_all(struct job *j)
{
    for (size_t k = 0; k < j->n; k++) {
        struct job_rcpt *r = &j->r[k];
        if (!r->forward)
            continue;
        char *err = NULL;
        if (queue_copy(j, r, &err) < 0) {
            snprintf(r->status, sizeof r->status, "defer");
            snprintf(r->dsn, sizeof r->dsn, "4.3.0");
            free(r->reason);
            r->reason = xasprintf("cannot queue the forwarded copy: %s", err ? err : "?");
            r->fwd_id[0] = 0;
            r->changed = true;
        } else {
            j->queued_mail = true;
        }
        free(err);
    }
}
