/* login_auth.c - the login role's authentication commands: USER/PASS (RFC 1939 sec 7),
 * AUTH PLAIN and AUTH LOGIN with and without an initial response (RFC 5034, RFC 4616),
 * the check in the worker (lib/login.h), and failed logins: the -ERR [AUTH] reply is held
 * back for auth_failure_delay (a timer; the loop keeps serving others) and the session is
 * closed once its address reaches auth_max_failures. Passwords are wiped after use and
 * never logged. */
#include "log.h"
#include "mem.h"
#include "pop3d.h"
#include "sasl.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool plaintext_refused(struct login_session *s)
{
    if (login_may_auth(s))
        return false;
    /* RFC 2595 sec 2.2: a server may refuse plaintext passwords before TLS. */
    login_error(s, "-ERR [AUTH] Plaintext authentication is not allowed without TLS; use STLS first.");
    return true;
}

static void wipe_buf(struct buf *b)
{
    if (b->data)
        explicit_bzero(b->data, b->len);
    buf_free(b);
}

static void on_delay(struct event_loop *loop, void *ctx)
{
    struct login_session *s = ctx;
    s->delay_timer = 0;
    s->wait_delay = false;
    if (s->held.len)
        conn_write(s->conn, s->held.data, s->held.len);
    buf_free(&s->held);
    if (s->close_after_delay || s->closing) {
        s->closing = false; /* login_close() again, now that the reply is out */
        login_close(s);
    } else {
        login_process(s);
    }
    login_reap(s);
}

static void auth_failed(struct login_session *s, const char *user)
{
    struct pop3d *d = s->d;
    unsigned count = login_penalty_fail(d->penalty, s->rip, event_now_ms());
    log_info("authentication failed: user=<%s>, method=%s, rip=%s, lip=%s%s, attempts=%u, session=<%s>",
             user ? user : "(invalid name)", s->method, s->rip, s->lip,
             conn_tls_active(s->conn) ? ", TLS" : "", count, s->id);
    if (d->p.failure_delay_ms > 0) {
        s->wait_delay = true;
        s->delay_timer = event_timer(d->srv->loop, d->p.failure_delay_ms, on_delay, s);
    }
    login_error(s, "-ERR [AUTH] Authentication failed.");
    if (count >= d->p.max_failures) {
        log_info("closing the session of %s: %u failed logins, session=<%s>", s->rip, count, s->id);
        login_reply(s, "-ERR [AUTH] Too many failed logins, closing the connection.");
        s->close_after_delay = true;
        if (!s->wait_delay)
            login_close(s);
    }
}

static void on_checked(void *ctx, enum login_auth_result result, const char *user,
                       const char *err)
{
    struct login_session *s = ctx;
    if (err)
        log_warn("%s", err);
    s->job = NULL;
    s->wait_auth = false;
    if (result == LOGIN_AUTH_OK) {
        login_penalty_clear(s->d->penalty, s->rip);
        s->auth_user = xstrdup(user);
        login_start_handoff(s);
    } else if (result == LOGIN_AUTH_TEMPFAIL) {
        login_reply(s, "-ERR [SYS/TEMP] Authentication is temporarily unavailable, try again later.");
    } else {
        auth_failed(s, user);
    }
    login_process(s);
    login_reap(s);
}

static void check(struct login_session *s, const char *name, const char *password, const char *method)
{
    s->method = method;
    char *user = login_user_name(name, s->d->p.default_domain);
    if (!user) {
        auth_failed(s, NULL);
        return;
    }
    s->wait_auth = true;
    s->job = login_auth_submit(s->d->auth, user, password, on_checked, s);
    free(user);
}

void login_auth_abort(struct login_session *s)
{
    s->state = L_CMD;
    if (s->user) {
        explicit_bzero(s->user, strlen(s->user));
        free(s->user);
        s->user = NULL;
    }
}

void login_cmd_user(struct login_session *s, const char *name)
{
    if (plaintext_refused(s))
        return;
    login_auth_abort(s);
    s->user = xstrdup(name);
    login_reply(s, "+OK");
}

