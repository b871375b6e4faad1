/* session.c - one SMTP client session (RFC 5321): the connection, the greeting, EHLO (HELO
 * when EHLO is refused), reply reading, timeouts, the cache state and QUIT; STARTTLS and
 * AUTH are in session_tls.c, the mail transaction in session_txn.c.
 *
 * Every callback from the loop is an entry point bracketed by session_enter/leave; a
 * session marked dead inside is destroyed when the outermost entry returns. A failure is
 * reported to the owning delivery as the last use of it (session_fail). */
#include "session_int.h"
#include "sts.h"
#include "log.h"
#include "mem.h"
#include "tls.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define READ_LIMIT (64 * 1024)

static const struct conn_ops session_ops;

/* --- life cycle --- */

static void destroy(struct session *s)
{
    struct smtpc *sc = s->sc;
    if (s->timer)
        event_timer_cancel(sc->srv->loop, s->timer);
    if (s->pc)
        conn_connect_cancel(s->pc);
    if (s->idle_dest)
        dest_unpark(s);
    conn_free(s->c);
    buf_free(&s->line);
    tlsa_set_free(&s->tlsa);
    free(s->early_err);
    free(s->exp);
    free(s->chunk);
    DLIST_REMOVE(&sc->sessions, s);
    sc->nsessions--;
    free(s);
}

void session_enter(struct session *s) { s->depth++; }

void session_leave(struct session *s)
{
    if (--s->depth == 0 && s->dead)
        destroy(s);
}

/* Close now (no QUIT); freed at the end of the current entry point. */
static void session_kill(struct session *s)
{
    if (s->dead)
        return;
    s->dead = true;
    s->d = NULL;
    if (s->timer) {
        event_timer_cancel(s->sc->srv->loop, s->timer);
        s->timer = 0;
    }
    if (s->depth == 0)
        destroy(s);
}

const char *session_relay(const struct session *s) { return s->relay; }
const struct target *session_target(const struct session *s) { return &s->t; }
bool session_is_idle(const struct session *s) { return s->st == SS_IDLE; }

/* --- output and timers --- */

void session_send(struct session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct buf b = BUF_INIT;
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    log_debug("%s: > %s: %s", s->d ? s->d->req.queue_id : "-", s->relay, buf_cstr(&b));
    buf_puts(&b, "\r\n");
    conn_write(s->c, b.data, b.len);
    buf_free(&b);
    conn_flush(s->c);
}

static void on_timeout(struct event_loop *loop, void *ctx);

void session_set_timer(struct session *s, long long ms)
{
    struct event_loop *loop = s->sc->srv->loop;
    if (s->timer)
        event_timer_cancel(loop, s->timer);
    s->timer = event_timer(loop, (long)ms, on_timeout, s);
}

/* What the session was waiting for, as Postfix says it ("... timed out while ..."). */
static const char *waiting_for(const struct session *s)
{
    switch (s->st) {
    case SS_CONNECTING: return "connecting";
    case SS_GREETING: return "receiving the initial server greeting";
    case SS_EHLO: return "sending EHLO";
    case SS_HELO: return "sending HELO";
    case SS_STARTTLS: return "sending STARTTLS";
    case SS_HANDSHAKE: return "performing the TLS handshake";
    case SS_AUTH: return "authenticating";
    case SS_READY: return "waiting for a message";
    case SS_TXN:
        switch (s->exp_done < s->nexp ? s->exp[s->exp_done].cmd : CMD_DOT) {
        case CMD_RSET: return "sending RSET";
        case CMD_MAIL: return "sending MAIL FROM";
        case CMD_RCPT: return "sending RCPT TO";
        case CMD_DATA: return "sending DATA command";
        case CMD_BDAT: return "sending message body";
        case CMD_DOT:
        case CMD_LONE_DOT:
        case CMD_BDAT_LAST: return "sending end of data -- message may be sent more than once";
        }
        break;
    case SS_BODY: return "sending message body";
    case SS_IDLE: return "waiting in the connection cache";
    case SS_QUIT: return "sending QUIT";
    }
    return "talking";
}

static void on_timeout(struct event_loop *loop, void *ctx)
{
    struct session *s = ctx;
    s->timer = 0;
    session_enter(s);
    if (s->st == SS_IDLE || s->st == SS_QUIT) {
        if (s->st == SS_IDLE)
            session_quit(s);
        else
            session_kill(s);
    } else {
        char *why = xasprintf("conversation with %s timed out while %s", s->said_host,
                              waiting_for(s));
        session_fail(s, 4, "4.4.2", why, false, false);
        free(why);
    }
    session_leave(s);
}

