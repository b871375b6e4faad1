/* mailbox.c - local-mda's delivery of one message copy into a virtual mailbox: prepend
 * Return-Path: and Delivered-To: (RFC 5321 sec 4.4: the final delivery adds the return
 * path), copy the queued content, honour the user's quota, and remember the outcome so a
 * mailbox receives at most one copy per request. Also the Delivered-To: loop check.
 *
 * Exactly once: each copy is delivered with mailbox_deliver_once() under the identifier
 * "QUEUEID:address" (the address as it reached the mailbox, lowercased), born at the
 * message's arrival and kept for the longest queue lifetime plus a margin. A request that
 * qmgr repeats because it crashed, or because it never got our reply (we or it were
 * killed, a connection broke), finds the copy and reports it sent without writing a
 * second one; qmgr relies on this and no longer syncs its done-marks for local mail. */
#include "local.h"
#include "address.h"
#include "buf.h"
#include "fileio.h"
#include "header.h"
#include "log.h"
#include "mailstore.h"
#include "mem.h"
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEADER_SCAN_MAX (1024 * 1024) /* Delivered-To: lines are looked for in this much */

/* --- Delivered-To: loop detection --- */

struct scan {
    struct buf b;
};

static int scan_chunk(void *ctx, const char *data, size_t len)
{
    struct scan *s = ctx;
    size_t searched = s->b.len, end;
    buf_append(&s->b, data, len);
    if (header_section_end_resume(s->b.data, s->b.len, searched, &end) ||
        s->b.len >= HEADER_SCAN_MAX)
        return -1; /* the header is complete: stop reading */
    return 0;
}

