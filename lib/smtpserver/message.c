/* message.c - the queue file of the message being received. Created when the content
 * starts (DATA/BDAT): sender, attributes (A records: client_addr, client_name, helo,
 * protocol, and when given envid, ret, smtputf8, body, tls, sasl_method, sasl_username),
 * recipients, then the content: a Received: header (RFC 5321 sec 4.4) followed by the
 * client's bytes, streamed as they arrive so memory stays bounded. Oversized content is
 * dropped (file removed at once) and answered with 552 after the end; the Message-ID header
 * is picked up for the log. With a role's headers_end hook (smtpd.h) the line being read
 * while the header section streams in is kept back, so that fields the role adds go in
 * before the line that ends the section. */
#include "date.h"
#include "header.h"
#include "log.h"
#include "mem.h"
#include "smtpd.h"
#include "dkim_client.h"
#include "tls.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void commit(struct session *s);
static void signed_cb(void *ctx, int rc, const char *err);

#define HDR_MAX 4096 /* bytes of one header field kept for the Message-ID and the role */

struct message {
    struct queue_writer *w; /* NULL once dropped (too big, refused) */
    char id[QUEUE_ID_SIZE];
    long long size;         /* content bytes as stored, without our Received: */
    bool too_big;
    bool cr_pending;        /* BDAT: the last chunk ended in CR */
    bool in_headers;
    struct header_scanner headers; /* the fields, each bounded by HDR_MAX */
    char *msgid;
    /* the role's headers_end (smtpd.h) */
    bool keep_back;         /* keep the current header line back until it is complete */
    struct buf line;        /* that line: the bytes after the last LF written */
    bool line_lost;         /* it grew past smtpd_header_line_limit: its start is written */
    char *refusal;          /* headers_end refused the message */
};

static void put_envelope(struct session *s, struct queue_writer *w)
{
    const struct smtp_mail *m = s->txn.mail;
    queue_put_str(w, REC_SENDER, m->from.null ? "" : m->from.addr);
    queue_put_attr(w, "client_addr", s->addr);
    queue_put_attr(w, "client_name", s->name);
    queue_put_attr(w, "helo", s->helo ? s->helo : "");
    queue_put_attr(w, "protocol", session_protocol(s));
    if (m->envid[0])
        queue_put_attr(w, "envid", m->envid);
    if (m->ret != SMTP_RET_NONE)
        queue_put_attr(w, "ret", m->ret == SMTP_RET_FULL ? "FULL" : "HDRS");
    if (m->smtputf8)
        queue_put_attr(w, "smtputf8", "yes");
    if (m->body != SMTP_BODY_NONE)
        queue_put_attr(w, "body", m->body == SMTP_BODY_8BITMIME ? "8BITMIME" : "7BIT");
    if (conn_tls_active(s->conn)) {
        char desc[256];
        tls_describe(conn_ssl(s->conn), desc, sizeof desc);
        queue_put_attr(w, "tls", desc);
    }
    if (s->auth_user) {
        queue_put_attr(w, "sasl_method", s->auth_method);
        queue_put_attr(w, "sasl_username", s->auth_user);
    }
    for (size_t i = 0; i < s->txn.nrcpts; i++) {
        char nt[64];
        const struct rcpt *r = &s->txn.rcpts[i];
        queue_put_rcpt(w, r->addr, r->orcpt, smtp_notify_text(r->notify, nt, sizeof nt));
    }
}

/* RFC 5321 sec 4.4 time stamp line, folded with tabs, LF line ends like all content. An
 * authenticated client is named in a comment (RFC 6409 sec 8 leaves the form open; this is
 * Postfix's); with received_hide_client the from clause, its HELO name and address, is left
 * out (RFC 5322 sec 3.6.7 makes every clause optional). */
