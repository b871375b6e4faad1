/* login_session.c - the login skeleton's sessions (login_session.h): accepting with the
 * connection limits, the greeting or wrapper-mode TLS, the line loop, STARTTLS, the
 * plaintext-auth policy, the pre-login timeout and the end of a session, on the session
 * skeleton of lib/io/session.h. Event loop thread only. */
#include "login_handoff.h"
#include "login_proxy.h"
#include "login_session_int.h"
#include "log.h"
#include "mem.h"
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

#define LOGIN_INPUT_SLACK 4096 /* input buffered beyond one line_limit line */

static struct login_client *client(const struct sess *s) { return s->owner; }

/* --- replies and policy --- */

void login_reply(struct login_client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sess_vreply(c->sess, fmt, ap);
    va_end(ap);
}

void login_error(struct login_client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sess_verror(c->sess, fmt, ap);
    va_end(ap);
}

void login_close(struct login_client *c) { sess_close(c->sess); }

bool login_tls_active(const struct login_client *c) { return c->conn && conn_tls_active(c->conn); }

bool login_can_starttls(const struct login_client *c)
{
    return c->srv->tls && !login_tls_active(c);
}

bool login_may_auth(const struct login_client *c)
{
    return c->srv->p.allow_plaintext || login_tls_active(c);
}

bool login_starttls(struct login_client *c)
{
    char *err = NULL;
    /* RFC 2595 sec 4 (as RFC 3207 sec 4.2 for SMTP): commands pipelined behind the
     * STARTTLS command were sent in plaintext and are thrown away, never run inside TLS. */
    long discarded = sess_starttls(c->sess, c->srv->tls, &err);
    if (discarded < 0) {
        log_warn("%s from %s: %s", c->srv->proto->starttls, c->rip, err);
        free(err);
        login_close(c);
        return false;
    }
    if (discarded > 0)
        log_info("%s: discarded %ld bytes pipelined after %s", c->rip, discarded,
                 c->srv->proto->starttls);
    return true;
}

const struct login_params *login_server_params(const struct login_server *srv) { return &srv->p; }

void login_client_process(struct login_client *c) { sess_process(c->sess); }
void login_client_reap(struct login_client *c) { sess_reap(c->sess); }

/* --- the session skeleton's hooks --- */

static bool step(struct sess *s)
{
    struct login_client *c = client(s);
    const struct login_protocol *proto = c->srv->proto;
    size_t limit = c->srv->p.line_limit;
    bool bare;
    enum conn_line r = conn_read_line(c->conn, limit, &c->line, &bare);
    if (r == CONN_LINE_NONE)
        return false;
    if (r == CONN_LINE_TOO_LONG) {
        proto->line_too_long(c, limit);
    } else {
        c->line_bare = bare;
        proto->line(c, &c->line);
    }
    if (c->line.data)
        explicit_bzero(c->line.data, c->line.len);
    return true;
}

static bool waiting(const struct sess *s)
{
    const struct login_client *c = client(s);
    return c->wait_auth || c->wait_handoff;
}

static bool paused(const struct sess *s)
{
    const struct login_client *c = client(s);
    return waiting(s) || c->wait_drain || c->proxy;
}

static void too_many_errors(struct sess *s)
{
    struct login_client *c = client(s);
    log_info("too many errors from %s, session=<%s>", c->rip, c->id);
    c->srv->proto->too_many_errors(c);
}

static void on_timeout(struct sess *s)
{
    struct login_client *c = client(s);
    log_info("login timeout from %s, session=<%s>", c->rip, c->id);
    if (!sess_in_handshake(s))
        c->srv->proto->timeout(c, c->srv->p.login_timeout_ms / 1000);
}

static void on_lost(struct sess *s, const char *why)
{
    struct login_client *c = client(s);
    log_debug("%s: %s, session=<%s>", c->rip, why, c->id);
}

static void on_tls_ready(struct sess *s)
{
    struct login_client *c = client(s);
    char desc[256];
    tls_describe(conn_ssl(c->conn), desc, sizeof desc);
    log_debug("TLS established from %s: %s", c->rip, desc);
    c->srv->proto->forget(c); /* nothing learned before TLS counts (RFC 2595 sec 4) */
    if (c->srv->p.wrapper)
        c->srv->proto->greet(c);
}

static void on_drained(struct sess *s)
{
    struct login_client *c = client(s);
    if (c->wait_drain) {
        c->wait_drain = false;
        login_start_handoff(c);
    }
}

static void finish(struct sess *s)
{
    struct login_client *c = client(s);
    login_auth_forget(c);
    login_cancel_handoff(c);
    c->srv->proto->forget(c);
    free(c->auth_user);
    buf_free(&c->line);
    if (c->proto)
        explicit_bzero(c->proto, c->srv->proto->state_size);
    free(c->proto);
    free(c);
}