void login_cmd_pass(struct login_session *s, const char *password)
{
    if (plaintext_refused(s))
        return;
    if (!s->user) {
        login_error(s, "-ERR No user name given: send USER first.");
        return;
    }
    char *user = s->user;
    s->user = NULL;
    check(s, user, password, "USER");
    free(user);
}

/* RFC 4616: [authzid] NUL authcid NUL passwd. */
static void plain_response(struct login_session *s, const char *b64)
{
    struct buf msg = BUF_INIT;
    struct sasl_creds cr = {0};
    s->state = L_CMD;
    s->method = "PLAIN";
    if (!base64_decode(b64, strlen(b64), &msg)) {
        login_error(s, "-ERR Invalid base64 data.");
    } else if (!sasl_plain_parse(msg.data ? msg.data : "", msg.len, &cr)) {
        auth_failed(s, NULL);
    } else if (cr.authzid && strcasecmp(cr.authzid, cr.authcid) != 0) {
        auth_failed(s, NULL); /* acting as another user is not supported */
    } else {
        check(s, cr.authcid, cr.passwd, "PLAIN");
    }
    sasl_creds_free(&cr);
    wipe_buf(&msg);
}

/* One base64 field of AUTH LOGIN, or NULL (after the -ERR) when invalid. */
static char *login_field(struct login_session *s, const char *b64)
{
    struct buf b = BUF_INIT;
    if (!base64_decode(b64, strlen(b64), &b) || b.len == 0 || memchr(b.data, 0, b.len)) {
        wipe_buf(&b);
        login_auth_abort(s);
        login_error(s, "-ERR Invalid base64 data.");
        return NULL;
    }
    char *v = xstrdup(buf_cstr(&b));
    wipe_buf(&b);
    return v;
}

static void login_user_step(struct login_session *s, const char *b64)
{
    char *user = login_field(s, b64);
    if (!user)
        return;
    s->user = user;
    s->state = L_AUTH_LOGIN_PASS;
    login_reply(s, "+ %s", SASL_LOGIN_PASS_PROMPT);
}

void login_cmd_auth(struct login_session *s, const char *mech, const char *initial)
{
    if (!mech) { /* the mechanism list some clients ask for with a bare AUTH */
        login_reply(s, "+OK");
        login_reply(s, "PLAIN");
        login_reply(s, "LOGIN");
        login_reply(s, ".");
        return;
    }
    if (plaintext_refused(s))
        return;
    login_auth_abort(s);
    /* RFC 5034 sec 4: "=" is an empty initial response. */
    if (strcasecmp(mech, "PLAIN") == 0) {
        if (initial)
            plain_response(s, strcmp(initial, "=") == 0 ? "" : initial);
        else {
            s->state = L_AUTH_PLAIN;
            login_reply(s, "+ ");
        }
    } else if (strcasecmp(mech, "LOGIN") == 0) {
        s->method = "LOGIN";
        if (initial) {
            login_user_step(s, strcmp(initial, "=") == 0 ? "" : initial);
        } else {
            s->state = L_AUTH_LOGIN_USER;
            login_reply(s, "+ %s", SASL_LOGIN_USER_PROMPT);
        }
    } else {
        login_error(s, "-ERR Unsupported authentication mechanism.");
    }
}

void login_auth_line(struct login_session *s, const char *line)
{
    if (strcmp(line, "*") == 0) { /* RFC 5034 sec 4: the client cancels */
        login_auth_abort(s);
        login_error(s, "-ERR Authentication cancelled.");
        return;
    }
    switch (s->state) {
    case L_AUTH_PLAIN:
        plain_response(s, line);
        break;
    case L_AUTH_LOGIN_USER:
        login_user_step(s, line);
        break;
    case L_AUTH_LOGIN_PASS: {
        char *pw = login_field(s, line);
        if (!pw)
            return;
        char *user = s->user;
        s->user = NULL;
        s->state = L_CMD;
        check(s, user, pw, "LOGIN");
        explicit_bzero(pw, strlen(pw));
        free(pw);
        free(user);
        break;
    }
    case L_CMD:
        break;
    }
}