/* --- failure --- */

void session_fail(struct session *s, int cls, const char *dsn, const char *reason, bool polite,
                  bool retry_plain)
{
    struct delivery *d = s->d;
    /* A cached connection that died before it answered anything of this transaction: the
     * server closed it meanwhile; nothing was decided, so it does not count. */
    bool stale = s->reused && !s->answered && s->st == SS_TXN && s->exp_done == 0;
    char relay[RELAY_MAX]; /* relay=: the server, once one answered */
    snprintf(relay, sizeof relay, "%s", s->c ? s->relay : "");
    s->d = NULL;
    if (d && stale)
        log_info("%s: cached connection to %s was closed: %s", d->req.queue_id, s->relay, reason);
    else if (d && (cls == 4 || cls == 5))
        delivery_all_result(d, cls, dsn, reason, relay);
    session_enter(s); /* s stays valid for delivery_session_failed */
    if (polite && s->c && !conn_eof(s->c))
        session_quit(s);
    else
        session_kill(s);
    if (d)
        delivery_session_failed(d, s, stale, retry_plain);
    session_leave(s);
}

/* --- replies --- */

void session_dsn(const struct smtp_reply *r, char *out, size_t outsize)
{
    int cls = smtp_reply_class(r);
    if (r->status[0] && r->status[0] == '0' + cls)
        snprintf(out, outsize, "%s", r->status);
    else
        snprintf(out, outsize, "%d.0.0", cls >= 2 && cls <= 5 ? cls : 4);
}

/* A reply that ends this session before the transaction: cls from the reply. */
static void fail_reply(struct session *s, const char *command)
{
    char dsn[16];
    session_dsn(&s->rep, dsn, sizeof dsn);
    char *why = smtpc_said(s->said_host, &s->rep, command);
    int cls = smtp_reply_class(&s->rep) == 5 ? 5 : 4;
    session_fail(s, cls, dsn, why, true, false);
    free(why);
}

/* An MX host that greets with our own name is us (a routing loop; RFC 5321 sec 5.1).
 * Explicit [host] next hops are exempt, as in route.c. */
static bool loops_back(struct session *s, const char *host)
{
    struct delivery *d = s->d;
    if (!*host || strcasecmp(host, s->sc->p.myhostname) != 0 || (d && !d->use_mx))
        return false;
    char *why = xasprintf("mail for %s loops back to myself", d ? d->nexthop : host);
    session_fail(s, 5, "5.4.6", why, true, false);
    free(why);
    return true;
}

static void greeting_reply(struct session *s)
{
    char host[SMTP_EHLO_HOST_MAX];
    int cls = smtp_reply_class(&s->rep);
    if (s->d)
        s->d->sessions++;
    if (cls != 2) {
        char dsn[16];
        session_dsn(&s->rep, dsn, sizeof dsn);
        char *why = smtpc_said(s->said_host, &s->rep, NULL);
        char *refused = xasprintf("host %s refused to talk to me: %s", s->said_host,
                                  strstr(why, "said: ") ? strstr(why, "said: ") + 6 : why);
        bool soft = cls != 5 || s->sc->p.skip_5xx_greeting;
        if (soft)
            dsn[0] = '4';
        session_fail(s, soft ? 4 : 5, dsn, refused, true, false);
        free(refused);
        free(why);
        return;
    }
    smtp_reply_host(&s->rep, host, sizeof host);
    if (loops_back(s, host))
        return;
    session_ehlo(s);
}

void session_ehlo(struct session *s)
{
    s->st = SS_EHLO;
    session_send(s, "EHLO %s", s->sc->p.helo_name);
    session_set_timer(s, s->sc->p.t_helo);
}

static void ehlo_reply(struct session *s)
{
    int cls = smtp_reply_class(&s->rep);
    if (cls == 5 && s->st == SS_EHLO && !s->tls_on) { /* an old server: HELO */
        s->st = SS_HELO;
        session_send(s, "HELO %s", s->sc->p.helo_name);
        session_set_timer(s, s->sc->p.t_helo);
        return;
    }
    if (cls != 2) {
        fail_reply(s, s->st == SS_EHLO ? "EHLO" : "HELO");
        return;
    }
    if (s->st == SS_EHLO)
        smtp_ehlo_parse(&s->rep, &s->ehlo);
    else
        memset(&s->ehlo, 0, sizeof s->ehlo);
    char host[SMTP_EHLO_HOST_MAX];
    smtp_reply_host(&s->rep, host, sizeof host);
    if (loops_back(s, host))
        return;
    session_after_ehlo(s);
}

