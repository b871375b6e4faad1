/* smtplog.c - what an SMTP session logs about its client, in Postfix's line shapes so that
 * the log tools operators already run (pflogsumm, fail2ban's postfix filter, logwatch) read
 * them (doc/smtpd.md, "Logs"):
 *   QUEUEID|NOQUEUE: reject: WHERE from NAME[ADDR]: REPLY; from=<S> to=<R> proto=ESMTP
 *       helo=<H> [sasl_method=M sasl_username=U]
 *   lost connection after WHERE from NAME[ADDR]        (WHERE "DATA (N bytes)" in content)
 *   timeout after WHERE from NAME[ADDR]
 *   disconnect from NAME[ADDR] ehlo=1 mail=1 rcpt=0/1 ... commands=2/3
 * NAME is the client's verified host name or "unknown" (peername.c). proto= is SMTP or ESMTP only
 * (as Postfix logs it; the Received: header's RFC 3848 name says more). */
#include "log.h"
#include "smtpd.h"
#include <stdio.h>
#include <string.h>

const char *const WHERE_DATA_CONTENT = "DATA content";
const char *const WHERE_BDAT_CONTENT = "BDAT content";
const char *const WHERE_EOM = "END-OF-MESSAGE";

static const char *log_proto(const struct session *s) { return s->esmtp ? "ESMTP" : "SMTP"; }

const char *session_where(const struct session *s, char *out, size_t outsize)
{
    if (s->last_cmd == WHERE_DATA_CONTENT || s->last_cmd == WHERE_BDAT_CONTENT) {
        snprintf(out, outsize, "%s (%llu bytes)", s->last_cmd == WHERE_DATA_CONTENT ? "DATA" : "BDAT",
                 s->content_bytes);
        return out;
    }
    return s->last_cmd;
}

void log_reject(struct session *s, const char *where, const char *reply, const char *to)
{
    const struct smtp_mail *m = s->txn.mail;
    struct buf b = BUF_INIT;
    buf_printf(&b, "%s: reject: %s from %s: %s;", s->txn.msg ? msg_queue_id(s) : "NOQUEUE",
               where, s->client, reply);
    if (m)
        buf_printf(&b, " from=<%s>", m->from.addr);
    if (to)
        buf_printf(&b, " to=<%s>", to);
    buf_printf(&b, " proto=%s", log_proto(s));
    if (s->helo)
        buf_printf(&b, " helo=<%s>", s->helo);
    if (s->auth_user)
        buf_printf(&b, " sasl_method=%s sasl_username=%s", s->auth_method, s->auth_user);
    log_info("%s", buf_cstr(&b));
    buf_free(&b);
}

/* "connect from NAME[ADDR]", once: when the name is known, or before the session's last
 * lines when the client left while its name was being looked up (Postfix logs it first). */
void log_connect(struct session *s)
{
    if (s->connect_logged)
        return;
    s->connect_logged = true;
    log_info("connect from %s", s->client);
}

void log_session_end(struct session *s, const char *reason)
{
    char where[64];
    log_connect(s);
    log_info("%s after %s from %s", reason, session_where(s, where, sizeof where),
             s->client);
}

void log_disconnect(struct session *s)
{
    struct buf b = BUF_INIT;
    log_connect(s);
    smtp_stats_format(&s->stats, &b);
    log_info("disconnect from %s%s", s->client, buf_cstr(&b));
    buf_free(&b);
}
