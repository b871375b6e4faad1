/* session_tls.c - STARTTLS (RFC 3207) and client AUTH (RFC 4954) of an SMTP session.
 *
 * TLS levels (smtp_tls_security_level, per destination smtp_tls_policy_maps): "may" starts
 * TLS when the server offers it, accepts any certificate and, when the handshake fails,
 * tries the same address again in plaintext (delivery.c); "encrypt" requires TLS; "verify"
 * and "secure" require a certificate that chains to smtp_tls_CAfile/CApath and names the
 * MX host (verify) or the next-hop domain (secure). The handshake always runs with the
 * names set, so the log line tells Untrusted (chain not trusted), Trusted (chain trusted,
 * name not matched) or Verified (both), as Postfix does; the level then decides.
 * MTA-STS "enforce" (sts.c) raises the level to verify; "testing" logs what verify would
 * have refused and goes on.
 * "dane" (dane.c decides it per MX host) requires TLS and a chain that matches the host's
 * DNSSEC-validated TLSA records (lib/io/tls), never falling back to plaintext.
 * After the handshake the session starts over with EHLO (RFC 3207 sec 4.2); any reply
 * bytes the server sent before the handshake were thrown away by lib/io/conn.
 *
 * AUTH only over TLS (a password never crosses the network in the clear): PLAIN, else
 * LOGIN (lib/auth/sasl_client.h); a refusal defers the mail. The credentials are never
 * logged; their buffers are wiped after sending. */
#include "session_int.h"
#include "sts.h"
#include "log.h"
#include "mem.h"
#include "sasl_client.h"
#include "tls.h"
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- STARTTLS --- */

bool session_want_starttls(struct session *s)
{
    return s->level != TLSL_NONE && !s->tls_on && (s->ehlo.ext & SMTP_EXT_STARTTLS) &&
           s->sc->tls && (s->st == SS_EHLO || s->st == SS_HELO);
}

void session_starttls(struct session *s)
{
    s->st = SS_STARTTLS;
    session_send(s, "STARTTLS");
    session_set_timer(s, s->sc->p.t_starttls);
}

static const char *verify_name(const struct session *s)
{
    if (s->level == TLSL_SECURE && s->d)
        return s->d->dest_name;
    return s->t.host;
}

void session_starttls_reply(struct session *s)
{
    if (smtp_reply_class(&s->rep) != 2) {
        if (s->level == TLSL_MAY) { /* opportunistic: go on without */
            s->level = TLSL_NONE;
            s->st = SS_EHLO;
            session_after_ehlo(s);
            return;
        }
        char dsn[16];
        session_dsn(&s->rep, dsn, sizeof dsn);
        dsn[0] = '4';
        char *said = smtpc_said(s->said_host, &s->rep, "STARTTLS");
        session_fail(s, 4, dsn, said, true, false);
        free(said);
        return;
    }
    struct tls_client_params p = {.sni = s->t.host, .verify_name = verify_name(s),
                                  .mode = TLS_VERIFY_NONE};
    if (s->level == TLSL_DANE) {
        p.tlsa = s->tlsa.rr;
        p.ntlsa = s->tlsa.n;
        p.dane_base = s->t.host;
        p.dane_nexthop = s->d ? s->d->dest_name : NULL;
    }
    char *err = NULL;
    s->st = SS_HANDSHAKE;
    if (conn_starttls_client(s->c, s->sc->tls, &p, &err) < 0) {
        char *why = xasprintf("cannot start TLS with %s: %s", s->said_host, err);
        session_fail(s, 4, "4.7.5", why, false, false);
        free(why);
        free(err);
        return;
    }
    session_set_timer(s, s->sc->p.t_starttls);
}

/* Why the level is verify, when the MTA-STS policy made it so (for reasons and logs). */
const char *sts_note(const struct session *s)
{
    return s->t.sts == MTA_STS_ENFORCE ? " (MTA-STS policy mode=enforce)" : "";
}

/* "Untrusted", "Trusted" or "Verified" (Postfix's words) for the finished handshake. */
static const char *trust_word(const struct tls_peer_check *pc)
{
    if (pc->trusted)
        return pc->name_checked ? "Verified" : "Trusted";
    return pc->code == X509_V_ERR_HOSTNAME_MISMATCH ? "Trusted" : "Untrusted";
}