static void put_received(struct session *s, struct message *m)
{
    struct buf b = BUF_INIT;
    char date[MAIL_DATE_SIZE];
    mail_date_format_zone_comment(date, sizeof date, time(NULL));
    buf_puts(&b, "Received: "); /* then the clauses, one per line, folded with a tab */
    if (!s->d->p.received_hide_client)
        buf_printf(&b, "from %.255s (%s [%s])\n\t", s->helo ? s->helo : "unknown", s->name,
                   s->addr);
    if (s->auth_user)
        buf_printf(&b, "(Authenticated sender: %s)\n\t", s->auth_user);
    if (conn_tls_active(s->conn)) {
        char desc[256];
        tls_describe(conn_ssl(s->conn), desc, sizeof desc);
        buf_printf(&b, "(using %s)\n\t", desc);
    }
    buf_printf(&b, "by %s (Posthorn) with %s id %s", s->d->p.hostname, session_protocol(s), m->id);
    if (s->txn.nrcpts == 1) /* naming one of several recipients would leak the others */
        buf_printf(&b, "\n\tfor <%s>", s->txn.rcpts[0].addr);
    buf_printf(&b, "; %s\n", date);
    queue_write_body(m->w, b.data, b.len);
    buf_free(&b);
}

bool msg_start(struct session *s, char **err)
{
    struct queue_writer *w = queue_create(s->d->srv->spool, err);
    if (!w)
        return false;
    struct message *m = xcalloc(1, sizeof *m);
    m->w = w;
    m->in_headers = true;
    m->keep_back = s->d->hooks->headers_end != NULL;
    header_scanner_init(&m->headers, HDR_MAX);
    snprintf(m->id, sizeof m->id, "%s", queue_writer_id(w));
    s->txn.msg = m;
    if (s->auth_user) /* Postfix's shape */
        log_info("%s: client=%s, sasl_method=%s, sasl_username=%s", m->id, s->client,
                 s->auth_method, s->auth_user);
    else
        log_info("%s: client=%s", m->id, s->client);
    session_content_started(s);
    put_envelope(s, w);
    queue_begin_message(w);
    if (s->d->p.received_header)
        put_received(s, m);
    return true;
}

/* --- header fields: the Message-ID for the log, and the role's hooks --- */

/* The first Message-ID field, for the log line. */
static void note_msgid(struct message *m, const struct header_field *f)
{
    if (m->msgid || !header_field_is(f, "Message-ID"))
        return;
    struct buf value = BUF_INIT;
    header_field_value(f, &value);
    const char *v = buf_cstr(&value);
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n > 0 && isspace((unsigned char)v[n - 1]))
        n--;
    m->msgid = xstrndup(v, n);
    buf_free(&value);
}

static void header_field(void *ctx, const struct header_field *f)
{
    struct session *s = ctx;
    if (s->d->hooks->header)
        s->d->hooks->header(s, f);
    note_msgid(s->txn.msg, f);
}

static void refuse(struct message *m, const char *reply)
{
    m->refusal = xstrdup(reply);
    if (m->w)
        queue_abort(m->w);
    m->w = NULL;
}

/* The header section has ended: fields the role adds come back in add. */
static void headers_done(struct session *s, struct buf *add)
{
    struct message *m = s->txn.msg;
    header_scanner_finish(&m->headers, header_field, s);
    header_scanner_free(&m->headers);
    m->in_headers = false;
    const char *refusal = m->keep_back ? s->d->hooks->headers_end(s, add) : NULL;
    /* the fields the role added: a Message-ID of its own (RFC 6409 sec 8.3) is logged */
    struct header_iter it;
    struct header_field f;
    header_iter_init(&it, add && add->data ? add->data : "", add ? add->len : 0);
    while (header_iter_next(&it, &f))
        note_msgid(m, &f);
    log_info("%s: message-id=%s", m->id, m->msgid ? m->msgid : "<>");
    if (refusal)
        refuse(m, refusal);
}

/* --- content --- */

/* Content bytes into the queue file, within message_size_limit. */
static void store(struct session *s, const char *data, size_t len)
{
    struct message *m = s->txn.msg;
    if (m->too_big || len == 0)
        return;
    if (m->size + (long long)len > s->d->p.size_limit) {
        /* Keep reading to the end of the data, but store nothing more. */
        m->too_big = true;
        if (m->w)
            queue_abort(m->w);
        m->w = NULL;
        return;
    }
    m->size += (long long)len;
    if (m->w)
        queue_write_body(m->w, data, len);
}

