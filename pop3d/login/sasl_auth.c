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

void pop3_auth_abort(struct login_client *c)
{
    struct pop3_login *st = state(c);
    sasl_exchange_reset(&st->sasl);
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

void pop3_cmd_pass(struct login_client *c, const char *password)
{
    if (plaintext_refused(c))
        return;
    struct pop3_login *st = state(c);
    if (!st->user) {
        login_error(c, "-ERR No user name given: send USER first.");
        return;
    }
    char *user = st->user;
    st->user = NULL;
    login_authenticate(c, user, password, "USER");
    explicit_bzero(user, strlen(user));
    free(user);
}

/* Where the SASL exchange stands, in POP3's words (RFC 5034 sec 4). */
static void sasl_answer(struct login_client *c, enum sasl_status r, struct sasl_creds *cr,
                        const char *challenge)
{
    const char *mech = state(c)->sasl.mech;
    switch (r) {
    case SASL_CHALLENGE: login_reply(c, "+ %s", challenge); break;
    case SASL_DONE: login_authenticate(c, cr->authcid, cr->passwd, mech); break;
    case SASL_BAD_BASE64: login_error(c, "-ERR Invalid base64 data."); break;
    case SASL_MALFORMED: login_fail(c, cr->authcid, mech); break;
    case SASL_CANCELLED: login_error(c, "-ERR Authentication cancelled."); break;
    case SASL_UNSUPPORTED: login_error(c, "-ERR Unsupported authentication mechanism."); break;
    }
    sasl_creds_free(cr);
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
    struct sasl_creds cr = {0};
    const char *challenge = NULL;
    enum sasl_status r = sasl_exchange_start(&state(c)->sasl, mech, initial, &cr, &challenge);
    sasl_answer(c, r, &cr, challenge);
}

void pop3_auth_line(struct login_client *c, const char *line)
{
    struct sasl_creds cr = {0};
    const char *challenge = NULL;
    enum sasl_status r = sasl_exchange_step(&state(c)->sasl, line, &cr, &challenge);
    sasl_answer(c, r, &cr, challenge);
}
