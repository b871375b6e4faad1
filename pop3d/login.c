/* login.c - the login role's sessions: greeting, the AUTHORIZATION state's command loop
 * (CAPA, STLS, QUIT; USER/PASS/AUTH in login_auth.c), error limits, the failure delay,
 * the login timeout and the end of a session. */
#include "log.h"
#include "mem.h"
#include "pop3d.h"
#include "tls.h"
#include <arpa/inet.h>
#include <bsd/stdlib.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static bool paused(const struct login_session *s)
{
    return s->dead || s->closing || s->wait_auth || s->wait_delay || s->wait_tls ||
           s->wait_handoff || s->wait_drain || s->proxy;
}

__attribute__((format(printf, 3, 0))) static void vline(struct login_session *s, struct buf *to,
                                                         const char *fmt, va_list ap)
{
    struct buf b = BUF_INIT;
    buf_vprintf(&b, fmt, ap);
    if (log_verbose())
        log_debug("> %s: %s", s->rip, buf_cstr(&b));
    buf_puts(&b, "\r\n");
    if (to)
        buf_append(to, b.data, b.len);
    else
        conn_write(s->conn, b.data, b.len);
    buf_free(&b);
}

void login_reply(struct login_session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(s, s->wait_delay ? &s->held : NULL, fmt, ap);
    va_end(ap);
}

void login_error(struct login_session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(s, s->wait_delay ? &s->held : NULL, fmt, ap);
    va_end(ap);
    if (++s->errors >= s->d->p.error_limit && !s->closing) {
        log_info("too many errors from %s, session=<%s>", s->rip, s->id);
        login_reply(s, "-ERR Too many errors, closing the connection.");
        login_close(s);
    }
}

void login_close(struct login_session *s)
{
    if (s->closing || s->dead)
        return;
    s->closing = true;
    s->closing_since = event_now_ms();
    conn_set_reading(s->conn, false);
    if (!s->wait_delay && conn_flush(s->conn))
        s->dead = true;
}

bool login_may_auth(const struct login_session *s)
{
    return s->d->p.allow_plaintext || conn_tls_active(s->conn);
}

static void cmd_capa(struct login_session *s)
{
    login_reply(s, "+OK Capability list follows");
    login_reply(s, "TOP");
    login_reply(s, "UIDL");
    login_reply(s, "RESP-CODES");
    login_reply(s, "AUTH-RESP-CODE");
    login_reply(s, "PIPELINING");
    if (login_may_auth(s)) { /* RFC 2595 sec 2.3: only what this connection may use */
        login_reply(s, "USER");
        login_reply(s, "SASL PLAIN LOGIN");
    }
    if (s->d->tls && !conn_tls_active(s->conn))
        login_reply(s, "STLS");
    login_reply(s, "IMPLEMENTATION %s", POP3_IMPLEMENTATION);
    login_reply(s, ".");
}

static void cmd_stls(struct login_session *s)
{
    if (conn_tls_active(s->conn)) {
        login_error(s, "-ERR TLS is already active.");
        return;
    }
    if (!s->d->tls) {
        login_error(s, "-ERR STLS is not available.");
        return;
    }
    login_reply(s, "+OK Begin TLS negotiation now.");
    char *err = NULL;
    /* RFC 2595 sec 4 (as RFC 3207 sec 4.2 for SMTP): commands pipelined behind STLS were
     * sent in plaintext and are thrown away, never run inside the TLS session. */
    long discarded = conn_starttls(s->conn, s->d->tls, &err);
    if (discarded < 0) {
        log_warn("STLS from %s: %s", s->rip, err);
        free(err);
        login_close(s);
        return;
    }
    if (discarded > 0)
        log_info("%s: discarded %ld bytes pipelined after STLS", s->rip, discarded);
    s->wait_tls = true;
}

static void command(struct login_session *s, struct buf *line)
{
    struct pop3_command c;
    const char *err;
    enum pop3_parse r = pop3_parse(line->data, line->len, &c, &err);
    if (log_verbose() && c.cmd != POP3_PASS && c.cmd != POP3_AUTH)
        log_debug("< %s: %s", s->rip, buf_cstr(line));
    if (r == POP3_PARSE_UNKNOWN) {
        login_error(s, "-ERR Unknown command.");
        return;
    }
    if (r == POP3_PARSE_SYNTAX) {
        login_error(s, "-ERR %s.", err);
        return;
    }
    switch (c.cmd) {
    case POP3_CAPA: cmd_capa(s); break;
    case POP3_STLS: cmd_stls(s); break;
    case POP3_USER: login_cmd_user(s, c.arg); break;
    case POP3_PASS: login_cmd_pass(s, c.arg); break;
    case POP3_AUTH: login_cmd_auth(s, c.arg, c.arg2); break;
    case POP3_APOP: login_error(s, "-ERR APOP is not supported."); break;
    case POP3_QUIT:
        login_reply(s, "+OK Logging out.");
        login_close(s);
        break;
    default:
        login_error(s, "-ERR Not logged in: %s is valid only in the TRANSACTION state.", c.keyword);
    }
    explicit_bzero(line->data, line->len);
}

void login_process(struct login_session *s)
{
    while (!paused(s)) {
        bool bare;
        size_t limit = s->d->p.line_limit;
        enum conn_line r = conn_read_line(s->conn, limit, &s->line, &bare);
        if (r == CONN_LINE_NONE)
            break;
        if (r == CONN_LINE_TOO_LONG) {
            if (s->state != L_CMD)
                login_auth_abort(s);
            login_error(s, "-ERR Line too long (at most %zu bytes).", limit);
            continue;
        }
        if (s->state != L_CMD)
            login_auth_line(s, buf_cstr(&s->line));
        else
            command(s, &s->line);
        explicit_bzero(s->line.data, s->line.len);
    }
    if (s->dead || s->proxy)
        return;
    if (!paused(s) && conn_eof(s->conn)) {
        login_close(s);
        return;
    }
    if (!s->wait_delay && conn_flush(s->conn) && s->closing)
        s->dead = true;
}

