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

void imap_auth_abort(struct login_client *c) { sasl_exchange_reset(&state(c)->sasl); }

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

/* Where the SASL exchange stands, in IMAP's words (RFC 9051 sec 6.2.2). */
static void sasl_answer(struct login_client *c, enum sasl_status r, struct sasl_creds *cr,
                        const char *challenge)
{
    const char *mech = state(c)->sasl.mech, *tag = state(c)->tag;
    switch (r) {
    case SASL_CHALLENGE: login_reply(c, "+ %s", challenge); break;
    case SASL_DONE: login_authenticate(c, cr->authcid, cr->passwd, mech); break;
    case SASL_BAD_BASE64: login_error(c, "%s BAD Invalid base64 data.", tag); break;
    case SASL_MALFORMED: login_fail(c, cr->authcid, mech); break;
    /* a cancel is answered BAD */
    case SASL_CANCELLED: login_error(c, "%s BAD Authentication cancelled.", tag); break;
    case SASL_UNSUPPORTED: imap_login_tagged(c, "NO Unsupported authentication mechanism."); break;
    }
    sasl_creds_free(cr);
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
    struct sasl_creds cr = {0};
    const char *challenge = NULL;
    enum sasl_status r = sasl_exchange_start(&state(c)->sasl, cmd->args[0].str,
                                             cmd->nargs == 2 ? cmd->args[1].str : NULL, &cr,
                                             &challenge);
    sasl_answer(c, r, &cr, challenge);
}

void imap_auth_line(struct login_client *c, const char *line)
{
    struct sasl_creds cr = {0};
    const char *challenge = NULL;
    enum sasl_status r = sasl_exchange_step(&state(c)->sasl, line, &cr, &challenge);
    sasl_answer(c, r, &cr, challenge);
}