void session_tls_ready(struct session *s)
{
    SSL *ssl = conn_ssl(s->c);
    struct tls_peer_check pc;
    char desc[160];
    tls_peer_check(ssl, &pc);
    tls_describe(ssl, desc, sizeof desc);
    s->tls_on = true;
    log_info("%s TLS connection established to %s: %s", trust_word(&pc), s->relay, desc);
    if (s->level == TLSL_DANE && !pc.trusted) { /* RFC 7672 sec 2.2: never deliver */
        char *why = xasprintf("Server certificate not trusted: no TLSA record of %s matched "
                              "(%s)", s->said_host, pc.reason);
        log_info("%s", why);
        session_fail(s, 4, "4.7.5", why, true, false);
        free(why);
        return;
    }
    if (!pc.trusted && (s->level == TLSL_VERIFY || s->level == TLSL_SECURE ||
                        s->t.sts == MTA_STS_TESTING)) {
        char *why = xasprintf("Server certificate not verified: %s (host %s, name %s)%s",
                              pc.reason, s->said_host, verify_name(s), sts_note(s));
        if (s->t.sts == MTA_STS_TESTING && s->level != TLSL_VERIFY && s->level != TLSL_SECURE) {
            if (s->d) /* RFC 8461 sec 5: testing only reports */
                sts_testing_failure(s->d, why);
            free(why);
        } else {
            log_info("%s", why);
            session_fail(s, 4, "4.7.5", why, true, false);
            free(why);
            return;
        }
    }
    session_ehlo(s);
}

/* --- AUTH --- */

bool session_want_auth(struct session *s)
{
    return s->d && s->d->sasl_user && s->sc->p.sasl_enable && (s->ehlo.ext & SMTP_EXT_AUTH) &&
           s->auth_step == 0;
}

static void auth_fail(struct session *s, char *why)
{
    session_fail(s, 4, "4.7.0", why, true, false);
    free(why);
}

/* The secret line: not logged, wiped after use. */
static void send_secret(struct session *s, const char *prefix, struct buf *b)
{
    conn_write(s->c, prefix, strlen(prefix));
    conn_write(s->c, b->data, b->len);
    conn_write(s->c, "\r\n", 2);
    conn_flush(s->c);
    explicit_bzero(b->data, b->len);
    buf_free(b);
}

void session_auth(struct session *s)
{
    if (!s->tls_on) {
        auth_fail(s, xasprintf("SASL authentication with %s refused: the connection is not "
                               "encrypted", s->said_host));
        return;
    }
    enum sasl_client_mech m = sasl_client_pick(s->ehlo.auth);
    struct buf b = BUF_INIT;
    s->st = SS_AUTH;
    session_set_timer(s, s->sc->p.t_mail);
    log_debug("> %s: AUTH %s (credentials not logged)", s->relay,
              m == SASL_CLIENT_PLAIN ? "PLAIN" : "LOGIN");
    if (m == SASL_CLIENT_PLAIN &&
        sasl_client_plain(NULL, s->d->sasl_user, s->d->sasl_pass, &b)) {
        s->auth_step = 3; /* the next reply is the outcome */
        send_secret(s, "AUTH PLAIN ", &b);
    } else if (m == SASL_CLIENT_LOGIN) {
        s->auth_step = 1;
        session_send(s, "AUTH LOGIN");
    } else {
        buf_free(&b);
        auth_fail(s, xasprintf("SASL authentication with %s failed: no usable mechanism "
                               "(offered: %s)", s->said_host, s->ehlo.auth));
    }
}

void session_auth_reply(struct session *s)
{
    int code = s->rep.code;
    if (code == 235) {
        s->auth_step = 4;
        session_ready(s);
        return;
    }
    if (code == 334 && (s->auth_step == 1 || s->auth_step == 2)) {
        struct buf b = BUF_INIT;
        if (sasl_client_login(s->auth_step - 1, s->d->sasl_user, s->d->sasl_pass, &b)) {
            s->auth_step++;
            send_secret(s, "", &b);
            session_set_timer(s, s->sc->p.t_mail);
            return;
        }
        buf_free(&b);
    }
    char *said = smtpc_said(s->said_host, &s->rep, "AUTH");
    char *why = xasprintf("SASL authentication failed; %s", said);
    free(said);
    session_fail(s, 4, "4.7.0", why, true, false);
    free(why);
}
