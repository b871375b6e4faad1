/* sendmail_smtp.c - sendmail -bs: an SMTP session (RFC 5321) on standard input and output,
 * as the invoking user, for programs that speak SMTP to a local sendmail (some MUAs, PHP
 * libraries, test tools). Each message is submitted like `sendmail` submits one
 * (sendmail.c: directly or through the pickup service) when its final dot arrives, and the
 * reply says where it went. Commands: HELO, EHLO (PIPELINING, SIZE, 8BITMIME, DSN,
 * SMTPUTF8, ENHANCEDSTATUSCODES), MAIL, RCPT, DATA, RSET, NOOP, VRFY (252), HELP, QUIT;
 * the rest get 502. No AUTH and no TLS: the caller is already known by its uid. */
#include "sendmail.h"
#include "buf.h"
#include "mem.h"
#include "smtp_proto.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#define SMTP_LINE_MAX 4096 /* longest command line taken (RFC 5321 sec 4.5.3.1.4: 512 and up) */

struct bs {
    struct cli *c;
    size_t size_limit, rcpt_limit;
    bool in_mail;
    struct local_envelope e;
    char envid[SMTP_ENVID_MAX + 1]; /* e.envid points here */
    bool smtputf8;
};

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputs("\r\n", stdout);
    fflush(stdout);
}

/* One line from stdin without its CRLF or LF into *line; false at the end of input. A line
 * longer than max is cut (*too_long). */
static bool read_line(char **line, size_t *cap, size_t max, size_t *len, bool *too_long)
{
    ssize_t n = getline(line, cap, stdin);
    if (n <= 0)
        return false;
    size_t l = (size_t)n;
    if ((*line)[l - 1] == '\n')
        l--;
    if (l > 0 && (*line)[l - 1] == '\r')
        l--;
    (*line)[l] = 0;
    *too_long = l > max;
    *len = l;
    return true;
}

static void reset(struct bs *s)
{
    local_envelope_free(&s->e);
    s->in_mail = false;
    s->smtputf8 = false;
}

static void ehlo(struct bs *s, enum smtp_verb v, const char *args)
{
    const char *host = config_str(cli_config(s->c), PARAM(myhostname));
    if (!smtp_helo_valid(args)) {
        reply("501 5.5.4 Syntax: %s hostname", v == SMTP_EHLO ? "EHLO" : "HELO");
        return;
    }
    reset(s);
    if (v == SMTP_HELO) {
        reply("250 %s", host);
        return;
    }
    reply("250-%s\r\n250-PIPELINING\r\n250-SIZE %zu\r\n250-8BITMIME\r\n250-DSN\r\n"
          "250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES", host, s->size_limit);
}

static void mail(struct bs *s, const char *args)
{
    struct smtp_mail m;
    struct smtp_error err;
    if (s->in_mail) {
        reply("503 5.5.1 Error: nested MAIL command");
        return;
    }
    if (!smtp_parse_mail(args, &m, &err)) {
        reply("%d %s %s", err.code, err.status, err.text);
        return;
    }
    if (m.size >= 0 && (size_t)m.size > s->size_limit) {
        reply("552 5.3.4 Message size exceeds fixed limit");
        return;
    }
    char *sender = m.from.null ? xstrdup("") : local_submit_address(cli_config(s->c), m.from.addr, true);
    if (!sender) {
        reply("553 5.1.7 Bad sender address syntax");
        return;
    }
    s->e.sender = sender;
    s->e.ret = m.ret == SMTP_RET_FULL ? "FULL" : m.ret == SMTP_RET_HDRS ? "HDRS" : NULL;
    snprintf(s->envid, sizeof s->envid, "%s", m.envid);
    s->e.envid = m.envid[0] ? s->envid : NULL;
    s->smtputf8 = m.smtputf8;
    s->in_mail = true;
    reply("250 2.1.0 Ok");
}

static void rcpt(struct bs *s, const char *args)
{
    struct smtp_rcpt r;
    struct smtp_error err;
    char notify[64];
    if (!s->in_mail) {
        reply("503 5.5.1 Error: need MAIL command");
        return;
    }
    if (!smtp_parse_rcpt(args, s->smtputf8, &r, &err)) {
        reply("%d %s %s", err.code, err.status, err.text);
        return;
    }
    if (s->e.nrcpts >= s->rcpt_limit) {
        reply("452 4.5.3 Error: too many recipients");
        return;
    }
    char *addr = local_submit_address(cli_config(s->c), r.to.addr, false);
    if (!addr || r.to.null) {
        free(addr);
        reply("553 5.1.3 Bad recipient address syntax");
        return;
    }
    /* As smtpd answers RCPT (Postfix's -bs runs smtpd): an unknown user of ours is refused
     * now, not bounced later. */
    char *why = NULL;
    int verdict = sm_verify_one(s->c, addr, &why);
    free(why);
    if (verdict == EX_NOUSER) {
        reply("550 5.1.1 <%s>: Recipient address rejected: User unknown", addr);
        free(addr);
        return;
    }
    if (verdict != EX_OK) {
        reply("451 4.3.0 <%s>: Temporary lookup failure", addr);
        free(addr);
        return;
    }
    smtp_notify_text(r.notify, notify, sizeof notify);
    local_envelope_add(&s->e, addr, r.orcpt[0] ? r.orcpt : NULL, notify[0] ? notify : NULL);
    free(addr);
    reply("250 2.1.5 Ok");
}

