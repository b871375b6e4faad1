/* commands.c - the IMAP side of the login program: assembling a command from its lines and
 * literals (RFC 9051 sec 4.3, LITERAL+ of RFC 7888), the not-authenticated state's commands
 * (CAPABILITY, NOOP, LOGOUT, STARTTLS, ID; LOGIN and AUTHENTICATE in auth.c) and every reply
 * the login skeleton (lib/login/login_session.h) asks for. A command may hold a password, so
 * its buffer is wiped after use. */
#include "imap_caps.h"
#include "imap_login.h"
#include "log.h"
#include "mem.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static struct imap_login *state(struct login_client *c) { return c->proto; }

void imap_login_tagged(struct login_client *c, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    login_reply(c, "%s %s", state(c)->tag, text);
}

static void caps(struct login_client *c, struct buf *out)
{
    imap_caps_prelogin(out, login_can_starttls(c), login_may_auth(c));
}

static void cmd_capability(struct login_client *c)
{
    struct buf b = BUF_INIT;
    caps(c, &b);
    login_reply(c, "* CAPABILITY %s", buf_cstr(&b));
    buf_free(&b);
    imap_login_tagged(c, "OK CAPABILITY completed.");
}

static void cmd_starttls(struct login_client *c)
{
    if (login_tls_active(c) || !login_can_starttls(c)) {
        login_error(c, "%s BAD %s", state(c)->tag,
                    login_tls_active(c) ? "TLS is already active." : "STARTTLS is not available.");
        return;
    }
    imap_login_tagged(c, "OK Begin TLS negotiation now.");
    login_starttls(c); /* RFC 9051 sec 6.2.1: what was pipelined after it is discarded */
}

/* RFC 2971: the client's identification is only logged; ours is the implementation name. */
static void cmd_id(struct login_client *c, const struct imap_command *cmd)
{
    if (!imap_id_params_valid(cmd)) {
        login_error(c, "%s BAD Syntax: ID (name value ...) or ID NIL.", state(c)->tag);
        return;
    }
    login_reply(c, "* ID (\"name\" \"%s\")", IMAP_IMPLEMENTATION);
    imap_login_tagged(c, "OK ID completed.");
}

static void dispatch(struct login_client *c, const struct imap_command *cmd)
{
    const char *n = cmd->name;
    if (strcmp(n, "CAPABILITY") == 0)
        cmd_capability(c);
    else if (strcmp(n, "NOOP") == 0)
        imap_login_tagged(c, "OK NOOP completed.");
    else if (strcmp(n, "LOGOUT") == 0) {
        login_reply(c, "* BYE Logging out.");
        imap_login_tagged(c, "OK LOGOUT completed.");
        login_close(c);
    } else if (strcmp(n, "STARTTLS") == 0)
        cmd_starttls(c);
    else if (strcmp(n, "ID") == 0)
        cmd_id(c, cmd);
    else if (strcmp(n, "LOGIN") == 0)
        imap_cmd_login(c, cmd);
    else if (strcmp(n, "AUTHENTICATE") == 0)
        imap_cmd_authenticate(c, cmd);
    else
        login_error(c, "%s BAD Command %s is unknown or not valid before login.", cmd->tag, n);
}

static void wipe(struct buf *b)
{
    if (b->data)
        explicit_bzero(b->data, b->len);
    buf_reset(b);
}

static void execute(struct login_client *c)
{
    struct imap_login *st = state(c);
    struct imap_command cmd;
    const char *err;
    enum imap_parse_result r = imap_tokenize(st->cmd.data, st->cmd.len, &cmd, &err);
    snprintf(st->tag, sizeof st->tag, "%s", cmd.tag);
    if (log_verbose() && r == IMAP_PARSE_OK)
        log_debug("< %s: %s %s", c->rip, cmd.tag, cmd.name); /* never the arguments */
    if (r == IMAP_PARSE_NO_TAG)
        login_error(c, "* BAD %s.", err);
    else if (r == IMAP_PARSE_BAD)
        login_error(c, "%s BAD %s.", cmd.tag, err);
    else
        dispatch(c, &cmd);
    for (size_t i = 0; i < cmd.nargs; i++) /* arguments may hold a password */
        if (cmd.args[i].type != IMAP_ARG_LIST)
            explicit_bzero((char *)cmd.args[i].str, cmd.args[i].len);
    imap_command_free(&cmd);
    wipe(&st->cmd);
}

/* The tag at the start of the command being assembled, for a refusal before it is whole:
 * read by imap_tokenize's rules, as execute() would (only the first word is given to it, so
 * no argument is copied), and "*" when it is not a valid tag. */
static void pending_tag(struct imap_login *st)
{
    const char *d = st->cmd.data ? st->cmd.data : "";
    size_t n = 0;
    while (n < st->cmd.len && d[n] != ' ' && d[n] != '\r' && d[n] != '\n')
        n++;
    struct imap_command cmd;
    const char *err;
    imap_tokenize(d, n, &cmd, &err);
    snprintf(st->tag, sizeof st->tag, "%s", cmd.tag[0] ? cmd.tag : "*");
    imap_command_free(&cmd);
}