static const struct sess_ops login_ops = {
    .step = step, .paused = paused, .waiting = waiting, .too_many_errors = too_many_errors,
    .timeout = on_timeout, .lost = on_lost, .tls_ready = on_tls_ready, .drained = on_drained,
    .finish = finish,
};

/* --- accepting --- */

static void make_id(char *out, size_t size)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t n = size - 1 < 16 ? size - 1 : 16;
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[arc4random_uniform(sizeof alphabet - 1)];
    out[n] = 0;
}

static void local_addr(struct login_client *c, int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    snprintf(c->lip, sizeof c->lip, "unknown");
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return;
    char host[64];
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        if (inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host))
            snprintf(c->lip, sizeof c->lip, "%s", host);
        c->lport = ntohs(sin->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        bool mapped = IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr);
        const char *text = mapped ? inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], host, sizeof host)
                                  : inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
        if (text)
            snprintf(c->lip, sizeof c->lip, "%s", host);
        c->lport = ntohs(s6->sin6_port);
    }
}

/* Greet, refuse, or start the wrapper-mode handshake. */
static void open_session(struct login_server *srv, struct login_client *c)
{
    const struct login_params *p = &srv->p;
    if (srv->sessions.count > p->session_limit) {
        log_warn("%s %u reached: refusing %s", p->session_limit_name, p->session_limit, c->rip);
        if (!p->wrapper) /* in wrapper mode nothing can be said before TLS */
            srv->proto->refuse_busy(c);
        login_close(c);
    } else if (auth_guard_penalized(srv->guard, c->rip)) {
        log_info("refusing %s: too many failed logins", c->rip);
        if (!p->wrapper)
            srv->proto->refuse_penalty(c);
        login_close(c);
    } else if (p->wrapper) {
        char *err = NULL;
        if (sess_starttls(c->sess, srv->tls, &err) < 0) {
            log_warn("TLS from %s: %s", c->rip, err);
            free(err);
            sess_kill(c->sess);
        }
    } else {
        srv->proto->greet(c);
        conn_flush(c->conn);
    }
}

void login_server_accept(struct login_server *srv, int fd)
{
    struct login_client *c = xcalloc(1, sizeof *c);
    c->srv = srv;
    c->pair[0] = c->pair[1] = -1;
    c->proto = srv->proto->state_size ? xcalloc(1, srv->proto->state_size) : NULL;
    c->sess = sess_new(&srv->sessions, fd, srv->p.line_limit + LOGIN_INPUT_SLACK, &login_ops, c);
    c->conn = c->sess->conn;
    snprintf(c->rip, sizeof c->rip, "%s", conn_peer_addr(c->conn));
    c->rport = conn_peer_port(c->conn);
    local_addr(c, fd);
    make_id(c->id, sizeof c->id);
    log_debug("connect from %s, session=<%s>", c->rip, c->id);
    open_session(srv, c);
    sess_reap(c->sess);
}

/* --- the server --- */

struct login_server *login_server_new(struct event_loop *loop, const struct login_params *p,
                                      SSL_CTX *tls, struct auth_check *auth,
                                      const struct login_protocol *proto)
{
    struct login_server *srv = xcalloc(1, sizeof *srv);
    srv->loop = loop;
    srv->p = *p;
    srv->tls = tls;
    srv->auth = auth;
    srv->proto = proto;
    struct auth_limits lim = {.loop = loop, .check = auth, .anvil = p->anvil,
                              .default_domain = p->default_domain,
                              .max_failures = p->max_failures,
                              .failure_delay_ms = p->failure_delay_ms,
                              .failure_delay_limit_ms = p->failure_delay_limit_ms,
                              .penalty_time_ms = p->penalty_time_ms};
    srv->guard = auth_guard_new(&lim);
    struct sess_list *l = &srv->sessions;
    l->loop = loop;
    l->timeout_ms = p->login_timeout_ms;
    l->error_limit = p->error_limit;
    l->soft_error_limit = p->error_limit; /* no tarpit: the failure delay does that */
    l->error_delay_ms = 0;
    return srv;
}

void login_server_free(struct login_server *srv)
{
    while (!DLIST_EMPTY(&srv->sessions.sessions)) {
        struct sess *s = DLIST_FIRST(&srv->sessions.sessions);
        sess_kill(s);
        sess_reap(s);
    }
    auth_guard_free(srv->guard);
    free(srv);
}

unsigned login_server_busy(const struct login_server *srv)
{
    return srv->sessions.count + auth_guard_pending(srv->guard);
}

void login_server_tick(struct login_server *srv)
{
    sess_tick(&srv->sessions);
    auth_guard_tick(srv->guard);
}
