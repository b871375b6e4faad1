/* session.c - imapd-mailbox's sessions: taking a logged-in session from a login process
 * (lib/login/login_handoff.h), opening the user's mail, answering the login command, reading
 * commands with their literals (RFC 9051 sec 4.3: a synchronising literal is invited with
 * "+ OK" once its size is known to be acceptable; LITERAL+ literals come unasked), and the IMAP
 * side of the session skeleton (lib/io/session.h): too many errors, inactivity, the end of a
 * session with its summary line. Output back-pressure and the idle timeout are the
 * skeleton's. */
#include "accounts.h"
#include "imap_caps.h"
#include "imap_mailbox.h"
#include "log.h"
#include "mem.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROCESS_OUT_HIGH (256 * 1024) /* stop taking commands while this much is unsent */

static struct imap_session *owner(const struct sess *ss) { return ss->owner; }

void imap_reply(struct imap_session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sess_vreply(s->sess, fmt, ap);
    va_end(ap);
}

static void tagged(struct imap_session *s, bool error, const char *status, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static void tagged(struct imap_session *s, bool error, const char *status, const char *fmt, va_list ap)
{
    char text[1024];
    vsnprintf(text, sizeof text, fmt, ap);
    condstore_report(s); /* QRESYNC: the HIGHESTMODSEQ to keep, before the command ends */
    if (error)
        sess_error(s->sess, "%s %s %s", s->tag, status, text);
    else
        sess_reply(s->sess, "%s %s %s", s->tag, status, text);
}

void imap_ok(struct imap_session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tagged(s, false, "OK", fmt, ap);
    va_end(ap);
}

void imap_no(struct imap_session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tagged(s, false, "NO", fmt, ap);
    va_end(ap);
}

void imap_bad(struct imap_session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tagged(s, true, "BAD", fmt, ap);
    va_end(ap);
}

void imap_write_string(struct imap_session *s, struct buf *out, const char *str, size_t len)
{
    if (!imap_quotable(str, len, s->utf8)) {
        buf_printf(out, "{%zu}\r\n", len);
        buf_append(out, str, len);
        return;
    }
    buf_putc(out, '"');
    for (size_t i = 0; i < len; i++) {
        if (str[i] == '"' || str[i] == '\\')
            buf_putc(out, '\\');
        buf_putc(out, str[i]);
    }
    buf_putc(out, '"');
}

void imap_close(struct imap_session *s) { sess_close(s->sess); }

/* --- commands and their literals --- */

/* Forget the command being assembled: its buffer and its spooled literals. */
static void command_reset(struct imap_session *s)
{
    buf_reset(&s->cmd);
    spool_reset(s);
}

static void run_command(struct imap_session *s)
{
    struct imap_command cmd;
    const char *err;
    enum imap_parse_result r = imap_tokenize(s->cmd.data, s->cmd.len, &cmd, &err);
    snprintf(s->tag, sizeof s->tag, "%s", cmd.tag[0] ? cmd.tag : "*");
    if (r == IMAP_PARSE_OK) {
        if (log_verbose())
            log_debug("< %s: %s %s", s->user, cmd.tag, cmd.name);
        bool deferred = durable_begin(s, &cmd);
        imap_dispatch(s, &cmd);
        if (deferred)
            durable_end(s);
    } else {
        imap_bad(s, "%s.", err);
    }
    imap_command_free(&cmd);
    command_reset(s);
}

/* The tag of the command being assembled, for a refusal before it is whole: read by the
 * tokenizer's rules from the first word only, "*" when it is no valid tag. */
static void pending_tag(struct imap_session *s)
{
    const char *d = s->cmd.data ? s->cmd.data : "";
    size_t n = 0;
    while (n < s->cmd.len && d[n] != ' ' && d[n] != '\r' && d[n] != '\n')
        n++;
    struct imap_command cmd;
    const char *err;
    imap_tokenize(d, n, &cmd, &err);
    snprintf(s->tag, sizeof s->tag, "%s", cmd.tag[0] ? cmd.tag : "*");
    imap_command_free(&cmd);
}

/* Whether the command being read is an APPEND (its literals may be messages). */
static bool reading_append(struct imap_session *s)
{
    const char *d = s->cmd.data ? s->cmd.data : "";
    const char *sp = strchr(d, ' ');
    return sp && (strncasecmp(sp + 1, "APPEND ", 7) == 0 || strncasecmp(sp + 1, "UID APPEND", 10) == 0);
}

/* The most the command may carry in all: APPEND's messages and a line, else a line. */
static uint64_t literal_limit(struct imap_session *s)
{
    return reading_append(s) ? s->d->p.append_limit + s->d->p.line_limit : s->d->p.line_limit;
}

/* A line ended (without its line end): the command is complete, or a literal follows. */
static void line_end(struct imap_session *s, const char *line, size_t len)
{
    struct imap_literal lit;
    int r = imap_literal_announced(line, len, &lit);
    if (r == 0) {
        run_command(s);
        return;
    }
    uint64_t limit = literal_limit(s);
    /* One literal of an APPEND is at most one message: one over APPENDLIMIT is refused
     * before the client sends it (RFC 7889 sec 4), not after. */
    uint64_t one = reading_append(s) ? s->d->p.append_limit : limit;
    if (r > 0 && lit.size <= one && s->cmd.len + s->spooled_bytes + lit.size <= limit) {
        s->literal_left = lit.size + 1;
        /* A big APPEND literal: into a file, announced as {0} in the buffer (spool.c). */
        if (lit.size > s->d->p.literal_memory_limit && limit > s->d->p.line_limit &&
            spool_begin(s, s->literals)) {
            char *brace = memrchr(s->cmd.data, '{', s->cmd.len);
            buf_truncate(&s->cmd, (size_t)(brace - s->cmd.data));
            buf_puts(&s->cmd, "{0}\r\n");
        }
        s->literals++;
        if (!lit.nonsync)
            imap_reply(s, "+ OK");
        return;
    }
    pending_tag(s);
    command_reset(s);
    if (r > 0 && lit.nonsync) { /* RFC 7888 sec 4: read it and drop it, then refuse */
        s->literal_skip = true;
        s->literal_left = lit.size + 1;
        return;
    }
    if (r < 0)
        imap_bad(s, "Invalid literal.");
    else /* RFC 7889: APPENDLIMIT; RFC 9051 sec 7.1: TOOBIG */
        imap_no(s, "[TOOBIG] Literal too big (at most %llu bytes).", (unsigned long long)one);
}

/* Literal bytes: read raw, as many as are buffered. False when none are. */
static bool literal_bytes(struct imap_session *s)
{
    size_t avail;
    const char *data = conn_data(s->conn, &avail);
    uint64_t want = s->literal_left - 1;
    size_t n = avail < want ? avail : (size_t)want;
    if (n == 0 && want > 0)
        return false;
    if (s->spooling)
        spool_write(s, data, n);
    else if (!s->literal_skip)
        buf_append(&s->cmd, data, n);
    conn_consume(s->conn, n);
    s->literal_left -= n;
    if (s->literal_left == 1)
        s->spooling = false;
    if (s->literal_left == 1 && s->literal_skip) {
        s->literal_skip = false;
        imap_no(s, "[TOOBIG] Literal too big.");
    }
    return true;
}

static bool step(struct sess *ss)
{
    struct imap_session *s = owner(ss);
    if (s->literal_left > 1)
        return literal_bytes(s);
    bool bare;
    size_t limit = s->d->p.line_limit;
    enum conn_line r = conn_read_line(s->conn, limit, &s->line, &bare);
    if (r == CONN_LINE_NONE)
        return false;
    sess_touch(ss);
    if (r == CONN_LINE_TOO_LONG) {
        if (s->literal_left == 1 || s->cmd.len)
            pending_tag(s);
        else
            snprintf(s->tag, sizeof s->tag, "*");
        command_reset(s);
        s->literal_left = 0;
        imap_bad(s, "Line too long (at most %zu bytes).", limit);
        return true;
    }
    if (s->idling) {
        idle_input(s, &s->line);
        return true;
    }
    if (s->literal_left == 1 && s->literal_skip) {
        s->literal_skip = false;
        s->literal_left = 0;
        return true; /* the rest of a refused command */
    }
    s->literal_left = 0;
    buf_append(&s->cmd, s->line.data ? s->line.data : "", s->line.len);
    buf_append(&s->cmd, "\r\n", 2);
    line_end(s, s->line.data ? s->line.data : "", s->line.len);
    return true;
}

/* --- the session skeleton's hooks --- */

static void on_eof(struct sess *ss) { owner(ss)->end_reason = "Connection closed"; }

static void too_many_errors(struct sess *ss)
{
    struct imap_session *s = owner(ss);
    s->end_reason = "Too many invalid commands";
    imap_reply(s, "* BYE Too many invalid commands.");
}

static void on_timeout(struct sess *ss)
{
    struct imap_session *s = owner(ss);
    s->end_reason = "Inactivity";
    imap_reply(s, "* BYE Disconnected for inactivity.");
}

static void on_lost(struct sess *ss, const char *why)
{
    struct imap_session *s = owner(ss);
    if (!ss->closing)
        s->end_reason = strncmp(why, "COMPRESS:", 9) == 0 ? "COMPRESS: invalid DEFLATE data"
                                                          : "Connection closed";
    log_debug("%s: %s, session=<%s>", s->user, why, s->id);
}

static void on_drained(struct sess *ss)
{
    struct imap_session *s = owner(ss);
    sess_touch(ss);
    if (s->fetching && fetch_more(s))
        sess_process(ss);
}

/* A FETCH being answered, a SORT or THREAD reading, a SELECT waiting for its folder's files:
 * the next command waits for its end. */
static bool fetching(const struct sess *ss)
{
    const struct imap_session *s = owner(ss);
    return s->fetching || s->scanning || s->selecting;
}

static void session_free(struct sess *ss)
{
    struct imap_session *s = owner(ss);
    log_info("%s: Disconnected: %s fetches=%llu/%llu, session=<%s>", s->user, s->end_reason,
             s->fetches, s->fetched_bytes, s->id);
    watch_remove(s->d->watch, s);
    durable_forget(s);
    fetch_abort(s);
    scan_abort(s);
    select_abort(s);
    spool_reset(s);
    view_free(s->view);
    if (s->mu)
        mail_user_close(s->mu);
    free(s->user);
    buf_free(&s->cmd);
    buf_free(&s->line);
    free(s);
}

static const struct sess_ops session_ops = {
    .step = step, .paused = fetching, .eof = on_eof, .too_many_errors = too_many_errors, .timeout = on_timeout,
    .lost = on_lost, .drained = on_drained, .finish = session_free,
};

void session_setup(struct imapd *d)
{
    struct sess_list *l = &d->sessions;
    l->loop = d->srv->loop;
    l->timeout_ms = d->p.idle_timeout_ms;
    l->error_limit = d->p.error_limit;
    l->soft_error_limit = d->p.error_limit;
    l->out_limit = PROCESS_OUT_HIGH;
}

void session_tick(struct imapd *d)
{
    struct sess *ss;
    DLIST_FOREACH(ss, &d->sessions.sessions)
        if (ss->owner && !ss->dead && ss->conn)
            idle_keepalive(owner(ss));
    sess_tick(&d->sessions);
}

/* --- taking over a session --- */

/* The user's quota (accounts_user_quota: the user's own, or virtual_mailbox_quota). */
static long long user_quota(struct imap_session *s)
{
    struct account_user u;
    char *err = NULL;
    long long q = s->d->p.quota_default;
    if (s->d->accounts && accounts_user_get(s->d->accounts, s->user, &u, &err) == 1) {
        q = accounts_user_quota(s->d->srv->cfg, &u);
        account_user_free(&u);
    }
    free(err);
    return q;
}

static int open_user(struct imap_session *s, char **err)
{
    s->quota = user_quota(s);
    const char *at = strrchr(s->user, '@');
    char *local = xasprintf("%.*s", (int)(at - s->user), s->user);
    s->mu = mail_user_open(s->d->p.mailbox_base, at + 1, local, s->d->p.index_name, true, err);
    free(local);
    return s->mu ? 0 : -1;
}

static void start_session(struct imapd *d, struct imap_session *s, int fd, struct buf *input,
                          const char *tag)
{
    s->sess = sess_new(&d->sessions, fd, d->p.line_limit + 65536, &session_ops, s);
    s->conn = s->sess->conn;
    sess_set_tag(s->sess, "%s", s->user);
    if (input->len)
        conn_unread(s->conn, input->data, input->len);
    watch_add(d->watch, s);
    struct buf caps = BUF_INIT;
    imap_caps_postlogin(&caps, d->p.append_limit, d->p.compress_level > 0);
    snprintf(s->tag, sizeof s->tag, "%s", tag);
    imap_ok(s, "[CAPABILITY %s] Logged in", buf_cstr(&caps));
    buf_free(&caps);
    sess_process(s->sess);
    sess_reap(s->sess);
}

static void on_request(void *ctx, struct handoff_in *h, const struct attrs *req, int fd,
                       const char *err)
{
    struct imapd *d = ctx;
    d->handoffs_in--;
    if (!req) {
        log_warn("login handoff failed: %s", err);
        return;
    }
    struct buf input = BUF_INIT;
    const char *bad = imap_check_request(req, &input);
    if (bad) {
        log_warn("login handoff refused: %s", bad);
        handoff_in_finish(h, false, bad);
        close(fd);
        buf_free(&input);
        return;
    }
    struct imap_session *s = xcalloc(1, sizeof *s);
    s->d = d;
    s->user = xstrdup(attrs_get(req, "user"));
    s->end_reason = "Connection closed";
    snprintf(s->id, sizeof s->id, "%s", attrs_get(req, "session"));
    char *e2 = NULL;
    if (open_user(s, &e2) < 0) {
        log_warn("%s: cannot open the mail store: %s, session=<%s>", s->user, e2 ? e2 : "?", s->id);
        handoff_in_finish(h, false, "[SYS/TEMP] The mailbox cannot be opened, try again later.");
        free(e2);
        close(fd);
        free(s->user);
        free(s);
        buf_free(&input);
        return;
    }
    handoff_in_finish(h, true, NULL);
    start_session(d, s, fd, &input, attrs_get(req, "tag"));
    explicit_bzero(input.data ? input.data : (char *)"", input.len);
    buf_free(&input);
}

void session_accept(struct imapd *d, int fd)
{
    d->handoffs_in++;
    handoff_in_start(d->srv->loop, fd, d->mail_owner_uid, HANDOFF_TIMEOUT_MS, on_request, d);
}
