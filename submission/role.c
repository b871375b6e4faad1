/* role.c - submission's role on the SMTP server engine (lib/smtpserver/smtpd.h): the hooks
 * that make smtpd's protocol engine a message submission agent (RFC 6409, doc/submission.md).
 * MAIL needs an authenticated user (530 5.7.0) and an envelope sender the user owns
 * (553 5.7.1; the null sender is allowed, for notifications); MAIL and RCPT count against the
 * user's limits; an authenticated user may relay. */
#include "log.h"
#include "mem.h"
#include "submission.h"
#include <stdlib.h>
#include <string.h>

static void session_start(struct session *s)
{
    struct sub_session *ss = xcalloc(1, sizeof *ss);
    ss->sub = sub_of(s);
    s->role = ss;
}

static void session_end(struct session *s)
{
    struct sub_session *ss = ss_of(s);
    auth_forget(s);
    limits_forget(s);
    headers_reset(&ss->hc);
    free(ss);
    s->role = NULL;
}

/* RFC 3207 sec 4.2: nothing learned before TLS counts, an authentication included. */
static void tls_started(struct session *s)
{
    auth_forget(s);
    free(s->auth_user);
    s->auth_user = NULL;
}

static enum smtpd_verdict mail(struct session *s)
{
    struct sub_session *ss = ss_of(s);
    const struct smtp_path *from = &s->txn.mail->from;
    ss->held = false;
    headers_reset(&ss->hc);
    if (!s->auth_user) {
        session_reject(s, "MAIL", NULL, "530 5.7.0 Authentication required");
        return SMTPD_REFUSED;
    }
    enum owner o = from->null ? OWNER_YES : sender_owner(s, s->auth_user, from->addr);
    if (o == OWNER_TEMPFAIL) {
        session_reject(s, "MAIL", NULL, "451 4.3.0 Error: temporary lookup failure");
        return SMTPD_REFUSED;
    }
    if (o == OWNER_NO) {
        char reply[600];
        snprintf(reply, sizeof reply, "553 5.7.1 <%.300s>: Sender address rejected: not owned by user %.200s",
                 from->addr, s->auth_user);
        session_reject(s, "MAIL", NULL, reply);
        return SMTPD_REFUSED;
    }
    return limits_check(s, NULL);
}

static bool relay(struct session *s) { return s->auth_user != NULL; }

static enum smtpd_verdict rcpt(struct session *s, const char *addr)
{
    if (s->txn.nrcpts >= sub_of(s)->recipient_limit) {
        session_reject(s, "RCPT", addr, "452 4.7.1 Error: too many recipients for one message");
        return SMTPD_REFUSED;
    }
    return limits_check(s, addr);
}

static bool hold(struct session *s)
{
    if (!ss_of(s)->held)
        return false;
    log_info("%s: hold: sasl_username=%s went past a hard sending limit; from=<%s>",
             msg_queue_id(s), s->auth_user, s->txn.mail->from.addr);
    return true;
}

/* Mail of an authenticated user is signed before it is queued (doc/dkim.md). */
static const struct dkim_client *signer(struct session *s)
{
    return s->auth_user ? &sub_of(s)->dkim : NULL;
}

const struct smtpd_hooks submission_hooks = {
    .session_start = session_start, .session_end = session_end, .tls_started = tls_started,
    .ehlo = auth_ehlo, .line = auth_line, .auth = auth_command, .mail = mail, .relay = relay,
    .rcpt = rcpt, .header = headers_field, .headers_end = headers_end, .hold = hold,
    .signer = signer,
};
