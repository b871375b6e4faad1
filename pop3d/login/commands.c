/* commands.c - the POP3 side of the login program: the AUTHORIZATION state's command
 * table (CAPA, STLS, QUIT; USER/PASS/AUTH in sasl_auth.c) and every reply the login
 * skeleton (lib/login/login_session.h) asks for: greeting, refusals, error limit, timeout,
 * failed logins and a refused handoff. */
#include "log.h"
#include "pop3_login.h"
#include "pop3_proto.h"
#include <string.h>

static struct pop3_login *state(struct login_client *c) { return c->proto; }

static void cmd_capa(struct login_client *c)
{
    login_reply(c, "+OK Capability list follows");
    login_reply(c, "TOP");
    login_reply(c, "UIDL");
    login_reply(c, "RESP-CODES");
    login_reply(c, "AUTH-RESP-CODE");
    login_reply(c, "PIPELINING");
    if (login_may_auth(c)) { /* RFC 2595 sec 2.3: only what this connection may use */
        login_reply(c, "USER");
        login_reply(c, "SASL PLAIN LOGIN");
    }
    if (login_can_starttls(c))
        login_reply(c, "STLS");
    login_reply(c, "IMPLEMENTATION %s", POP3_IMPLEMENTATION);
    login_reply(c, ".");
}

static void cmd_stls(struct login_client *c)
{
    if (login_tls_active(c)) {
        login_error(c, "-ERR TLS is already active.");
        return;
    }
    if (!login_can_starttls(c)) {
        login_error(c, "-ERR STLS is not available.");
        return;
    }
    login_reply(c, "+OK Begin TLS negotiation now.");
    login_starttls(c);
}

static void command(struct login_client *c, struct buf *line)
{
    struct pop3_command cmd;
    const char *err;
    enum pop3_parse r = pop3_parse(line->data, line->len, &cmd, &err);
    if (log_verbose() && cmd.cmd != POP3_PASS && cmd.cmd != POP3_AUTH)
        log_debug("< %s: %s", c->rip, buf_cstr(line));
    char refusal[160];
    if (pop3_parse_reply(r, err, refusal, sizeof refusal)) {
        login_error(c, "%s", refusal);
        return;
    }
    switch (cmd.cmd) {
    case POP3_CAPA: cmd_capa(c); break;
    case POP3_STLS: cmd_stls(c); break;
    case POP3_USER: pop3_cmd_user(c, cmd.arg); break;
    case POP3_PASS: pop3_cmd_pass(c, cmd.arg); break;
    case POP3_AUTH: pop3_cmd_auth(c, cmd.arg, cmd.arg2); break;
    case POP3_APOP: login_error(c, "-ERR APOP is not supported."); break;
    case POP3_QUIT:
        login_reply(c, "+OK Logging out.");
        login_close(c);
        break;
    default:
        login_error(c, "-ERR Not logged in: %s is valid only in the TRANSACTION state.", cmd.keyword);
    }
    explicit_bzero(line->data, line->len);
}

/* --- the login skeleton's hooks --- */

static void on_line(struct login_client *c, struct buf *line)
{
    if (sasl_exchange_active(&state(c)->sasl))
        pop3_auth_line(c, buf_cstr(line));
    else
        command(c, line);
}

static void line_too_long(struct login_client *c, size_t limit)
{
    if (sasl_exchange_active(&state(c)->sasl))
        pop3_auth_abort(c);
    login_error(c, "-ERR Line too long (at most %zu bytes).", limit);
}

static void greet(struct login_client *c)
{
    login_reply(c, "+OK %s", login_server_params(c->srv)->greeting);
}

static void refuse_busy(struct login_client *c)
{
    login_reply(c, "-ERR [SYS/TEMP] Too many connections, try again later.");
}

/* RFC 3206 sec 4: [SYS/TEMP], not [AUTH]: the refusal is about the address, not about the
 * credentials, and a client that sees [AUTH] asks its user for another password (which
 * would be refused alike until login_penalty_time has passed). */
static void refuse_penalty(struct login_client *c)
{
    login_reply(c, "-ERR [SYS/TEMP] Too many failed logins from your address, try later.");
}

static void too_many_errors(struct login_client *c)
{
    login_reply(c, "-ERR Too many errors, closing the connection.");
}

static void timeout(struct login_client *c, long long seconds)
{
    login_reply(c, "-ERR Disconnected: no login within %lld seconds.", seconds);
}

/* One reply per command (POP3 has no unsolicited responses): the last says the session ends. */
static void auth_failed(struct login_client *c, bool last)
{
    login_error(c, last ? "-ERR [AUTH] Authentication failed. Too many failed logins, closing the "
                          "connection."
                        : "-ERR [AUTH] Authentication failed.");
}

static void auth_tempfail(struct login_client *c)
{
    login_reply(c, "-ERR [SYS/TEMP] Authentication is temporarily unavailable, try again later.");
}

static void handoff_refused(struct login_client *c, const char *reason)
{
    if (reason)
        login_reply(c, "-ERR %s", reason);
    else
        login_reply(c, "-ERR [SYS/TEMP] Internal error, try again later.");
}

const struct login_protocol pop3_login_protocol = {
    .service = "pop3",
    .starttls = "STLS",
    .state_size = sizeof(struct pop3_login),
    .line = on_line,
    .line_too_long = line_too_long,
    .greet = greet,
    .refuse_busy = refuse_busy,
    .refuse_penalty = refuse_penalty,
    .too_many_errors = too_many_errors,
    .timeout = timeout,
    .auth_failed = auth_failed,
    .auth_tempfail = auth_tempfail,
    .handoff_refused = handoff_refused,
    .forget = pop3_auth_abort,
};