/* --- connection callbacks --- */

static void on_input(struct conn *c, void *ctx)
{
    struct login_session *s = ctx;
    login_process(s);
    login_reap(s);
}

static void on_error(struct conn *c, void *ctx, const char *why)
{
    struct login_session *s = ctx;
    log_debug("%s: %s, session=<%s>", s->rip, why, s->id);
    s->dead = true;
    login_reap(s);
}

static void on_tls_ready(struct conn *c, void *ctx)
{
    struct login_session *s = ctx;
    char desc[256];
    tls_describe(conn_ssl(c), desc, sizeof desc);
    log_debug("TLS established from %s: %s", s->rip, desc);
    s->wait_tls = false;
    login_auth_abort(s); /* nothing learned before TLS counts (RFC 2595 sec 4) */
    if (s->d->p.wrapper)
        login_reply(s, "+OK %s", s->d->p.greeting);
    login_process(s);
    login_reap(s);
}

static void on_drained(struct conn *c, void *ctx)
{
    struct login_session *s = ctx;
    if (s->closing) {
        s->dead = true;
    } else if (s->wait_drain) {
        s->wait_drain = false;
        login_start_handoff(s);
    }
    login_reap(s);
}

static const struct conn_ops login_ops = {
    .input = on_input,
    .error = on_error,
    .tls_ready = on_tls_ready,
    .drained = on_drained,
};

/* --- life cycle --- */

static void session_free(struct login_session *s)
{
    struct pop3d *d = s->d;
    DLIST_REMOVE(&d->logins, s);
    d->nsessions--;
    login_auth_cancel(s->job);
    login_cancel_handoff(s);
    if (s->delay_timer)
        event_timer_cancel(d->srv->loop, s->delay_timer);
    login_auth_abort(s);
    if (s->conn)
        conn_free(s->conn);
    free(s->auth_user);
    buf_free(&s->line);
    buf_free(&s->held);
    free(s);
}

void login_reap(struct login_session *s)
{
    if (s->dead)
        session_free(s);
}

static void make_id(char *out, size_t size)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t n = size - 1 < 16 ? size - 1 : 16;
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[arc4random_uniform(sizeof alphabet - 1)];
    out[n] = 0;
}

static void local_addr(struct login_session *s, int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    snprintf(s->lip, sizeof s->lip, "unknown");
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return;
    char host[64];
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        if (inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host))
            snprintf(s->lip, sizeof s->lip, "%s", host);
        s->lport = ntohs(sin->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) ? inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], host, sizeof host) != NULL
                                                 : inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host) != NULL)
            snprintf(s->lip, sizeof s->lip, "%s", host);
        s->lport = ntohs(s6->sin6_port);
    }
}

void login_accept(struct pop3d *d, int fd)
{
    struct login_session *s = xcalloc(1, sizeof *s);
    s->d = d;
    s->pair[0] = s->pair[1] = -1;
    s->conn = conn_new(d->srv->loop, fd, d->p.line_limit + 4096, &login_ops, s);
    snprintf(s->rip, sizeof s->rip, "%s", conn_peer_addr(s->conn));
    s->rport = conn_peer_port(s->conn);
    local_addr(s, fd);
    make_id(s->id, sizeof s->id);
    s->started = event_now_ms();
    DLIST_INSERT_HEAD(&d->logins, s);
    d->nsessions++;
    log_debug("connect from %s, session=<%s>", s->rip, s->id);
    if (d->nsessions > d->p.session_limit) {
        log_warn("pop3_process_session_limit %u reached: refusing %s", d->p.session_limit, s->rip);
        if (!d->p.wrapper) /* in wrapper mode nothing can be said before TLS */
            login_reply(s, "-ERR [SYS/TEMP] Too many connections, try again later.");
        login_close(s);
    } else if (login_penalty_count(d->penalty, s->rip, s->started) >= d->p.max_failures) {
        log_info("refusing %s: too many failed logins", s->rip);
        if (!d->p.wrapper)
            login_reply(s, "-ERR [AUTH] Too many failed logins from your address, try later.");
        login_close(s);
    } else if (d->p.wrapper) {
        char *err = NULL;
        if (conn_starttls(s->conn, d->tls, &err) < 0) {
            log_warn("TLS from %s: %s", s->rip, err);
            free(err);
            s->dead = true;
        } else {
            s->wait_tls = true;
        }
    } else {
        login_reply(s, "+OK %s", d->p.greeting);
        conn_flush(s->conn);
    }
    login_reap(s);
}

void login_tick(struct pop3d *d)
{
    long long now = event_now_ms();
    struct login_session *s, *next;
    DLIST_FOREACH_SAFE(s, &d->logins, next) {
        if (s->proxy)
            continue; /* the mailbox role times the session out; the proxy follows */
        if (s->closing) {
            if (now - s->closing_since > CLOSE_GRACE_MS)
                s->dead = true;
        } else if (!s->wait_auth && !s->wait_handoff && now - s->started > d->p.login_timeout_ms) {
            log_info("login timeout from %s, session=<%s>", s->rip, s->id);
            if (s->wait_tls) {
                s->dead = true;
            } else {
                login_reply(s, "-ERR Disconnected: no login within %lld seconds.",
                            d->p.login_timeout_ms / 1000);
                login_close(s);
            }
        }
        login_reap(s);
    }
}
