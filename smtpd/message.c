/* message.c - the queue file of the message being received. Created when the content
 * starts (DATA/BDAT): sender, attributes (A records: client_addr, client_name, helo,
 * protocol, and when given envid, ret, smtputf8, body, tls), recipients, then the content:
 * a Received: header (RFC 5321 sec 4.4) followed by the client's bytes, streamed as they
 * arrive so memory stays bounded. Oversized content is dropped (file removed at once) and
 * answered with 552 after the end; the Message-ID header is picked up for the log. */
#include "date.h"
#include "header.h"
#include "log.h"
#include "mem.h"
#include "smtpd.h"
#include "tls.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HDR_MAX 4096 /* header bytes kept for the Message-ID scan */

struct message {
    struct queue_writer *w; /* NULL once dropped (too big) */
    char id[QUEUE_ID_SIZE];
    long long size;         /* content bytes as stored, without our Received: */
    bool too_big;
    bool cr_pending;        /* BDAT: the last chunk ended in CR */
    bool in_headers;
    struct header_scanner headers; /* finds the Message-ID field, bounded by HDR_MAX */
    char *msgid;
};

static const char *notify_text(unsigned n, char *out, size_t outsize)
{
    out[0] = 0;
    if (n & SMTP_NOTIFY_NEVER)
        return "NEVER";
    snprintf(out, outsize, "%s%s%s%s%s", n & SMTP_NOTIFY_SUCCESS ? "SUCCESS" : "",
             (n & SMTP_NOTIFY_SUCCESS) && (n & (SMTP_NOTIFY_DELAY | SMTP_NOTIFY_FAILURE)) ? "," : "",
             n & SMTP_NOTIFY_DELAY ? "DELAY" : "",
             (n & SMTP_NOTIFY_DELAY) && (n & SMTP_NOTIFY_FAILURE) ? "," : "",
             n & SMTP_NOTIFY_FAILURE ? "FAILURE" : "");
    return out;
}

static void put_envelope(struct session *s, struct queue_writer *w)
{
    const struct smtp_mail *m = s->txn.mail;
    queue_put_str(w, REC_SENDER, m->from.null ? "" : m->from.addr);
    queue_put_attr(w, "client_addr", s->addr);
    queue_put_attr(w, "client_name", "unknown");
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
    for (size_t i = 0; i < s->txn.nrcpts; i++) {
        char nt[64];
        const struct rcpt *r = &s->txn.rcpts[i];
        queue_put_rcpt(w, r->addr, r->orcpt, notify_text(r->notify, nt, sizeof nt));
    }
}

/* RFC 5321 sec 4.4 time stamp line, folded with tabs, LF line ends like all content. */
static void put_received(struct session *s, struct message *m)
{
    struct buf b = BUF_INIT;
    char date[MAIL_DATE_SIZE];
    mail_date_format_zone_comment(date, sizeof date, time(NULL));
    buf_printf(&b, "Received: from %.255s (unknown [%s])\n", s->helo ? s->helo : "unknown", s->addr);
    if (conn_tls_active(s->conn)) {
        char desc[256];
        tls_describe(conn_ssl(s->conn), desc, sizeof desc);
        buf_printf(&b, "\t(using %s)\n", desc);
    }
    buf_printf(&b, "\tby %s (Posthorn) with %s id %s", s->d->p.hostname, session_protocol(s), m->id);
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
    header_scanner_init(&m->headers, HDR_MAX);
    snprintf(m->id, sizeof m->id, "%s", queue_writer_id(w));
    s->txn.msg = m;
    log_info("%s: client=unknown[%s]", m->id, s->addr);
    session_content_started(s);
    put_envelope(s, w);
    queue_begin_message(w);
    if (s->d->p.received_header)
        put_received(s, m);
    return true;
}

/* --- Message-ID for the log --- */

static void header_field(void *ctx, const struct header_field *f)
{
    struct message *m = ctx;
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

static void headers_done(struct message *m)
{
    header_scanner_finish(&m->headers, header_field, m);
    header_scanner_free(&m->headers);
    m->in_headers = false;
    log_info("%s: message-id=%s", m->id, m->msgid ? m->msgid : "<>");
}

static void scan_headers(struct message *m, const char *data, size_t len)
{
    header_scanner_feed(&m->headers, data, len, header_field, m);
    if (header_scanner_done(&m->headers))
        headers_done(m);
}

/* --- content --- */

void msg_write(struct session *s, const char *data, size_t len)
{
    struct message *m = s->txn.msg;
    if (!m || len == 0)
        return;
    if (m->in_headers)
        scan_headers(m, data, len);
    if (m->too_big)
        return;
    if (m->size + (long long)len > s->d->p.size_limit) {
        /* Keep reading to the end of the data, but store nothing more. */
        m->too_big = true;
        queue_abort(m->w);
        m->w = NULL;
        return;
    }
    m->size += (long long)len;
    queue_write_body(m->w, data, len);
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

static void message_free(struct session *s)
{
    struct message *m = s->txn.msg;
    if (m->w)
        queue_abort(m->w);
    header_scanner_free(&m->headers);
    free(m->msgid);
    free(m);
    s->txn.msg = NULL;
}

void msg_abort(struct session *s)
{
    if (s->txn.msg)
        message_free(s);
}

static void finish_refused(struct session *s, const char *reply)
{
    struct message *m = s->txn.msg;
    const struct smtp_mail *ml = s->txn.mail;
    log_info("%s: reject: END-OF-MESSAGE from unknown[%s]: %s; from=<%s> proto=%s helo=<%s>",
             m->id, s->addr, reply, ml->from.addr, session_protocol(s), s->helo ? s->helo : "");
    txn_reset(s);
    session_error(s, "%s", reply);
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
        headers_done(m);
    if (m->too_big) {
        finish_refused(s, "552 5.3.4 Message size exceeds fixed limit");
        return;
    }
    /* A failed write (ENOSPC, EIO) surfaces in queue_commit with its reason: 451 then. */
    struct commit_job *j = xcalloc(1, sizeof *j);
    j->w = m->w;
    m->w = NULL;
    memcpy(j->id, m->id, sizeof j->id);
    j->owner = s;
    s->job = j;
    s->wait_commit = true;
    message_free(s);
    committer_submit(s->d->committer, j);
}
