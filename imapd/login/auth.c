/* auth.c - the IMAP login commands: LOGIN (RFC 9051 sec 6.2.3) and AUTHENTICATE PLAIN and
 * LOGIN with and without an initial response (RFC 9051 sec 6.2.2, SASL-IR of RFC 4959,
 * RFC 4616). The credentials go to the login skeleton's check (login_authenticate,
 * lib/login/login_session.h), which applies the login limits and does the handoff; the
 * mailbox part then answers the tagged OK. Names and passwords are wiped after use and never
 * logged. */
#include "imap_login.h"
#include "mem.h"
#include "sasl.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct imap_login *state(struct login_client *c) { return c->proto; }

static bool plaintext_refused(struct login_client *c)
{
    if (login_may_auth(c))
        return false;
    /* RFC 9051 sec 6.2.3 (LOGINDISABLED), RFC 5530 PRIVACYREQUIRED */
    imap_login_tagged(c, "NO [PRIVACYREQUIRED] Plaintext authentication is not allowed without TLS; use STARTTLS first.");
    return true;
}

static void wipe_buf(struct buf *b)
{
    if (b->data)
        explicit_bzero(b->data, b->len);
    buf_free(b);
}

void imap_auth_abort(struct login_client *c)
{
    struct imap_login *st = state(c);
    st->state = L_CMD;
    if (st->user) {
        explicit_bzero(st->user, strlen(st->user));
        free(st->user);
        st->user = NULL;
    }
}

void imap_cmd_login(struct login_client *c, const struct imap_command *cmd)
{
    if (cmd->nargs != 2 || !imap_arg_is_astring(&cmd->args[0]) || !imap_arg_is_astring(&cmd->args[1]) ||
        memchr(cmd->args[0].str, 0, cmd->args[0].len) || memchr(cmd->args[1].str, 0, cmd->args[1].len)) {
        login_error(c, "%s BAD Syntax: LOGIN user password.", cmd->tag);
        return;
    }
    if (plaintext_refused(c))
        return;
    login_authenticate(c, cmd->args[0].str, cmd->args[1].str, "LOGIN");
}

/* RFC 4616: [authzid] NUL authcid NUL passwd. */
static void plain_response(struct login_client *c, const char *b64)
{
    struct buf msg = BUF_INIT;
    struct sasl_creds cr = {0};
    state(c)->state = L_CMD;
    if (!base64_decode(b64, strlen(b64), &msg)) {
        login_error(c, "%s BAD Invalid base64 data.", state(c)->tag);
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

/* One base64 field of AUTHENTICATE LOGIN, or NULL (after the BAD) when invalid. */
static char *login_field(struct login_client *c, const char *b64)
{
    struct buf b = BUF_INIT;
    if (!base64_decode(b64, strlen(b64), &b) || b.len == 0 || memchr(b.data, 0, b.len)) {
        wipe_buf(&b);
        imap_auth_abort(c);
        login_error(c, "%s BAD Invalid base64 data.", state(c)->tag);
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
    struct imap_login *st = state(c);
    char *user = st->user;
    st->user = NULL;
    st->state = L_CMD;
    login_authenticate(c, user, pw, "LOGIN");
    explicit_bzero(user, strlen(user));
    free(user);
    explicit_bzero(pw, strlen(pw));
    free(pw);
}

void imap_cmd_authenticate(struct login_client *c, const struct imap_command *cmd)
{
    if (cmd->nargs < 1 || cmd->nargs > 2 || cmd->args[0].type != IMAP_ARG_ATOM ||
        (cmd->nargs == 2 && cmd->args[1].type != IMAP_ARG_ATOM)) {
        login_error(c, "%s BAD Syntax: AUTHENTICATE mechanism [initial-response].", cmd->tag);
        return;
    }
    if (plaintext_refused(c))
        return;
    imap_auth_abort(c);
    const char *mech = cmd->args[0].str;
    /* RFC 4959 sec 3: "=" is an empty initial response. */
    const char *initial = cmd->nargs == 2 ? cmd->args[1].str : NULL;
    if (initial && strcmp(initial, "=") == 0)
        initial = "";
    if (strcasecmp(mech, "PLAIN") == 0) {
        if (initial) {
            plain_response(c, initial);
        } else {
            state(c)->state = L_AUTH_PLAIN;
            login_reply(c, "+ ");
        }
    } else if (strcasecmp(mech, "LOGIN") == 0) {
        if (initial) {
            login_user_step(c, initial);
        } else {
            state(c)->state = L_AUTH_LOGIN_USER;
            login_reply(c, "+ %s", SASL_LOGIN_USER_PROMPT);
        }
    } else {
        imap_login_tagged(c, "NO Unsupported authentication mechanism.");
    }
}

void imap_auth_line(struct login_client *c, const char *line)
{
    if (strcmp(line, "*") == 0) { /* RFC 9051 sec 6.2.2: a cancel is answered BAD */
        imap_auth_abort(c);
        login_error(c, "%s BAD Authentication cancelled.", state(c)->tag);
        return;
    }
    switch (state(c)->state) {
    case L_AUTH_PLAIN: plain_response(c, line); break;
    case L_AUTH_LOGIN_USER: login_user_step(c, line); break;
    case L_AUTH_LOGIN_PASS: login_pass_step(c, line); break;
    case L_CMD: break;
    }
}
