/* commands.c - SMTP commands other than DATA/BDAT: reading a command line, sequencing
 * (503 5.5.1), syntax (501 5.5.4, 502 5.5.2), EHLO and its extensions, MAIL with the size
 * and disk-space checks, RCPT with the recipient policy (recipient.c), STARTTLS, and the
 * small ones (RSET, NOOP, QUIT, VRFY, HELP). A role (smtpd.h) adds its EHLO lines, AUTH,
 * and its say on MAIL and RCPT, possibly after a wait. */
#include "log.h"
#include "mem.h"
#include "smtpd.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>

/* A policy refusal: logged Postfix-style (smtplog.c) and counted as an error. */
void session_reject(struct session *s, const char *cmd, const char *to, const char *reply)
{
    log_reject(s, cmd, reply, to);
    session_error(s, "%s", reply);
}

static void reject(struct session *s, const char *cmd, const char *to, const char *reply)
{
    session_reject(s, cmd, to, reply);
}

static bool need_tls(struct session *s, const char *cmd)
{
    if (s->d->p.tls_level != TLS_LEVEL_ENCRYPT || conn_tls_active(s->conn))
        return false;
    reject(s, cmd, NULL, "530 5.7.0 Must issue a STARTTLS command first");
    return true;
}

static void greet(struct session *s, const char *args, bool esmtp)
{
    struct smtpd *d = s->d;
    if (!smtp_helo_valid(args)) {
        session_error(s, "501 5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
        return;
    }
    txn_reset(s); /* RFC 5321 sec 4.1.4: EHLO also resets the transaction */
    free(s->helo);
    s->helo = xstrdup(args);
    s->esmtp = esmtp;
    if (!esmtp) {
        session_reply(s, "250 %s", d->p.hostname);
        return;
    }
    session_reply(s, "250-%s", d->p.hostname);
    session_reply(s, "250-PIPELINING");
    session_reply(s, "250-SIZE %lld", d->p.size_limit);
    session_reply(s, "250-8BITMIME");
    session_reply(s, "250-ENHANCEDSTATUSCODES");
    if (d->tls && !conn_tls_active(s->conn))
        session_reply(s, "250-STARTTLS");
    session_reply(s, "250-SMTPUTF8");
    session_reply(s, "250-CHUNKING");
    if (d->hooks->ehlo)
        d->hooks->ehlo(s);
    session_reply(s, "250 DSN");
}

static void cmd_ehlo(struct session *s, const char *args) { greet(s, args, true); }
static void cmd_helo(struct session *s, const char *args) { greet(s, args, false); }

/* Refuse the transaction when the spool's file system is nearly full: keep queue_minfree
 * bytes free, plus the declared message size. */
static bool enough_space(struct session *s, long long declared)
{
    struct statvfs st;
    if (statvfs(s->d->srv->spool, &st) < 0) {
        log_warn("statvfs %s: %m", s->d->srv->spool);
        return true;
    }
    long long avail = (long long)st.f_bavail * (long long)st.f_frsize;
    long long need = s->d->p.minfree + (declared > 0 ? declared : 0);
    return avail >= need;
}

static void cmd_mail(struct session *s, const char *args)
{
    struct smtpd *d = s->d;
    if (!s->helo) {
        session_error(s, "503 5.5.1 Error: send HELO/EHLO first");
        return;
    }
    if (need_tls(s, "MAIL"))
        return;
    if (s->txn.active) {
        session_error(s, "503 5.5.1 Error: nested MAIL command");
        return;
    }
    struct smtp_mail m;
    struct smtp_error e;
    if (!smtp_parse_mail(args, &m, &e)) {
        session_error(s, "%d %s %s", e.code, e.status, e.text);
        return;
    }
    s->txn.mail = xmalloc(sizeof m); /* the sender is logged with a refusal (from=<>) */
    *s->txn.mail = m;
    if (m.size > d->p.size_limit) {
        session_mail_decided(s, "552 5.3.4 Message size exceeds fixed limit");
        return;
    }
    if (!enough_space(s, m.size)) {
        log_warn("not enough free space in %s (queue_minfree %lld)", d->srv->spool, d->p.minfree);
        session_mail_decided(s, "452 4.3.1 Insufficient system storage");
        return;
    }
    enum smtpd_verdict v = d->hooks->mail ? d->hooks->mail(s) : SMTPD_ACCEPT;
    if (v == SMTPD_WAIT)
        s->wait_role = true;
    else
        session_mail_decided(s, v == SMTPD_ACCEPT ? NULL : "");
}

/* refusal "": the role has replied already. */
static void mail_decided(struct session *s, const char *refusal)
{
    if (!refusal) {
        s->txn.active = true;
        session_reply(s, "250 2.1.0 Ok");
        return;
    }
    if (*refusal)
        reject(s, "MAIL", NULL, refusal);
    free(s->txn.mail);
    s->txn.mail = NULL;
}

static bool duplicate(const struct session *s, const char *addr)
{
    for (size_t i = 0; i < s->txn.nrcpts; i++)
        if (strcasecmp(s->txn.rcpts[i].addr, addr) == 0)
            return true;
    return false;
}

static void add_rcpt(struct session *s, char *stored, const char *orcpt, unsigned notify)
{
    if (duplicate(s, stored)) {
        free(stored); /* one copy is enough; the first RCPT's DSN parameters apply */
    } else {
        s->txn.rcpts = xreallocarray(s->txn.rcpts, s->txn.nrcpts + 1, sizeof *s->txn.rcpts);
        s->txn.rcpts[s->txn.nrcpts++] = (struct rcpt){stored, xstrdup(orcpt), notify};
    }
    session_reply(s, "250 2.1.5 Ok");
}

static void cmd_rcpt(struct session *s, const char *args)
{
    if (!s->txn.active) {
        session_error(s, "503 5.5.1 Error: need MAIL command");
        return;
    }
    struct smtp_rcpt r;
    struct smtp_error e;
    if (!smtp_parse_rcpt(args, s->txn.mail->smtputf8, &r, &e)) {
        s->txn.rejected++;
        session_error(s, "%d %s %s", e.code, e.status, e.text);
        return;
    }
    if (s->txn.nrcpts >= s->d->p.rcpt_limit) {
        s->txn.rejected++;
        session_reply(s, "452 4.5.3 Error: too many recipients");
        return;
    }
    char *stored = NULL;
    bool temporary = false;
    struct buf reply = BUF_INIT;
    if (!recipient_check(s, &r.to, &stored, &reply, &temporary)) {
        s->txn.rejected++;
        reject(s, "RCPT", r.to.addr, buf_cstr(&reply));
        buf_free(&reply);
        return;
    }
    buf_free(&reply);
    const struct smtpd_hooks *h = s->d->hooks;
    enum smtpd_verdict v = h->rcpt && !duplicate(s, stored) ? h->rcpt(s, stored) : SMTPD_ACCEPT;
    if (v == SMTPD_ACCEPT) {
        add_rcpt(s, stored, r.orcpt, r.notify);
    } else if (v == SMTPD_REFUSED) {
        s->txn.rejected++;
        free(stored);
    } else {
        s->txn.pending = (struct rcpt){stored, xstrdup(r.orcpt), r.notify};
        s->wait_role = true;
    }
}

void session_mail_decided(struct session *s, const char *refusal)
{
    bool waited = s->wait_role;
    s->wait_role = false;
    mail_decided(s, refusal);
    if (waited) {
        session_process(s);
        session_reap(s);
    }
}

void session_rcpt_decided(struct session *s, const char *refusal)
{
    struct rcpt p = s->txn.pending;
    s->txn.pending = (struct rcpt){0};
    s->wait_role = false;
    if (!refusal) {
        add_rcpt(s, p.addr, p.orcpt, p.notify);
    } else {
        s->txn.rejected++;
        reject(s, "RCPT", p.addr, refusal);
        free(p.addr);
    }
    free(p.orcpt);
    session_process(s);
    session_reap(s);
}

static void cmd_rset(struct session *s, const char *args)
{
    if (args[0]) {
        session_error(s, "501 5.5.4 Syntax: RSET");
        return;
    }
    txn_reset(s);
    session_reply(s, "250 2.0.0 Ok");
}

static void cmd_noop(struct session *s, const char *args) { session_reply(s, "250 2.0.0 Ok"); }

static void cmd_quit(struct session *s, const char *args)
{
    session_reply(s, "221 2.0.0 Bye");
    session_close(s);
}

static void cmd_vrfy(struct session *s, const char *args)
{
    if (need_tls(s, "VRFY"))
        return;
    if (!args[0]) {
        session_error(s, "501 5.5.4 Syntax: VRFY address");
        return;
    }
    /* RFC 5321 sec 3.5.3: no address harvesting, but no refusal either. */
    session_reply(s, "252 2.1.5 Cannot VRFY user, but will accept message and attempt delivery");
}

static void cmd_help(struct session *s, const char *args)
{
    session_reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY "
                     "HELP STARTTLS");
}