void session_after_ehlo(struct session *s)
{
    if (session_want_starttls(s)) {
        session_starttls(s);
        return;
    }
    if (s->st == SS_EHLO || s->st == SS_HELO) {
        /* STARTTLS not done: is that allowed at this level? */
        if (s->level >= TLSL_ENCRYPT && !s->tls_on) {
            char *why = xasprintf("TLS is required, but was not offered by host %s%s",
                                  s->said_host, sts_note(s));
            session_fail(s, 4, "4.7.4", why, true, false);
            free(why);
            return;
        }
        if (s->t.sts == MTA_STS_TESTING && !s->tls_on && s->d && !s->t.no_tls) {
            char *why = xasprintf("TLS is required, but was not offered by host %s",
                                  s->said_host);
            sts_testing_failure(s->d, why);
            free(why);
        }
    }
    if (session_want_auth(s)) {
        session_auth(s);
        return;
    }
    session_ready(s);
}

void session_ready(struct session *s)
{
    s->st = SS_READY;
    if (s->timer) {
        event_timer_cancel(s->sc->srv->loop, s->timer);
        s->timer = 0;
    }
    struct delivery *d = s->d;
    if (d)
        delivery_session_ready(d, s);
    else
        session_quit(s);
}

static void quit_reply(struct session *s) { session_kill(s); }

static void idle_input(struct session *s)
{
    /* A cached connection has nothing to say; a 421 or anything else ends it. */
    session_kill(s);
}

static void dispatch_reply(struct session *s)
{
    char text[512];
    smtp_reply_describe(&s->rep, text, sizeof text);
    log_debug("%s: < %s: %s", s->d ? s->d->req.queue_id : "-", s->relay, text);
    s->answered = true;
    switch (s->st) {
    case SS_GREETING: greeting_reply(s); break;
    case SS_EHLO:
    case SS_HELO: ehlo_reply(s); break;
    case SS_STARTTLS: session_starttls_reply(s); break;
    case SS_AUTH: session_auth_reply(s); break;
    case SS_TXN:
    case SS_BODY: session_txn_reply(s); break;
    case SS_QUIT: quit_reply(s); break;
    case SS_IDLE: idle_input(s); break;
    case SS_READY: /* nothing was asked: a broken or hostile server */
        session_fail(s, 4, "4.5.0", "unexpected reply from the server", false, false);
        break;
    case SS_CONNECTING:
    case SS_HANDSHAKE: break;
    }
}

static void lost(struct session *s, const char *detail)
{
    if (s->st == SS_QUIT || s->st == SS_IDLE) {
        session_kill(s);
        return;
    }
    char *why = xasprintf("lost connection with %s while %s%s%s", s->said_host, waiting_for(s),
                          detail ? ": " : "", detail ? detail : "");
    bool plain = s->st == SS_HANDSHAKE && s->level == TLSL_MAY;
    session_fail(s, 4, "4.4.2", why, false, plain);
    free(why);
}

static void on_input(struct conn *c, void *ctx)
{
    struct session *s = ctx;
    session_enter(s);
    while (!s->dead && s->st != SS_HANDSHAKE) {
        bool bare_lf;
        enum conn_line l = conn_read_line(c, SMTP_REPLY_LINE_MAX, &s->line, &bare_lf);
        if (l == CONN_LINE_NONE)
            break;
        const char *err = NULL;
        enum smtp_reply_step st = l == CONN_LINE_TOO_LONG ? SMTP_REPLY_ERROR
                                : smtp_reply_feed(&s->rep, s->line.data, s->line.len, &err);
        if (st == SMTP_REPLY_ERROR) {
            char *why = xasprintf("malformed reply from %s: %s", s->said_host,
                                  err ? err : "reply line too long");
            session_fail(s, 4, "4.5.0", why, false, false);
            free(why);
            break;
        }
        if (st == SMTP_REPLY_DONE) {
            dispatch_reply(s);
            smtp_reply_init(&s->rep);
        }
    }
    if (!s->dead && s->st != SS_HANDSHAKE && conn_eof(c))
        lost(s, NULL);
    session_leave(s);
}

