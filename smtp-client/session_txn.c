/* session_txn.c - one mail transaction of an SMTP session (RFC 5321 sec 3.3): MAIL FROM,
 * RCPT TO for each pending recipient, DATA and the content, with PIPELINING (RFC 2920:
 * MAIL, every RCPT and DATA in one write, the replies read in order) when the server
 * announces it, one command at a time otherwise.
 *
 * Before anything is sent the message is checked against what the server announced:
 * a message over its SIZE bounces (5.3.4), 8-bit content without 8BITMIME bounces (5.6.3),
 * and an address that needs SMTPUTF8 bounces without it (5.6.7, RFC 6531 sec 3.5); the
 * other recipients go on. DSN parameters (RFC 3461) are passed on only to a server with
 * DSN, and only values that are valid as received.
 *
 * Results: a 2xx to the final dot sends every accepted recipient; 4xx/5xx replies to
 * MAIL, RCPT, DATA or the dot are given to the recipients they concern, 5xx final,
 * 4xx left pending for the next host (delivery.c). The content is streamed from the queue
 * file in chunks as the socket drains (lib/mail/dotstuff: CRLF line ends, dots doubled).
 *
 * CHUNKING (RFC 3030): to a server that announces it (and with smtp_use_chunking), the
 * content goes as "BDAT n" chunks, the last "BDAT n LAST", instead of DATA: CRLF line ends,
 * no dot-stuffing. The first chunk waits for the RCPT replies (nothing is sent when no
 * recipient was accepted); the chunks are pipelined, each answered on its own; a refused
 * chunk fails the accepted recipients (sec 2: the server discards the rest), the chunks
 * already sent are answered and discarded, and the session is reset. */
#include "session_int.h"
#include "smtp_proto.h"
#include "address.h"
#include "log.h"
#include "mem.h"
#include "xtext.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_HIGH_WATER (256 * 1024) /* content queued in the connection before waiting */

static bool has_8bit(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return true;
    return false;
}

/* "NEVER" or a comma list of SUCCESS, DELAY, FAILURE (RFC 3461 sec 4.1). */
static bool notify_valid(const char *v)
{
    return *v && strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ,") == strlen(v) && strlen(v) <= 64;
}

static void finalize_all(struct session *s, const char *dsn, const char *reason)
{
    delivery_all_result(s->d, 5, dsn, reason, s->relay);
}

/* The server's announced limits and the message: false when nothing is left to send. */
static bool check_message(struct session *s, bool *utf8)
{
    struct delivery *d = s->d;
    const struct smtp_ehlo *e = &s->ehlo;
    char *why = NULL;
    if ((e->ext & SMTP_EXT_SIZE) && e->size && d->wire_size > e->size)
        why = xasprintf("message size %zu exceeds size limit %llu of server %s",
                        d->wire_size, e->size, s->said_host);
    else if (d->body_8bit && !(e->ext & SMTP_EXT_8BITMIME))
        why = xasprintf("host %s does not announce 8BITMIME, and the message has 8-bit content",
                        s->said_host);
    if (why) {
        finalize_all(s, why[0] == 'm' ? "5.3.4" : "5.6.3", why);
        free(why);
        return false;
    }
    *utf8 = d->smtputf8 || has_8bit(d->req.sender);
    bool can_utf8 = (e->ext & SMTP_EXT_SMTPUTF8) != 0;
    why = xasprintf("SMTPUTF8 is required, but was not offered by host %s", s->said_host);
    if (!can_utf8 && has_8bit(d->req.sender))
        finalize_all(s, "5.6.7", why);
    for (size_t k = 0; k < d->n && !can_utf8; k++)
        if (d->r[k].state == RC_PENDING && has_8bit(d->r[k].addr))
            delivery_rcpt_result(d, k, 5, "5.6.7", why, s->relay);
    for (size_t k = 0; k < d->n; k++)
        *utf8 |= d->r[k].state == RC_PENDING && has_8bit(d->r[k].addr);
    *utf8 &= can_utf8;
    free(why);
    return delivery_pending(d) > 0;
}