/* The rest of a line after any literal bytes: the command ends here or a literal follows. */
static void line_end(struct login_client *c, const char *tail, size_t len)
{
    struct imap_login *st = state(c);
    struct imap_literal lit;
    int r = imap_literal_announced(tail, len, &lit);
    size_t limit = login_server_params(c->srv)->line_limit;
    if (r == 0) {
        execute(c);
        return;
    }
    if (r < 0 || lit.size > limit || st->cmd.len + lit.size > limit) {
        pending_tag(st);
        wipe(&st->cmd);
        if (r > 0 && lit.nonsync) { /* its bytes are on their way: no way to resynchronise */
            login_reply(c, "* BYE Literal too big (at most %zu bytes before login).", limit);
            login_close(c);
        } else {
            login_error(c, "%s BAD %s.", st->tag, r < 0 ? "Invalid literal" : "Literal too big");
        }
        return;
    }
    st->literal_left = lit.size + 1; /* + 1: still assembling even for {0} */
    if (!lit.nonsync)
        login_reply(c, "+ OK");
}

static void on_line(struct login_client *c, struct buf *line)
{
    struct imap_login *st = state(c);
    if (sasl_exchange_active(&st->sasl)) {
        imap_auth_line(c, buf_cstr(line));
        return;
    }
    /* The line end as the client sent it: literal octets are counted exactly. */
    size_t eol = c->line_bare ? 1 : 2;
    buf_append(&st->cmd, line->data ? line->data : "", line->len);
    buf_append(&st->cmd, c->line_bare ? "\n" : "\r\n", eol);
    const char *tail = line->data ? line->data : "";
    size_t len = line->len;
    if (st->literal_left > 0) { /* literal bytes come first (literal_left - 1 of them) */
        uint64_t want = st->literal_left - 1;
        if (want >= len + eol) { /* the whole line and its line end belong to the literal */
            st->literal_left -= len + eol; /* 1: complete; the next line goes on after it */
            return;
        }
        size_t skip = want < len ? (size_t)want : len;
        tail += skip;
        len -= skip;
        st->literal_left = 0;
    }
    line_end(c, tail, len);
}

static void line_too_long(struct login_client *c, size_t limit)
{
    struct imap_login *st = state(c);
    if (sasl_exchange_active(&st->sasl)) /* a SASL line: the AUTHENTICATE (st->tag) ends with this BAD */
        imap_auth_abort(c);
    else
        pending_tag(st);
    wipe(&st->cmd);
    st->literal_left = 0;
    login_error(c, "%s BAD Line too long (at most %zu bytes).", st->tag, limit);
}

static void greet(struct login_client *c)
{
    struct buf b = BUF_INIT;
    caps(c, &b);
    login_reply(c, "* OK [CAPABILITY %s] %s", buf_cstr(&b), login_server_params(c->srv)->greeting);
    buf_free(&b);
}

static void refuse_busy(struct login_client *c)
{
    login_reply(c, "* BYE [UNAVAILABLE] Too many connections, try again later.");
}

static void refuse_penalty(struct login_client *c)
{
    login_reply(c, "* BYE [UNAVAILABLE] Too many failed logins from your address, try later.");
}

static void too_many_errors(struct login_client *c)
{
    login_reply(c, "* BYE Too many invalid commands, closing the connection.");
}

static void timeout(struct login_client *c, long long seconds)
{
    login_reply(c, "* BYE Disconnected: no login within %lld seconds.", seconds);
}

static void auth_failed(struct login_client *c, bool last)
{
    imap_login_tagged(c, "NO [AUTHENTICATIONFAILED] Authentication failed.");
    if (last)
        login_reply(c, "* BYE Too many failed logins, closing the connection.");
}

static void auth_tempfail(struct login_client *c)
{
    imap_login_tagged(c, "NO [UNAVAILABLE] Authentication is temporarily unavailable, try again later.");
}

static void handoff_refused(struct login_client *c, const char *reason)
{
    /* The mailbox part says "[SYS/TEMP] text" (the handoff's shared wording): in IMAP that
     * is UNAVAILABLE (RFC 5530). */
    if (reason && strncmp(reason, "[SYS/TEMP]", 10) == 0)
        imap_login_tagged(c, "NO [UNAVAILABLE]%s", reason + 10);
    else if (reason)
        imap_login_tagged(c, "NO %s", reason);
    else
        imap_login_tagged(c, "NO [UNAVAILABLE] The mailbox is temporarily unavailable, try again later.");
}

static void forget(struct login_client *c)
{
    struct imap_login *st = state(c);
    imap_auth_abort(c);
    wipe(&st->cmd);
    buf_free(&st->cmd);
    st->literal_left = 0;
}

static void handoff_attrs(struct login_client *c, struct attrs *a)
{
    attrs_add(a, "tag", state(c)->tag);
}

const struct login_protocol imap_login_protocol = {
    .service = "imap",
    .starttls = "STARTTLS",
    .state_size = sizeof(struct imap_login),
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
    .forget = forget,
    .handoff_attrs = handoff_attrs,
};