static void on_error(struct conn *c, void *ctx, const char *why)
{
    struct session *s = ctx;
    session_enter(s);
    lost(s, why);
    session_leave(s);
}

static void on_tls_ready(struct conn *c, void *ctx)
{
    struct session *s = ctx;
    session_enter(s);
    session_tls_ready(s);
    session_leave(s);
}

static void on_drained(struct conn *c, void *ctx)
{
    struct session *s = ctx;
    session_enter(s);
    if (s->st == SS_BODY)
        session_body_drained(s);
    session_leave(s);
}

static const struct conn_ops session_ops = {
    .input = on_input, .error = on_error, .tls_ready = on_tls_ready, .drained = on_drained};

/* --- connecting --- */

static void on_connected(struct conn *c, void *ctx, const char *why)
{
    struct session *s = ctx;
    s->pc = NULL;
    session_enter(s);
    if (!c) {
        /* "connect to HOST[ADDR]:PORT: Connection refused" */
        const char *detail = strrchr(why, ':');
        char *reason = xasprintf("connect to %s: %s", s->relay, detail ? detail + 2 : why);
        log_info("%s", reason);
        session_fail(s, 4, "4.4.1", reason, false, false);
        free(reason);
    } else {
        s->c = c;
        s->st = SS_GREETING;
        session_set_timer(s, s->sc->p.t_helo);
    }
    session_leave(s);
}

/* The connection could not even be started (no socket, a bad bind address). */
static void on_early_failure(struct event_loop *loop, void *ctx)
{
    struct session *s = ctx;
    s->timer = 0;
    session_enter(s);
    log_warn("%s", s->early_err);
    session_fail(s, 4, "4.4.1", s->early_err, false, false);
    session_leave(s);
}

static void describe_target(struct session *s)
{
    snprintf(s->said_host, sizeof s->said_host, "%s[%s]", s->t.host, s->t.addr);
    snprintf(s->relay, sizeof s->relay, "%s[%s]:%d", s->t.host, s->t.addr, s->t.port);
}

struct session *session_open(struct smtpc *sc, struct delivery *d, const struct target *t,
                             enum tls_level level, struct tlsa_set *tlsa)
{
    struct session *s = xcalloc(1, sizeof *s);
    s->sc = sc;
    s->d = d;
    s->t = *t;
    s->level = t->no_tls ? TLSL_NONE : level;
    if (tlsa) {
        s->tlsa = *tlsa;
        *tlsa = (struct tlsa_set){0};
    }
    s->born_ms = event_now_ms();
    smtp_reply_init(&s->rep);
    describe_target(s);
    DLIST_INSERT_TAIL(&sc->sessions, s);
    sc->nsessions++;
    bool v6 = strchr(t->addr, ':') != NULL;
    const char *src = v6 ? sc->p.bind6 : sc->p.bind4;
    struct conn_connect_params cp = {.addr = t->addr, .port = t->port,
                                     .source = *src ? src : NULL,
                                     .timeout_ms = sc->p.t_connect, .in_limit = READ_LIMIT};
    char *err = NULL;
    s->st = SS_CONNECTING;
    s->pc = conn_connect(sc->srv->loop, &cp, &session_ops, s, on_connected, &err);
    if (!s->pc) { /* reported from the loop like any connect failure */
        s->early_err = err;
        s->timer = event_timer(sc->srv->loop, 0, on_early_failure, s);
    }
    return s;
}

void session_adopt(struct session *s, struct delivery *d)
{
    dest_unpark(s);
    s->d = d;
    s->reused = true;
    s->st = SS_READY;
    if (s->timer) {
        event_timer_cancel(s->sc->srv->loop, s->timer);
        s->timer = 0;
    }
}

void session_set_idle(struct session *s, struct dest *dst, long long ms)
{
    s->d = NULL;
    s->st = SS_IDLE;
    s->idle_dest = dst;
    session_set_timer(s, ms);
}

void session_quit(struct session *s)
{
    if (s->dead)
        return;
    s->d = NULL;
    if (s->idle_dest)
        dest_unpark(s);
    if (!s->c || conn_eof(s->c) || s->st == SS_QUIT || s->st == SS_CONNECTING || s->st == SS_HANDSHAKE ||
        s->st == SS_BODY) {
        session_kill(s);
        return;
    }
    s->st = SS_QUIT;
    session_send(s, "QUIT");
    session_set_timer(s, s->sc->p.t_quit);
}
