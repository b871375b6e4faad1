/* data.c - message content: DATA (decoded by lib/mail/smtp_data.c, which documents the
 * end-of-data and bare-LF rules that keep SMTP smuggling out) and BDAT (RFC 3030
 * length-counted chunks). */
#include "log.h"
#include "mem.h"
#include "smtpd.h"
#include <stdlib.h>
#include <string.h>

void data_command(struct session *s, const char *args)
{
    if (args[0]) {
        session_error(s, "501 5.5.4 Syntax: DATA");
        return;
    }
    if (!s->txn.active) {
        session_error(s, "503 5.5.1 Error: need MAIL command");
        return;
    }
    if (s->txn.bdat_used || s->txn.bdat_failed) {
        session_error(s, "503 5.5.1 Error: DATA after BDAT");
        return;
    }
    if (s->txn.nrcpts == 0) {
        if (s->txn.rejected)
            session_error(s, "554 5.5.1 Error: no valid recipients");
        else
            session_error(s, "503 5.5.1 Error: need RCPT command");
        return;
    }
    char *err = NULL;
    if (!msg_start(s, &err)) {
        log_warn("%s: %s", s->client, err);
        free(err);
        session_error(s, "451 4.3.0 Error: queue file write error");
        return;
    }
    s->mode = MODE_DATA;
    s->last_cmd = WHERE_DATA_CONTENT;
    smtp_data_init(&s->data, s->d->p.bare_lf, !s->last_bare_lf);
    session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void emit_content(void *ctx, const char *data, size_t len)
{
    msg_write(ctx, data, len);
}

bool data_input(struct session *s)
{
    size_t len, used = 0;
    const char *p = conn_data(s->conn, &len);
    enum smtp_data_status st =
        smtp_data_decode(&s->data, p, len, conn_eof(s->conn), &used, emit_content, s);
    conn_consume(s->conn, used);
    sess_rate_count(s->sess, used);
    s->content_bytes += used;
    if (st == SMTP_DATA_BARE_LF) {
        session_bare_lf(s);
        return true;
    }
    if (st == SMTP_DATA_END) {
        s->mode = MODE_CMD;
        s->last_cmd = WHERE_EOM;
        msg_finish(s);
        return true;
    }
    return used > 0;
}

/* --- BDAT --- */

static const char *bdat_refusal(struct session *s, unsigned long long size)
{
    struct smtpd *d = s->d;
    if (s->txn.bdat_failed)
        return s->txn.bdat_failed;
    if (d->p.tls_level == TLS_LEVEL_ENCRYPT && !conn_tls_active(s->conn))
        return "530 5.7.0 Must issue a STARTTLS command first";
    if (!s->txn.active)
        return "503 5.5.1 Error: need MAIL command";
    if (s->txn.nrcpts == 0)
        return s->txn.rejected ? "554 5.5.1 Error: no valid recipients"
                               : "503 5.5.1 Error: need RCPT command";
    unsigned long long limit = (unsigned long long)d->p.size_limit;
    if (size > limit || s->txn.bdat_bytes > limit - size)
        return "552 5.3.4 Message size exceeds fixed limit";
    return NULL;
}

static void bdat_chunk_done(struct session *s)
{
    s->mode = MODE_CMD;
    if (s->bdat_reply) {
        /* RFC 3030 sec 2: the transaction has failed; chunks the client pipelined after
         * this one are read and get the same answer until LAST or RSET. */
        const char *r = s->bdat_reply;
        s->bdat_reply = NULL;
        if (s->txn.msg)
            msg_abort(s);
        if (s->bdat_last)
            txn_reset(s);
        else if (s->txn.active)
            s->txn.bdat_failed = r;
        session_error(s, "%s", r);
        return;
    }
    if (s->bdat_last) {
        s->last_cmd = WHERE_EOM;
        msg_finish(s);
        return;
    }
    session_reply(s, "250 2.0.0 Ok: %llu bytes", s->bdat_size);
}

void bdat_command(struct session *s, const char *args)
{
    unsigned long long size;
    bool last;
    if (!smtp_parse_bdat(args, &size, &last)) {
        /* Without a valid count the rest of the stream cannot be framed: close. */
        session_error(s, "501 5.5.4 Syntax: BDAT count [LAST]");
        session_close(s);
        return;
    }
    s->last_cmd = WHERE_BDAT_CONTENT;
    s->bdat_left = size;
    s->bdat_size = size;
    s->bdat_last = last;
    s->bdat_reply = bdat_refusal(s, size);
    if (!s->bdat_reply && !s->txn.msg) {
        char *err = NULL;
        if (!msg_start(s, &err)) {
            log_warn("%s: %s", s->client, err);
            free(err);
            s->bdat_reply = "451 4.3.0 Error: queue file write error";
        }
    }
    if (!s->bdat_reply) {
        s->txn.bdat_used = true;
        s->txn.bdat_bytes += size;
    }
    if (size == 0)
        bdat_chunk_done(s);
    else
        s->mode = MODE_BDAT;
}

bool bdat_input(struct session *s)
{
    size_t len;
    const char *p = conn_data(s->conn, &len);
    if (len == 0)
        return false;
    size_t take = (unsigned long long)len < s->bdat_left ? len : (size_t)s->bdat_left;
    if (!s->bdat_reply)
        msg_write_crlf(s, p, take);
    conn_consume(s->conn, take);
    sess_rate_count(s->sess, take);
    s->content_bytes += take;
    s->bdat_left -= take;
    if (s->bdat_left == 0)
        bdat_chunk_done(s);
    return true;
}
