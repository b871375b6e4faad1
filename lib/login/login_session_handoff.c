/* login_session_handoff.c - the login skeleton's end of a successful login
 * (login_session.h): hand the session to the post-login process (login_handoff.h). A
 * plaintext session's socket is passed itself, with any commands the client pipelined
 * behind its password; a TLS session passes one end of a socketpair and this process stays
 * as its TLS proxy (login_proxy.h). The post-login process answers the login command; when
 * it refuses (mailbox in use, mailbox error) the protocol tells the client and the session
 * stays logged out. Event loop thread only. */
#include "login_handoff.h"
#include "login_proxy.h"
#include "login_session_int.h"
#include "log.h"
#include "mem.h"
#include "sasl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void close_pair(struct login_client *c)
{
    for (int i = 0; i < 2; i++)
        if (c->pair[i] >= 0) {
            close(c->pair[i]);
            c->pair[i] = -1;
        }
}

static void on_proxy_closed(void *ctx, const char *why)
{
    struct login_client *c = ctx;
    if (!c->proxy)
        return; /* killed by login_cancel_handoff */
    c->proxy = NULL;
    log_debug("proxy for %s ended: %s, session=<%s>", c->rip, why, c->id);
    sess_kill(c->sess);
    login_client_reap(c);
}

/* The refusal text of the post-login process, made safe for one reply line. */
static void refusal(struct login_client *c, const char *err)
{
    char text[256];
    snprintf(text, sizeof text, "%s", err ? err : "");
    for (char *p = text; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            *p = ' ';
    if (strncmp(text, "[IN-USE]", 8) == 0 || strncmp(text, "[SYS/", 5) == 0) {
        log_info("login refused by the mailbox service: user=<%s>, rip=%s: %s, session=<%s>",
                 c->auth_user, c->rip, text, c->id);
        c->srv->proto->handoff_refused(c, text);
    } else {
        log_warn("handing the session of %s to %s failed: %s, session=<%s>", c->auth_user,
                 c->srv->p.post_login_socket, text, c->id);
        c->srv->proto->handoff_refused(c, NULL);
    }
}

/* Back to the logged-out state; the caller goes on processing input. */
static void handoff_failed(struct login_client *c, const char *err)
{
    c->wait_handoff = false;
    close_pair(c);
    refusal(c, err);
    free(c->auth_user);
    c->auth_user = NULL;
    conn_set_reading(c->conn, true);
}

static void on_handoff(void *ctx, bool ok, const char *err)
{
    struct login_client *c = ctx;
    c->handoff = NULL;
    c->wait_handoff = false;
    bool tls = login_tls_active(c);
    if (!ok) {
        handoff_failed(c, err);
        login_client_process(c);
        login_client_reap(c);
        return;
    }
    log_info("Login: user=<%s>, method=%s, rip=%s, lip=%s%s, session=<%s>", c->auth_user,
             c->method, c->rip, c->lip, tls ? ", TLS" : "", c->id);
    if (tls) {
        int mine = c->pair[0];
        close(c->pair[1]);
        c->pair[0] = c->pair[1] = -1;
        struct conn *conn = sess_detach(c->sess);
        c->conn = NULL;
        c->proxy = login_proxy_new(c->srv->loop, conn, mine, on_proxy_closed, c);
    } else {
        sess_kill(c->sess); /* frees our copy only: the post-login process has the socket */
    }
    login_client_reap(c);
}

/* The request's attributes; for a plaintext session also what the client pipelined. */
static void build_request(struct login_client *c, bool tls, struct attrs *a)
{
    attrs_add(a, "request", "login");
    attrs_add(a, "service", c->srv->proto->service);
    attrs_add(a, "user", c->auth_user);
    attrs_add(a, "session", c->id);
    attrs_add(a, "method", c->method);
    attrs_add(a, "rip", c->rip);
    attrs_addf(a, "rport", "%d", c->rport);
    attrs_add(a, "lip", c->lip);
    attrs_addf(a, "lport", "%d", c->lport);
    attrs_add(a, "tls", tls ? "yes" : "no");
    if (c->srv->proto->handoff_attrs)
        c->srv->proto->handoff_attrs(c, a);
    size_t len;
    const char *data = conn_data(c->conn, &len);
    if (!tls && len > 0) { /* pipelined commands behind the password */
        struct buf b = BUF_INIT;
        base64_encode(data, len, &b);
        attrs_add(a, "input", buf_cstr(&b));
        buf_free(&b);
    }
}

void login_start_handoff(struct login_client *c)
{
    if (conn_out_pending(c->conn) > 0) { /* earlier replies go out first, from here */
        c->wait_drain = true;
        conn_flush(c->conn);
        return;
    }
    bool tls = login_tls_active(c);
    int fd = conn_fd(c->conn);
    if (tls) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, c->pair) < 0) {
            log_warn("socketpair: %m");
            handoff_failed(c, "socketpair failed");
            return;
        }
        fd = c->pair[1];
    }
    struct attrs a = {0};
    build_request(c, tls, &a);
    /* Nothing more is read from the client until the post-login process has the session:
     * what is buffered now is all it must be given. */
    conn_set_reading(c->conn, false);
    c->wait_handoff = true;
    c->handoff = handoff_start(c->srv->loop, c->srv->p.post_login_socket, &a, fd,
                               LOGIN_HANDOFF_TIMEOUT_MS, on_handoff, c);
    attrs_free(&a);
}

void login_cancel_handoff(struct login_client *c)
{
    if (c->handoff) {
        handoff_cancel(c->handoff);
        c->handoff = NULL;
    }
    close_pair(c);
    struct login_proxy *p = c->proxy;
    if (p) {
        c->proxy = NULL;
        login_proxy_kill(p, "session ended");
    }
}