static void add_delivered_to(struct request *rq, const char *value, size_t len)
{
    while (len && isspace((unsigned char)*value))
        value++, len--;
    while (len && isspace((unsigned char)value[len - 1]))
        len--;
    if (len >= 2 && value[0] == '<' && value[len - 1] == '>')
        value++, len -= 2;
    char *v = xstrndup(value, len);
    for (char *p = v; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    rq->delivered_to = xreallocarray(rq->delivered_to, rq->ndelivered_to + 1, sizeof *rq->delivered_to);
    rq->delivered_to[rq->ndelivered_to++] = v;
}

int scan_delivered_to(struct request *rq, char **err)
{
    struct scan s = {BUF_INIT};
    *err = NULL;
    if (queue_read_body(rq->fd, &rq->msg, scan_chunk, &s, err) < 0 && *err) {
        buf_free(&s.b);
        return -1;
    }
    struct header_iter it;
    struct header_field f;
    header_iter_init(&it, buf_cstr(&s.b), s.b.len);
    while (header_iter_next(&it, &f)) {
        if (header_field_is(&f, "Delivered-To")) {
            struct buf v = BUF_INIT;
            header_field_value(&f, &v);
            add_delivered_to(rq, buf_cstr(&v), v.len);
            buf_free(&v);
        }
    }
    buf_free(&s.b);
    return 0;
}

bool has_delivered_to(const struct request *rq, const char *addr)
{
    for (size_t i = 0; i < rq->ndelivered_to; i++)
        if (strcasecmp(rq->delivered_to[i], addr) == 0)
            return true;
    return false;
}

/* --- writing the copy --- */

struct fill {
    struct request *rq;
    const char *delivered_to;
    int out;
    int write_errno;
    char *err; /* the queue file could not be read */
};

/* Header values from the envelope never carry control characters into the message. */
static void put_clean(struct buf *b, const char *s)
{
    for (; *s; s++)
        buf_putc(b, (unsigned char)*s < ' ' || *s == 0x7f ? '?' : *s);
}

/* An envelope address as RFC 5321 writes it (lib/mail/address.h): a local part that is
 * not a Dot-string stays quoted, so it cannot shape the header around it. */
static void put_address(struct buf *b, const char *addr)
{
    char *q = address_requote(addr);
    put_clean(b, q);
    free(q);
}

static int copy_chunk(void *ctx, const char *data, size_t len)
{
    struct fill *f = ctx;
    if (write_full(f->out, data, len) < 0) {
        f->write_errno = errno;
        return -1;
    }
    return 0;
}

void delivery_headers(struct buf *h, const char *sender, const char *delivered_to)
{
    buf_puts(h, "Return-Path: <");
    put_address(h, sender);
    buf_puts(h, ">\nDelivered-To: ");
    put_address(h, delivered_to);
    buf_putc(h, '\n');
}

static int fill(void *ctx, int fd)
{
    struct fill *f = ctx;
    struct buf h = BUF_INIT;
    delivery_headers(&h, f->rq->sender, f->delivered_to);
    f->out = fd;
    int rc = write_full(fd, h.data, h.len);
    f->write_errno = errno;
    buf_free(&h);
    char *err = NULL;
    if (rc == 0 && (rc = queue_read_body(f->rq->fd, &f->rq->msg, copy_chunk, f, &err)) < 0 && err) {
        f->err = xasprintf("cannot read queue file: %s", err);
        f->write_errno = EIO;
        free(err);
    }
    errno = rc < 0 ? f->write_errno : 0;
    return rc;
}

static void record(struct request *rq, const char *mailbox, struct outcome *o)
{
    rq->boxes = xreallocarray(rq->boxes, rq->nboxes + 1, sizeof *rq->boxes);
    rq->boxes[rq->nboxes].mailbox = xstrdup(mailbox);
    rq->boxes[rq->nboxes++].out = *o;
}

/* "QUEUEID:address" (lowercased), cut to what the index takes: two addresses of one
 * message that share a long prefix could then share a record, which only merges their
 * copies in this one mailbox. */
static char *once_id(const struct request *rq, const char *addr)
{
    char *id = xasprintf("%s:%s", rq->queue_id, addr);
    for (char *p = id; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (strlen(id) > DELIVERY_ONCE_ID_MAX)
        id[DELIVERY_ONCE_ID_MAX] = 0;
    return id;
}

static void write_copy(struct request *rq, const struct target *t, long long quota, struct outcome *o)
{
    struct mda *m = rq->mda;
    const char *at = strrchr(t->mailbox, '@');
    char *local = xstrndup(t->mailbox, (size_t)(at - t->mailbox)), *err = NULL;
    struct mail_user *mb = boxes_get(m, at + 1, local, &err);
    free(local);
    if (!mb) {
        outcome_set(o, "defer", "4.3.0", "cannot open mailbox: %s", err);
        free(err);
        return;
    }
    struct fill f = {.rq = rq, .delivered_to = t->delivered_to, .out = -1};
    struct delivery_once once = {.id = once_id(rq, t->delivered_to), .born = rq->arrival,
                                .keep = m->once_keep};
    uint32_t uid = 0;
    bool dup = false;
    switch (mailbox_deliver_once(mb, "INBOX", quota, &once, fill, &f, &uid, &dup, &err)) {
    case MS_OK:
        outcome_set(o, "sent", "2.0.0", "delivered to maildir");
        if (dup)
            log_info("%s: %s: already delivered to %s as uid %u (repeated request)",
                     rq->queue_id, t->delivered_to, mail_user_path(mb), uid);
        else
            log_debug("%s: %s: delivered to %s uid %u", rq->queue_id, t->delivered_to,
                      mail_user_path(mb), uid);
        break;
    case MS_OVERQUOTA:
        outcome_set(o, "defer", "4.2.2", "mailbox full");
        break;
    default: /* MS_TEMPFAIL: delivery has no other results */
        outcome_set(o, "defer", "4.3.0", "cannot deliver to %s: %s", t->mailbox, f.err ? f.err : err);
        log_warn("%s: %s", rq->queue_id, o->reason);
        break;
    }
    free((char *)once.id);
    free(f.err);
    free(err);
}

const struct outcome *deliver_mailbox(struct request *rq, const struct target *t)
{
    for (size_t i = 0; i < rq->nboxes; i++)
        if (strcmp(rq->boxes[i].mailbox, t->mailbox) == 0)
            return &rq->boxes[i].out;
    struct outcome o = {0};
    struct account_user u;
    char *err = NULL;
    int r = accounts_user_get(resolver_accounts(rq->mda->res), t->mailbox, &u, &err);
    if (r < 0)
        outcome_set(&o, "defer", "4.3.0", "cannot look up user %s: %s", t->mailbox, err);
    else if (r == 0) /* removed since the recipient was resolved */
        outcome_set(&o, "bounce", "5.1.1", "unknown user: %s", t->mailbox);
    else {
        write_copy(rq, t, accounts_user_quota(rq->mda->cfg, &u), &o);
        account_user_free(&u);
    }
    free(err);
    record(rq, t->mailbox, &o);
    return &rq->boxes[rq->nboxes - 1].out;
}