static void add(struct session *s, enum cmd cmd, size_t rcpt)
{
    s->exp = xreallocarray(s->exp, s->nexp + 1, sizeof *s->exp);
    s->exp[s->nexp++] = (struct expect){.cmd = cmd, .rcpt = rcpt};
}

static void send_mail(struct session *s, bool utf8)
{
    struct delivery *d = s->d;
    const struct smtp_ehlo *e = &s->ehlo;
    char *from = address_requote(d->req.sender);
    struct buf b = BUF_INIT;
    buf_printf(&b, "MAIL FROM:<%s>", from);
    if (e->ext & SMTP_EXT_SIZE)
        buf_printf(&b, " SIZE=%zu", d->wire_size);
    if (d->body_8bit && (e->ext & SMTP_EXT_8BITMIME))
        buf_puts(&b, " BODY=8BITMIME");
    if (utf8)
        buf_puts(&b, " SMTPUTF8");
    if (e->ext & SMTP_EXT_DSN) {
        if (d->ret && (strcmp(d->ret, "FULL") == 0 || strcmp(d->ret, "HDRS") == 0))
            buf_printf(&b, " RET=%s", d->ret);
        if (d->envid && strlen(d->envid) <= 100 && xtext_valid(d->envid, strlen(d->envid)))
            buf_printf(&b, " ENVID=%s", d->envid);
    }
    session_send(s, "%s", buf_cstr(&b));
    buf_free(&b);
    free(from);
}

static void send_rcpt(struct session *s, size_t k)
{
    const struct drcpt *r = &s->d->r[k];
    char *to = address_requote(r->addr);
    struct buf b = BUF_INIT;
    buf_printf(&b, "RCPT TO:<%s>", to);
    if (s->ehlo.ext & SMTP_EXT_DSN) {
        if (notify_valid(r->notify))
            buf_printf(&b, " NOTIFY=%s", r->notify);
        if (smtp_orcpt_valid(r->orcpt))
            buf_printf(&b, " ORCPT=%s", r->orcpt);
    }
    session_send(s, "%s", buf_cstr(&b));
    buf_free(&b);
    free(to);
}

static long long timeout_for(const struct session *s, enum cmd cmd)
{
    const struct smtpc_params *p = &s->sc->p;
    switch (cmd) {
    case CMD_RSET: return p->t_rset;
    case CMD_MAIL: return p->t_mail;
    case CMD_RCPT: return p->t_rcpt;
    case CMD_DATA: return p->t_data_init;
    case CMD_DOT:
    case CMD_LONE_DOT:
    case CMD_BDAT_LAST: return p->t_data_done;
    case CMD_BDAT: return p->t_data_xfer;
    }
    return p->t_mail;
}

static void send_one(struct session *s, const struct expect *x)
{
    switch (x->cmd) {
    case CMD_RSET: session_send(s, "RSET"); break;
    case CMD_MAIL: send_mail(s, s->utf8); break;
    case CMD_RCPT: send_rcpt(s, x->rcpt); break;
    case CMD_DATA: session_send(s, "DATA"); break;
    case CMD_DOT:
    case CMD_LONE_DOT: session_send(s, "."); break;
    case CMD_BDAT:
    case CMD_BDAT_LAST: break; /* written with their chunk (bdat_fill) */
    }
}

/* The transaction is over: the owner learns whether the session can carry another. */
static void txn_end(struct session *s, bool reusable)
{
    struct delivery *d = s->d;
    s->st = SS_READY;
    if (s->timer) {
        event_timer_cancel(s->sc->srv->loop, s->timer);
        s->timer = 0;
    }
    free(s->chunk);
    s->chunk = NULL;
    delivery_txn_done(d, s, reusable && !conn_eof(s->c));
}

/* Without PIPELINING: the next command, or the end when the rest makes no sense. */
static void send_next(struct session *s)
{
    if (s->exp_sent >= s->nexp || s->exp_sent > s->exp_done)
        return;
    const struct expect *x = &s->exp[s->exp_sent];
    if (s->mail_failed || (x->cmd == CMD_DATA && s->accepted == 0)) {
        s->need_rset = !s->mail_failed; /* MAIL was accepted: reset it */
        txn_end(s, true);
        return;
    }
    send_one(s, x);
    s->exp_sent++;
    session_set_timer(s, timeout_for(s, x->cmd));
}

