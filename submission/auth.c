/* auth.c - SMTP AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN, initial responses
 * included. The exchange is lib/auth/sasl.h's; the check runs under the login limits every
 * login process shares (lib/auth/auth_attempt.h: anvil first, then the password worker,
 * failures counted per client address across processes and services). AUTH is offered and
 * accepted only under TLS (538 5.7.11 otherwise, RFC 4954 sec 4 and 6), unless
 * submission_plaintext_auth_loopback lets a loopback client do without. Names and passwords
 * are wiped after use and never logged. */
#include "log.h"
#include "mem.h"
#include "submission.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* 127.0.0.0/8, ::1, or ::ffff:127.x.y.z. */
static bool loopback(const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, addr, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) != 1)
        return false;
    if (IN6_IS_ADDR_LOOPBACK(&a6))
        return true;
    return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
}

static bool may_auth(const struct session *s)
{
    return conn_tls_active(s->conn) || (sub_of(s)->plaintext_loopback && loopback(s->addr));
}

void auth_ehlo(struct session *s)
{
    if (may_auth(s) && !s->auth_user)
        session_reply(s, "250-AUTH PLAIN LOGIN");
}

void auth_forget(struct session *s)
{
    struct sub_session *ss = ss_of(s);
    sasl_exchange_reset(&ss->sasl);
    auth_attempt_forget(ss->attempt);
    ss->attempt = NULL;
}

/* Logged in Postfix's shape too, which fail2ban's postfix-sasl filter matches
 * (doc/submission.md, "AUTH"). */
static void failed(struct session *s, const struct auth_outcome *o)
{
    struct submission *sub = sub_of(s);
    const char *mech = ss_of(s)->sasl.mech;
    log_warn("%s: SASL %s authentication failed: authentication failure", s->client,
             mech ? mech : "PLAIN");
    if (sub->failure_delay_ms > 0)
        sess_hold(s->sess, (long)sub->failure_delay_ms);
    session_error(s, "535 5.7.8 Error: authentication failed: authentication failure");
    if (o->last) {
        log_info("too many failed logins from %s: %u", s->client, o->failures);
        session_reply(s, "421 4.7.0 %s Error: too many failed logins", s->d->p.hostname);
        sess_close_after_hold(s->sess);
    }
}

static void on_outcome(void *owner, const struct auth_outcome *o)
{
    struct session *s = owner;
    struct sub_session *ss = ss_of(s);
    ss->attempt = NULL;
    switch (o->kind) {
    case AUTH_OUTCOME_OK:
        s->auth_user = xstrdup(o->user);
        s->auth_method = ss->sasl.mech;
        session_reply(s, "235 2.7.0 Authentication successful");
        break;
    case AUTH_OUTCOME_FAILED:
        failed(s, o);
        break;
    case AUTH_OUTCOME_TEMPFAIL:
        session_reply(s, "454 4.7.0 Temporary authentication failure");
        break;
    case AUTH_OUTCOME_REFUSED:
        session_reply(s, "421 4.7.0 %s Error: too many failed logins from %s, try again later",
                      s->d->p.hostname, s->addr);
        session_close(s);
        break;
    }
    session_resume(s);
}

static struct auth_client_info who(const struct session *s)
{
    return (struct auth_client_info){.rip = s->addr, .tls = conn_tls_active(s->conn)};
}

/* Where the SASL exchange stands, in SMTP's words (RFC 4954 sec 4 and 6). */
static void answer(struct session *s, enum sasl_status r, struct sasl_creds *cr,
                   const char *challenge)
{
    struct sub_session *ss = ss_of(s);
    struct auth_client_info w = who(s);
    switch (r) {
    case SASL_CHALLENGE:
        session_reply(s, "334 %s", challenge);
        break;
    case SASL_DONE:
    case SASL_MALFORMED: /* no password: a failed login, under the limits like any other */
        ss->attempt = auth_attempt_start(sub_of(s)->guard, &w, cr->authcid,
                                         r == SASL_DONE ? cr->passwd : NULL, ss->sasl.mech,
                                         on_outcome, s);
        s->wait_role = true;
        break;
    case SASL_BAD_BASE64:
        session_error(s, "501 5.5.2 Error: cannot decode the response");
        break;
    case SASL_CANCELLED:
        session_error(s, "501 5.7.0 Error: authentication aborted");
        break;
    case SASL_UNSUPPORTED:
        session_error(s, "504 5.5.4 Error: unsupported authentication mechanism");
        break;
    }
    sasl_creds_free(cr);
}

/* Why AUTH cannot start now, or NULL. */
static const char *refusal(const struct session *s)
{
    if (!s->helo)
        return "503 5.5.1 Error: send HELO/EHLO first";
    if (s->auth_user)
        return "503 5.5.1 Error: already authenticated";
    if (s->txn.active) /* RFC 4954 sec 4 */
        return "503 5.5.1 Error: MAIL transaction in progress";
    if (!may_auth(s))
        return "538 5.7.11 Encryption required for requested authentication mechanism";
    return NULL;
}

void auth_command(struct session *s, const char *args)
{
    const char *why = refusal(s);
    if (why) {
        if (strncmp(why, "538", 3) == 0)
            session_reject(s, "AUTH", NULL, why);
        else
            session_error(s, "%s", why);
        return;
    }
    /* AUTH mechanism [initial-response] */
    const char *sp = strchr(args, ' ');
    char *mech = sp ? xstrndup(args, (size_t)(sp - args)) : xstrdup(args);
    const char *initial = sp ? sp + 1 : NULL;
    if (!mech[0] || (initial && (!initial[0] || strchr(initial, ' ')))) {
        free(mech);
        session_error(s, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
        return;
    }
    struct sasl_creds cr = {0};
    const char *challenge = NULL;
    enum sasl_status r = sasl_exchange_start(&ss_of(s)->sasl, mech, initial, &cr, &challenge);
    free(mech);
    answer(s, r, &cr, challenge);
}

bool auth_line(struct session *s, const char *line, size_t len)
{
    struct sub_session *ss = ss_of(s);
    if (!sasl_exchange_active(&ss->sasl))
        return false;
    if (!line) { /* RFC 4954 sec 4: a response it cannot use ends the exchange */
        sasl_exchange_reset(&ss->sasl);
        return false;
    }
    struct sasl_creds cr = {0};
    const char *challenge = NULL;
    enum sasl_status r = strlen(line) != len ? SASL_BAD_BASE64
                                             : sasl_exchange_step(&ss->sasl, line, &cr, &challenge);
    if (r == SASL_BAD_BASE64)
        sasl_exchange_reset(&ss->sasl);
    answer(s, r, &cr, challenge);
    return true;
}
