/* sasl_auth.c - the POP3 login commands: USER/PASS (RFC 1939 sec 7) and AUTH PLAIN and
 * AUTH LOGIN with and without an initial response (RFC 5034, RFC 4616). The credentials go
 * to the login skeleton's check (login_authenticate, lib/login/login_session.h), which
 * handles failures and the handoff. Names and passwords are wiped after use and never
 * logged. */
#include "mem.h"
#include "pop3_login.h"
#include "sasl.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct pop3_login *state(struct login_client *c) { return c->proto; }

static bool plaintext_refused(struct login_client *c)
{
    if (login_may_auth(c))
        return false;
    /* RFC 2595 sec 2.2: a server may refuse plaintext passwords before TLS. */
    login_error(c, "-ERR [AUTH] Plaintext authentication is not allowed without TLS; use STLS first.");
    return true;
}

static void wipe_buf(struct buf *b)
{
    if (b->data)
        explicit_bzero(b->data, b->len);
    buf_free(b);
}

void pop3_auth_abort(struct login_client *c)
{
    struct pop3_login *st = state(c);
    st->state = L_CMD;
    if (st->user) {
        explicit_bzero(st->user, strlen(st->user));
        free(st->user);
        st->user = NULL;
    }
}

void pop3_cmd_user(struct login_client *c, const char *name)
{
    if (plaintext_refused(c))
        return;
    pop3_auth_abort(c);
    state(c)->user = xstrdup(name);
    login_reply(c, "+OK");
}

/* Check the pending user name with password; the name is wiped and freed. */
static void check_pending_user(struct login_client *c, const char *password, const char *method)
{
    struct pop3_login *st = state(c);
    char *user = st->user;
    st->user = NULL;
    st->state = L_CMD;
    login_authenticate(c, user, password, method);
    explicit_bzero(user, strlen(user));
    free(user);
}

void pop3_cmd_pass(struct login_client *c, const char *password)
{
    if (plaintext_refused(c))
        return;
    if (!state(c)->user) {
        login_error(c, "-ERR No user name given: send USER first.");
        return;
    }
    check_pending_user(c, password, "USER");
}

/* RFC 4616: [authzid] NUL authcid NUL passwd. */
static void plain_response(struct login_client *c, const char *b64)
{
    struct buf msg = BUF_INIT;
    struct sasl_creds cr = {0};
    state(c)->state = L_CMD;
    if (!base64_decode(b64, strlen(b64), &msg)) {
        login_error(c, "-ERR Invalid base64 data.");
    } else if (!sasl_plain_parse(msg.data ? msg.data : "", msg.len, &cr)) {
        login_fail(c, "PLAIN");
    } else if (cr.authzid && strcasecmp(cr.authzid, cr.authcid) != 0) {
        login_fail(c, "PLAIN"); /* acting as another user is not supported */
    } else {
        login_authenticate(c, cr.authcid, cr.passwd, "PLAIN");
    }
    sasl_creds_free(&cr);
    wipe_buf(&msg);
}

/* One base64 field of AUTH LOGIN, or NULL (after the -ERR) when invalid. */
static char *login_field(struct login_client *c, const char *b64)
{
    struct buf b = BUF_INIT;
    if (!base64_decode(b64, strlen(b64), &b) || b.len == 0 || memchr(b.data, 0, b.len)) {
        wipe_buf(&b);
        pop3_auth_abort(c);
        login_error(c, "-ERR Invalid base64 data.");
        return NULL;
    }
    char *v = xstrdup(buf_cstr(&b));
    wipe_buf(&b);
    return v;
}

static void login_user_step(struct login_client *c, const char *b64)
{
    char *user = login_field(c, b64);
    if (!user)
        return;
    state(c)->user = user;
    state(c)->state = L_AUTH_LOGIN_PASS;
    login_reply(c, "+ %s", SASL_LOGIN_PASS_PROMPT);
}

static void login_pass_step(struct login_client *c, const char *b64)
{
    char *pw = login_field(c, b64);
    if (!pw)
        return;
    check_pending_user(c, pw, "LOGIN");
    explicit_bzero(pw, strlen(pw));
    free(pw);
}

static void auth_mechanisms(struct login_client *c)
{
    login_reply(c, "+OK");
    login_reply(c, "PLAIN");
    login_reply(c, "LOGIN");
    login_reply(c, ".");
}

void pop3_cmd_auth(struct login_client *c, const char *mech, const char *initial)
{
    if (!mech) { /* the mechanism list some clients ask for with a bare AUTH */
        auth_mechanisms(c);
        return;
    }
    if (plaintext_refused(c))
        return;
    pop3_auth_abort(c);
    /* RFC 5034 sec 4: "=" is an empty initial response. */
    const char *response = initial && strcmp(initial, "=") == 0 ? "" : initial;
    if (strcasecmp(mech, "PLAIN") == 0) {
        if (response) {
            plain_response(c, response);
        } else {
            state(c)->state = L_AUTH_PLAIN;
            login_reply(c, "+ ");
        }
    } else if (strcasecmp(mech, "LOGIN") == 0) {
        if (response) {
            login_user_step(c, response);
        } else {
            state(c)->state = L_AUTH_LOGIN_USER;
            login_reply(c, "+ %s", SASL_LOGIN_USER_PROMPT);
        }
    } else {
        login_error(c, "-ERR Unsupported authentication mechanism.");
    }
}

void pop3_auth_line(struct login_client *c, const char *line)
{
    if (strcmp(line, "*") == 0) { /* RFC 5034 sec 4: the client cancels */
        pop3_auth_abort(c);
        login_error(c, "-ERR Authentication cancelled.");
        return;
    }
    switch (state(c)->state) {
    case L_AUTH_PLAIN: plain_response(c, line); break;
    case L_AUTH_LOGIN_USER: login_user_step(c, line); break;
    case L_AUTH_LOGIN_PASS: login_pass_step(c, line); break;
    case L_CMD: break;
    }
}