/* Fields the role adds (not counted in the size, like our Received:). */
static void store_added(struct session *s, const struct buf *add)
{
    struct message *m = s->txn.msg;
    if (add->len == 0 || !m->w)
        return;
    if (m->line_lost) {
        log_warn("%s: a header line longer than smtpd_header_line_limit: fields not added", m->id);
        return;
    }
    queue_write_body(m->w, add->data, add->len);
}

/* Within the header section: complete lines are written, the line being read waits. */
static void keep_back(struct session *s, const char *data, size_t len)
{
    struct message *m = s->txn.msg;
    const char *lf = memrchr(data, '\n', len);
    if (!lf) {
        buf_append(&m->line, data, len);
        if (m->line.len > s->d->p.header_line_limit) {
            store(s, m->line.data, m->line.len);
            buf_reset(&m->line);
            m->line_lost = true;
        }
        return;
    }
    size_t n = (size_t)(lf - data) + 1;
    store(s, m->line.data, m->line.len);
    store(s, data, n);
    buf_reset(&m->line);
    buf_append(&m->line, lf + 1, len - n);
    m->line_lost = false;
}

/* The header section ended at data[used - 1] (the LF of the line that ended it). */
static void end_kept_back(struct session *s, const char *data, size_t len, size_t used)
{
    struct message *m = s->txn.msg;
    struct buf add = BUF_INIT;
    const char *lf = used > 1 ? memrchr(data, '\n', used - 1) : NULL;
    size_t start = 0; /* where the ending line starts in data, when it starts there */
    /* The section ends at its empty line, or at a line that is no field (the message
     * lacks the empty line): then one goes in after the added fields, so that what
     * follows is the body for every reader, not fields after ours (RFC 5322 sec 2.1). */
    bool blank = (lf ? 0 : m->line.len) + (used - (lf ? (size_t)(lf - data) + 1 : 0)) == 1;
    if (lf) {         /* the kept-back line and the lines before the ending one go first */
        start = (size_t)(lf - data) + 1;
        store(s, m->line.data, m->line.len);
        store(s, data, start);
        buf_reset(&m->line);
        m->line_lost = false;
    }
    headers_done(s, &add);
    if (!blank)
        buf_putc(&add, '\n');
    store_added(s, &add);
    buf_free(&add);
    store(s, m->line.data, m->line.len);
    buf_free(&m->line);
    store(s, data + start, len - start);
}

void msg_write(struct session *s, const char *data, size_t len)
{
    struct message *m = s->txn.msg;
    if (!m || len == 0)
        return;
    if (!m->in_headers) {
        store(s, data, len);
        return;
    }
    /* A first line that starts with white space would continue our Received: field (RFC
     * 5322 sec 2.2): an empty line first makes the content the body. (A role that checks
     * the header refuses such a message instead.) */
    if (!m->keep_back && m->size == 0 && (data[0] == ' ' || data[0] == '\t') && m->w)
        queue_write_body(m->w, "\n", 1); /* size 0 and a queue file: the first bytes */
    size_t used = header_scanner_feed(&m->headers, data, len, header_field, s);
    bool done = header_scanner_done(&m->headers);
    if (!m->keep_back) {
        if (done)
            headers_done(s, NULL);
        store(s, data, len);
    } else if (done) {
        end_kept_back(s, data, len, used);
    } else {
        keep_back(s, data, len);
    }
}

void msg_write_crlf(struct session *s, const char *data, size_t len)
{
    struct message *m = s->txn.msg;
    size_t i = 0;
    if (!m || len == 0)
        return;
    if (m->cr_pending) {
        m->cr_pending = false;
        bool lf = data[0] == '\n';
        msg_write(s, lf ? "\n" : "\r", 1);
        i = lf ? 1 : 0;
    }
    while (i < len) {
        const char *cr = memchr(data + i, '\r', len - i);
        size_t k = cr ? (size_t)(cr - (data + i)) : len - i;
        msg_write(s, data + i, k);
        i += k;
        if (!cr)
            break;
        if (i + 1 == len) {
            m->cr_pending = true; /* the next chunk may start with LF */
            break;
        }
        bool lf = data[i + 1] == '\n';
        msg_write(s, lf ? "\n" : "\r", 1);
        i += lf ? 2 : 1;
    }
}