static void cmd_starttls(struct session *s, const char *args)
{
    struct smtpd *d = s->d;
    if (args[0]) {
        session_error(s, "501 5.5.4 Syntax: STARTTLS");
        return;
    }
    if (conn_tls_active(s->conn)) {
        session_error(s, "554 5.5.1 Error: TLS already active");
        return;
    }
    if (!d->tls) {
        session_error(s, "502 5.5.1 Error: command not implemented");
        return;
    }
    session_reply(s, "220 2.0.0 Ready to start TLS");
    char *err = NULL;
    long discarded = session_starttls(s, d->tls, &err);
    if (discarded < 0) {
        log_warn("STARTTLS for %s: %s", s->client, err);
        free(err);
        session_kill(s);
        return;
    }
    if (discarded > 0)
        log_warn("%s: discarding %ld bytes of plaintext sent after STARTTLS", s->client,
                 discarded);
}

static void cmd_not_here(struct session *s, const char *args)
{
    session_error(s, "502 5.5.1 Error: command not implemented");
}

static void cmd_auth(struct session *s, const char *args)
{
    if (s->d->hooks->auth)
        s->d->hooks->auth(s, args);
    else
        session_error(s, "503 5.5.1 Error: authentication not enabled");
}

static const struct {
    enum smtp_verb verb;
    void (*fn)(struct session *s, const char *args);
} handlers[] = {
    {SMTP_EHLO, cmd_ehlo},         {SMTP_HELO, cmd_helo},     {SMTP_MAIL, cmd_mail},
    {SMTP_RCPT, cmd_rcpt},         {SMTP_DATA, data_command}, {SMTP_BDAT, bdat_command},
    {SMTP_RSET, cmd_rset},         {SMTP_NOOP, cmd_noop},     {SMTP_QUIT, cmd_quit},
    {SMTP_VRFY, cmd_vrfy},         {SMTP_HELP, cmd_help},     {SMTP_STARTTLS, cmd_starttls},
    {SMTP_EXPN, cmd_not_here},     {SMTP_ETRN, cmd_not_here}, {SMTP_AUTH, cmd_auth},
};

