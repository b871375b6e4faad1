/* data.c - message content: DATA (dot-stuffed lines, RFC 5321 sec 4.1.1.4 and 4.5.2) and
 * BDAT (RFC 3030 length-counted chunks).
 *
 * End of DATA is only <CRLF>.<CRLF>: a line that is exactly "." and ends with CRLF, after a
 * line that also ended with CRLF. With smtpd_forbid_bare_newline:
 *   normalize (default): a bare LF ends a line (stored as a line end) but a line ending in a
 *            bare LF can be neither the "." line nor the line before it;
 *   reject:  a bare LF anywhere is answered with 521 and the session is closed, nothing
 *            queued;
 *   no:      a bare LF is just a byte of the line (stored as LF, no dot handling after it).
 * Bare CR bytes are kept as data. So none of "\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n",
 * "\r\n.\r\r\n", "\r\n\0.\r\n" ... can end a message early or smuggle a second one in.
 * Stored content has LF line ends (CRLF -> LF) and is dot-unstuffed. */
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
        log_warn("unknown[%s]: %s", s->addr, err);
        free(err);
        session_error(s, "451 4.3.0 Error: queue file write error");
        return;
    }
    s->mode = MODE_DATA;
    s->line_start = true;
    s->prev_crlf = !s->last_bare_lf;
    session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* At the start of a line beginning with '.': 1 end of data, 0 undecided (more input
 * needed), -1 an ordinary dot-stuffed line. */
static int dot_line(const struct session *s, const char *q, size_t n, bool eof)
{
    if (!eof && (n == 1 || (n == 2 && q[1] == '\r')))
        return 0;
    if (n >= 3 && q[1] == '\r' && q[2] == '\n' && s->prev_crlf)
        return 1;
    return -1;
}

bool data_input(struct session *s)
{
    size_t len, used = 0;
    const char *p = conn_data(s->conn, &len);
    bool eof = conn_eof(s->conn), end = false, bad_lf = false;
    enum bare_lf_mode mode = s->d->p.bare_lf;
    while (used < len) {
        const char *q = p + used;
        size_t n = len - used;
        if (s->line_start && q[0] == '.') {
            int d = dot_line(s, q, n, eof);
            if (d == 0)
                break;
            used += d == 1 ? 3 : 1; /* the end, or remove the stuffed dot */
            s->line_start = false;
            if (d == 1) {
                end = true;
                break;
            }
            continue;
        }
        s->line_start = false;
        const char *nl = memchr(q, '\n', n);
        if (!nl) {
            size_t take = (q[n - 1] == '\r' && !eof) ? n - 1 : n; /* CR may start a CRLF */
            if (take == 0)
                break;
            msg_write(s, q, take);
            used += take;
            continue;
        }
        size_t k = (size_t)(nl - q);
        bool crlf = k > 0 && q[k - 1] == '\r';
        used += k + 1;
        if (!crlf && mode == BARE_LF_REJECT) {
            bad_lf = true;
            break;
        }
        if (!crlf && mode == BARE_LF_ALLOW) {
            msg_write(s, q, k + 1);
            continue;
        }
        msg_write(s, q, crlf ? k - 1 : k);
        msg_write(s, "\n", 1);
        s->line_start = true;
        s->prev_crlf = crlf;
    }
    conn_consume(s->conn, used);
    if (bad_lf) {
        session_bare_lf(s);
        return true;
    }
    if (end) {
        s->mode = MODE_CMD;
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
    s->bdat_left = size;
    s->bdat_size = size;
    s->bdat_last = last;
    s->bdat_reply = bdat_refusal(s, size);
    if (!s->bdat_reply && !s->txn.msg) {
        char *err = NULL;
        if (!msg_start(s, &err)) {
            log_warn("unknown[%s]: %s", s->addr, err);
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
    s->bdat_left -= take;
    if (s->bdat_left == 0)
        bdat_chunk_done(s);
    return true;
}