long long msg_size(const struct session *s) { return s->txn.msg ? s->txn.msg->size : 0; }
const char *msg_queue_id(const struct session *s) { return s->txn.msg ? s->txn.msg->id : ""; }

static void message_free(struct session *s)
{
    struct message *m = s->txn.msg;
    if (m->w)
        queue_abort(m->w);
    header_scanner_free(&m->headers);
    buf_free(&m->line);
    free(m->msgid);
    free(m->refusal);
    free(m);
    s->txn.msg = NULL;
}

void msg_abort(struct session *s)
{
    if (s->txn.msg)
        message_free(s);
}

static void finish_refused(struct session *s, const char *why)
{
    char *reply = xstrdup(why); /* why may live in the message, which txn_reset frees */
    /* The recipient is named when there is one (Postfix's end-of-data rule). */
    log_reject(s, WHERE_EOM, reply, s->txn.nrcpts == 1 ? s->txn.rcpts[0].addr : NULL);
    txn_reset(s);
    session_error(s, "%s", reply);
    free(reply);
}

/* The message ended inside its header section: what the role adds goes in before an
 * incomplete last line, else at the end. */
static void end_in_headers(struct session *s)
{
    struct message *m = s->txn.msg;
    struct buf add = BUF_INIT;
    headers_done(s, &add);
    if (m->keep_back) {
        store_added(s, &add);
        store(s, m->line.data, m->line.len);
        buf_reset(&m->line);
    }
    buf_free(&add);
}

void msg_finish(struct session *s)
{
    struct message *m = s->txn.msg;
    if (!m)
        return;
    if (m->cr_pending) {
        m->cr_pending = false;
        msg_write(s, "\r", 1);
    }
    if (m->in_headers)
        end_in_headers(s);
    if (m->too_big) {
        finish_refused(s, "552 5.3.4 Message size exceeds fixed limit");
        return;
    }
    if (m->refusal) {
        finish_refused(s, m->refusal);
        return;
    }
    /* Signed before it is committed, when the role asks for it (submission: mail of an
     * authenticated user; doc/dkim.md): the session waits as for the commit. */
    const struct dkim_client *dc = s->d->hooks->signer ? s->d->hooks->signer(s) : NULL;
    if (dc) {
        s->wait_commit = true;
        s->sign_req = dkim_sign_writer_start(dc, s->d->srv->loop, m->w, signed_cb, s);
        return;
    }
    commit(s);
}

/* The signer answered: commit, or refuse with 451 (dkim_failure_policy = tempfail). */
static void signed_cb(void *ctx, int rc, const char *err)
{
    struct session *s = ctx;
    s->sign_req = NULL;
    if (rc == 0) {
        commit(s);
        return;
    }
    log_warn("%s: not queued: %s", s->txn.msg->id, err ? err : "DKIM signing failed");
    message_free(s); /* aborts the queue file */
    s->wait_commit = false;
    session_error(s, "451 4.7.0 Message could not be signed, try again later");
    txn_reset(s);
    session_process(s);
    session_reap(s);
}

/* Hand the complete queue file to the committer; the 250 follows when it is durable. */
static void commit(struct session *s)
{
    struct message *m = s->txn.msg;
    /* A failed write (ENOSPC, EIO) surfaces in queue_commit with its reason: 451 then. */
    struct commit_job *j = xcalloc(1, sizeof *j);
    j->w = m->w;
    m->w = NULL;
    memcpy(j->id, m->id, sizeof j->id);
    j->hold = s->d->hooks->hold && s->d->hooks->hold(s);
    j->owner = s;
    s->job = j;
    s->wait_commit = true;
    message_free(s);
    committer_submit(s->d->committer, j);
}