static void run_transaction(struct session *s)
{
    struct delivery *d = s->d;
    bool utf8 = false;
    s->nexp = s->exp_sent = s->exp_done = 0;
    s->accepted = 0;
    s->mail_failed = false;
    s->answered = false;
    for (size_t k = 0; k < d->n; k++)
        d->r[k].accepted = false;
    if (!check_message(s, &utf8)) {
        txn_end(s, true);
        return;
    }
    if (s->need_rset)
        add(s, CMD_RSET, 0);
    s->need_rset = false;
    add(s, CMD_MAIL, 0);
    for (size_t k = 0; k < d->n; k++)
        if (d->r[k].state == RC_PENDING)
            add(s, CMD_RCPT, k);
    s->bdat = s->sc->p.chunking && (s->ehlo.ext & SMTP_EXT_CHUNKING);
    s->bdat_failed = false;
    s->body_end = false;
    if (!s->bdat)
        add(s, CMD_DATA, 0);
    s->st = SS_TXN;
    s->utf8 = utf8;
    if (s->ehlo.ext & SMTP_EXT_PIPELINING) {
        for (size_t i = 0; i < s->nexp; i++)
            send_one(s, &s->exp[i]);
        s->exp_sent = s->nexp;
        session_set_timer(s, timeout_for(s, s->exp[0].cmd));
    } else {
        send_next(s);
    }
}

/* Entered from the delivery (a fresh or a cached session): a session killed inside is
 * freed only when this returns. */
void session_transaction(struct session *s)
{
    session_enter(s);
    run_transaction(s);
    session_leave(s);
}

/* --- the content --- */

/* The next piece of the content into s->chunk: 1 with *len, 0 at its end; -1 when the
 * queue file cannot be read (the session is failed: mid-content, the connection drops). */
static int next_piece(struct session *s, size_t *len)
{
    struct delivery *d = s->d;
    char *err = NULL;
    int r = queue_body_next(d->qfd, &d->msg, &s->body, s->chunk, len, &err);
    if (r < 0) {
        log_warn("%s: %s", d->req.queue_id, err);
        char *why = xasprintf("cannot read the queue file: %s", err);
        free(err);
        session_fail(s, 4, "4.3.0", why, false, false);
        free(why);
    }
    return r;
}

/* Queue content up to BODY_HIGH_WATER; when the socket takes it all at once there is no
 * "drained" callback to wait for, so go on filling until it does not. */
static void body_fill(struct session *s)
{
    struct buf out = BUF_INIT;
    while (!s->body_end && (conn_out_pending(s->c) < BODY_HIGH_WATER || conn_flush(s->c))) {
        size_t len = 0;
        int r = next_piece(s, &len);
        if (r < 0) {
            buf_free(&out);
            return;
        }
        buf_reset(&out);
        if (r == 0) {
            dotstuff_finish(&s->ds, &out);
            s->body_end = true;
        } else {
            dotstuff_encode(&s->ds, s->chunk, len, &out);
        }
        conn_write(s->c, out.data, out.len);
    }
    buf_free(&out);
    conn_flush(s->c);
    if (s->body_end) {
        s->st = SS_TXN;
        add(s, CMD_DOT, 0);
        s->exp_sent = s->nexp;
        session_set_timer(s, s->sc->p.t_data_done);
    } else {
        session_set_timer(s, s->sc->p.t_data_xfer);
    }
}

/* The CHUNKING counterpart of body_fill: each piece of the content becomes one BDAT
 * chunk with CRLF line ends; the end is an empty "BDAT 0 LAST". */