/* Logged as Postfix does: a reject "after" the command before the line, or at the end of
 * the message when the content had one. */
void session_bare_lf(struct session *s)
{
    bool content = s->mode != MODE_CMD;
    log_reject(s, content ? WHERE_EOM : s->last_cmd, "bare <LF> received", NULL);
    txn_reset(s);
    session_reply(s, "521 5.5.2 %s Error: bare <LF> received", s->d->p.hostname);
    session_close(s);
}

static void dispatch(struct session *s, const char *line)
{
    const char *args;
    enum smtp_verb v = smtp_parse_command(line, &args);
    s->last_cmd = smtp_verb_name(v);
    if (line[0])
        smtp_stats_command(&s->stats, v);
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        if (handlers[i].verb == v) {
            handlers[i].fn(s, args);
            return;
        }
    if (line[0] == 0)
        session_error(s, "500 5.5.2 Error: bad syntax");
    else
        session_error(s, "502 5.5.2 Error: command not recognized");
}

/* AUTH lines and the role's lines (a SASL exchange) carry credentials: never logged, and
 * wiped after use. */
static bool secret_line(const char *line) { return strncasecmp(line, "AUTH", 4) == 0 && (!line[4] || line[4] == ' '); }

static void wipe_line(struct session *s)
{
    if (s->line.data)
        explicit_bzero(s->line.data, s->line.len);
}

bool command_input(struct session *s)
{
    bool bare = false;
    enum conn_line r = conn_read_line(s->conn, s->d->p.line_limit, &s->line, &bare);
    if (r == CONN_LINE_NONE)
        return false;
    s->last_bare_lf = bare;
    if (r == CONN_LINE_TOO_LONG) {
        s->last_cmd = "UNKNOWN";
        if (s->d->hooks->line) /* an exchange it was in ends: the next line is a command */
            s->d->hooks->line(s, NULL, 0);
        session_error(s, "500 5.5.0 Error: line too long");
        return true;
    }
    if (bare && s->d->p.bare_lf == SMTP_LF_REJECT) {
        session_bare_lf(s);
        return true;
    }
    const char *line = buf_cstr(&s->line);
    if (s->d->hooks->line && s->d->hooks->line(s, line, s->line.len)) {
        wipe_line(s);
        return true;
    }
    bool secret = secret_line(line);
    if (log_verbose())
        log_debug("< %s: %s", s->client, secret ? "AUTH (not shown)" : line);
    if (strlen(line) != s->line.len) {
        s->last_cmd = "UNKNOWN";
        session_error(s, "500 5.5.2 Error: NUL character in command");
    } else {
        dispatch(s, line);
    }
    if (secret)
        wipe_line(s);
    return true;
}