/* The content up to the line with a single dot, dot-unstuffed, LF line ends; false when
 * the input ended first. *too_big when it passed the size limit (the rest is read and
 * dropped, RFC 5321 sec 4.5.3.1.10). */
static bool read_content(struct bs *s, struct buf *data, bool *too_big)
{
    char *line = NULL;
    size_t cap = 0, len;
    bool long_line, done = false;
    *too_big = false;
    while (read_line(&line, &cap, (size_t)-1, &len, &long_line)) {
        if (len == 1 && line[0] == '.') {
            done = true;
            break;
        }
        const char *p = line[0] == '.' ? line + 1 : line; /* sec 4.5.2 */
        size_t n = line[0] == '.' ? len - 1 : len;
        if (*too_big || data->len + n + 1 > s->size_limit) {
            *too_big = true;
            continue;
        }
        buf_append(data, p, n);
        buf_putc(data, '\n');
    }
    free(line);
    return done;
}

/* DATA: take the content and submit the transaction; false when the input ended. */
static bool data(struct bs *s)
{
    if (!s->in_mail || s->e.nrcpts == 0) {
        reply(s->in_mail ? "554 5.5.1 Error: no valid recipients" : "503 5.5.1 Error: need RCPT command");
        return true;
    }
    reply("354 End data with <CR><LF>.<CR><LF>");
    struct buf content = BUF_INIT;
    bool too_big;
    if (!read_content(s, &content, &too_big)) {
        buf_free(&content);
        return false;
    }
    FILE *f = fmemopen(content.data ? content.data : (char *)"", content.len, "r");
    struct submit_message m = {0};
    bool big2 = false;
    char id[QUEUE_ID_SIZE];
    if (too_big) {
        reply("552 5.3.4 Error: message file too big");
    } else if (!f || submit_message_read(f, true, s->size_limit, &m, &big2) < 0) {
        reply("451 4.3.0 Error: cannot read the message");
    } else {
        int rc = sm_submit(s->c, &s->e, &m, id);
        if (rc == EX_OK)
            reply("250 2.0.0 Ok: queued as %s", id);
        else if (rc == EX_TEMPFAIL)
            reply("451 4.3.0 Error: queue file write error");
        else
            reply("554 5.6.0 Error: message refused");
    }
    if (f)
        fclose(f);
    submit_message_free(&m);
    buf_free(&content);
    reset(s);
    return true;
}

/* One command line; false after QUIT or when the input ended. */
static bool command(struct bs *s, const char *line)
{
    const char *args;
    enum smtp_verb v = smtp_parse_command(line, &args);
    switch (v) {
    case SMTP_HELO: case SMTP_EHLO: ehlo(s, v, args); break;
    case SMTP_MAIL: mail(s, args); break;
    case SMTP_RCPT: rcpt(s, args); break;
    case SMTP_DATA: return data(s);
    case SMTP_RSET: reset(s); reply("250 2.0.0 Ok"); break;
    case SMTP_NOOP: reply("250 2.0.0 Ok"); break;
    case SMTP_VRFY: reply("252 2.0.0 Send some mail, I'll try my best"); break;
    case SMTP_HELP: reply("214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP VRFY QUIT"); break;
    case SMTP_QUIT: reply("221 2.0.0 Bye"); return false;
    case SMTP_UNKNOWN: reply("500 5.5.2 Error: command not recognized"); break;
    default: reply("502 5.5.1 Error: command not implemented"); break;
    }
    return true;
}

int sm_smtp_session(struct cli *c, const struct sm_opts *o)
{
    (void)o;
    struct config *cfg = cli_config(c);
    struct bs s = {.c = c, .size_limit = (size_t)config_int(cfg, PARAM(message_size_limit)),
                   .rcpt_limit = (size_t)config_int(cfg, PARAM(pickup_recipient_limit))};
    reply("220 %s ESMTP Posthorn", config_str(cfg, PARAM(myhostname)));
    char *line = NULL;
    size_t cap = 0, len;
    bool too_long;
    while (read_line(&line, &cap, SMTP_LINE_MAX, &len, &too_long)) {
        if (too_long)
            reply("500 5.5.2 Error: line too long");
        else if (!command(&s, line))
            break;
    }
    free(line);
    reset(&s);
    return EX_OK;
}