static void bdat_fill(struct session *s)
{
    struct buf out = BUF_INIT;
    while (!s->body_end && !s->bdat_failed &&
           (conn_out_pending(s->c) < BODY_HIGH_WATER || conn_flush(s->c))) {
        size_t len = 0;
        int r = next_piece(s, &len);
        if (r < 0) {
            buf_free(&out);
            return;
        }
        buf_reset(&out);
        dotstuff_encode(&s->ds, s->chunk, len, &out); /* CRLF (and long lines broken) only */
        s->body_end = r == 0;
        char head[48];
        int hl = snprintf(head, sizeof head, "BDAT %zu%s\r\n", out.len, r == 0 ? " LAST" : "");
        conn_write(s->c, head, (size_t)hl);
        conn_write(s->c, out.data ? out.data : "", out.len);
        add(s, r == 0 ? CMD_BDAT_LAST : CMD_BDAT, 0);
        s->exp_sent = s->nexp;
    }
    buf_free(&out);
    conn_flush(s->c);
    if (s->body_end || s->bdat_failed)
        s->st = SS_TXN;
    session_set_timer(s, timeout_for(s, s->exp[s->exp_done].cmd));
}

static void body_start(struct session *s)
{
    s->st = SS_BODY;
    s->body_end = false;
    queue_body_start(&s->d->msg, &s->body);
    dotstuff_init(&s->ds);
    s->ds.max_line = s->sc->p.line_length_limit;
    s->ds.no_dots = s->bdat;
    if (!s->chunk)
        s->chunk = xmalloc(QUEUE_CHUNK);
    log_debug("> %s: (message content, %zu bytes%s)", s->relay, s->d->msg.body_size,
              s->bdat ? ", BDAT" : "");
    if (s->bdat)
        bdat_fill(s);
    else
        body_fill(s);
}

void session_body_drained(struct session *s)
{
    if (s->bdat)
        bdat_fill(s);
    else
        body_fill(s);
}

/* --- replies --- */

static void result_for_accepted(struct session *s, const char *command)
{
    struct delivery *d = s->d;
    int cls = smtp_reply_class(&s->rep);
    char dsn[16], text[SMTP_REPLY_TEXT_MAX + 16];
    session_dsn(&s->rep, dsn, sizeof dsn);
    char *why = cls == 2 ? NULL : smtpc_said(s->said_host, &s->rep, command);
    if (cls == 2)
        smtp_reply_describe(&s->rep, text, sizeof text);
    for (size_t k = 0; k < d->n; k++)
        if (d->r[k].accepted && d->r[k].state == RC_PENDING)
            delivery_rcpt_result(d, k, cls == 2 ? 2 : cls == 5 ? 5 : 4, dsn, why ? why : text,
                                 s->relay);
    free(why);
}

static void mail_reply(struct session *s)
{
    int cls = smtp_reply_class(&s->rep);
    if (cls == 2)
        return;
    s->mail_failed = true;
    char dsn[16];
    session_dsn(&s->rep, dsn, sizeof dsn);
    char *why = smtpc_said(s->said_host, &s->rep, "MAIL FROM");
    for (size_t i = 0; i < s->nexp; i++)
        if (s->exp[i].cmd == CMD_RCPT)
            delivery_rcpt_result(s->d, s->exp[i].rcpt, cls == 5 ? 5 : 4, dsn, why, s->relay);
    free(why);
}

static void rcpt_reply(struct session *s, size_t k)
{
    if (s->mail_failed)
        return;
    int cls = smtp_reply_class(&s->rep);
    if (cls == 2) {
        s->d->r[k].accepted = true;
        s->d->r[k].dsn_passed = (s->ehlo.ext & SMTP_EXT_DSN) != 0;
        s->accepted++;
        return;
    }
    char dsn[16];
    session_dsn(&s->rep, dsn, sizeof dsn);
    char *why = smtpc_said(s->said_host, &s->rep, "RCPT TO");
    delivery_rcpt_result(s->d, k, cls == 5 ? 5 : 4, dsn, why, s->relay);
    free(why);
}

/* true when the transaction goes on (content or more replies), false when it ended. */
static bool data_reply(struct session *s)
{
    int cls = smtp_reply_class(&s->rep);
    /* RFC 5321 sec 4.3.2: DATA's only positive reply is the intermediate 354 (any 3xx, as
     * Postfix takes it). A 2xx here is no acceptance of a message not yet sent: the server is
     * broken or the replies are out of step (an extra line, injected or not), and taking
     * it for "sent" would lose the message. */
    if (cls == 2 || cls < 2 || cls > 5) {
        char *why = smtpc_said(s->said_host, &s->rep, "DATA");
        char *reason = xasprintf("protocol error: unexpected reply to DATA: %s", why);
        session_fail(s, 4, "4.5.0", reason, false, false);
        free(reason);
        free(why);
        return false;
    }
    if (cls == 3) {
        if (s->mail_failed || s->accepted == 0) { /* nothing to send: end it at once */
            add(s, CMD_LONE_DOT, 0);
            send_one(s, &s->exp[s->nexp - 1]);
            s->exp_sent = s->nexp;
            session_set_timer(s, s->sc->p.t_data_done);
            return true;
        }
        body_start(s);
        return true;
    }
    if (!s->mail_failed && s->accepted > 0)
        result_for_accepted(s, "DATA");
    s->need_rset = !s->mail_failed;
    txn_end(s, s->rep.code != 421);
    return false;
}

/* A reply to a BDAT chunk; true when the transaction goes on. */
static bool bdat_reply(struct session *s, enum cmd cmd)
{
    if (!s->bdat_failed && smtp_reply_class(&s->rep) != 2) {
        result_for_accepted(s, cmd == CMD_BDAT_LAST ? "end of data" : "BDAT");
        s->bdat_failed = true;
    } else if (cmd == CMD_BDAT_LAST && !s->bdat_failed) {
        result_for_accepted(s, "end of data");
    }
    if (s->rep.code == 421 || (s->exp_done == s->exp_sent && (s->body_end || s->bdat_failed))) {
        s->need_rset = s->bdat_failed;
        txn_end(s, s->rep.code != 421);
        return false;
    }
    return true;
}

/* With CHUNKING, the content starts once every RCPT is answered: false when the
 * transaction ended instead (nothing accepted). */
static bool bdat_start(struct session *s)
{
    if (s->mail_failed || s->accepted == 0) {
        s->need_rset = !s->mail_failed;
        txn_end(s, true);
        return false;
    }
    body_start(s);
    return true;
}

void session_txn_reply(struct session *s)
{
    bool in_bdat = s->bdat && s->exp_done < s->exp_sent &&
                   (s->exp[s->exp_done].cmd == CMD_BDAT || s->exp[s->exp_done].cmd == CMD_BDAT_LAST);
    if ((s->st != SS_TXN && !in_bdat) || s->exp_done >= s->exp_sent) {
        session_fail(s, 4, "4.5.0", "unexpected reply from the server", false, false);
        return;
    }
    const struct expect x = s->exp[s->exp_done++];
    switch (x.cmd) {
    case CMD_RSET:
        if (smtp_reply_class(&s->rep) != 2) {
            char *why = smtpc_said(s->said_host, &s->rep, "RSET");
            session_fail(s, 4, "4.4.2", why, true, false);
            free(why);
            return;
        }
        break;
    case CMD_MAIL: mail_reply(s); break;
    case CMD_RCPT: rcpt_reply(s, x.rcpt); break;
    case CMD_DATA:
        if (!data_reply(s))
            return;
        break;
    case CMD_DOT:
        result_for_accepted(s, "end of DATA");
        txn_end(s, s->rep.code != 421);
        return;
    case CMD_LONE_DOT:
        txn_end(s, s->rep.code != 421);
        return;
    case CMD_BDAT:
    case CMD_BDAT_LAST:
        if (!bdat_reply(s, x.cmd))
            return;
        if (s->st == SS_BODY)
            return; /* more chunks go out as the socket drains */
        break;
    }
    if (s->bdat && s->st == SS_TXN && s->exp_done == s->nexp && !s->body_end && !s->bdat_failed) {
        bdat_start(s);
        return;
    }
    if (s->st == SS_TXN && s->exp_done < s->exp_sent)
        session_set_timer(s, timeout_for(s, s->exp[s->exp_done].cmd));
    else if (s->st == SS_TXN)
        send_next(s);
}
