/* handoff.c - the login role's end of a successful login: hand the session to the mailbox
 * role (lib/login_handoff.h). A plaintext session's socket is passed itself, with any
 * commands the client pipelined behind its password; a TLS session passes one end of a
 * socketpair and this process stays as its TLS proxy (lib/login_proxy.h). The mailbox
 * role answers the login command; when it refuses (maildrop in use, mailbox error) its
 * reason goes to the client and the session stays in the AUTHORIZATION state. */
#include "log.h"
#include "mem.h"
#include "pop3d.h"
#include "sasl.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void close_pair(struct login_session *s)
{
    for (int i = 0; i < 2; i++)
        if (s->pair[i] >= 0) {
            close(s->pair[i]);
            s->pair[i] = -1;
        }
}

static void on_proxy_closed(void *ctx, const char *why)
{
    struct login_session *s = ctx;
    if (!s->proxy)
        return; /* killed by session_free */
    s->proxy = NULL;
    s->conn = NULL; /* freed by the proxy */
    log_debug("proxy for %s ended: %s, session=<%s>", s->rip, why, s->id);
    s->dead = true;
    login_reap(s);
}

/* The refusal text of the mailbox role, made safe for one reply line. */
static void refusal(struct login_session *s, const char *err)
{
    char text[256];
    snprintf(text, sizeof text, "%s", err ? err : "");
    for (char *p = text; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            *p = ' ';
    if (strncmp(text, "[IN-USE]", 8) == 0 || strncmp(text, "[SYS/", 5) == 0) {
        log_info("login refused by the mailbox service: user=<%s>, rip=%s: %s, session=<%s>",
                 s->auth_user, s->rip, text, s->id);
        login_reply(s, "-ERR %s", text);
    } else {
        log_warn("handing the session of %s to %s failed: %s, session=<%s>", s->auth_user,
                 s->d->p.mailbox_socket, text, s->id);
        login_reply(s, "-ERR [SYS/TEMP] Internal error, try again later.");
    }
}

/* Back to the AUTHORIZATION state; the caller goes on processing input. */
static void handoff_failed(struct login_session *s, const char *err)
{
    s->wait_handoff = false;
    close_pair(s);
    refusal(s, err);
    free(s->auth_user);
    s->auth_user = NULL;
    conn_set_reading(s->conn, true);
}

static void on_handoff(void *ctx, bool ok, const char *err)
{
    struct login_session *s = ctx;
    s->handoff = NULL;
    s->wait_handoff = false;
    bool tls = conn_tls_active(s->conn);
    if (!ok) {
        handoff_failed(s, err);
        login_process(s);
        login_reap(s);
        return;
    }
    log_info("Login: user=<%s>, method=%s, rip=%s, lip=%s%s, session=<%s>", s->auth_user,
             s->method, s->rip, s->lip, tls ? ", TLS" : "", s->id);
    if (tls) {
        int mine = s->pair[0];
        close(s->pair[1]);
        s->pair[0] = s->pair[1] = -1;
        s->proxy = login_proxy_new(s->d->srv->loop, s->conn, mine, on_proxy_closed, s);
    } else {
        conn_free(s->conn); /* our copy only: the mailbox role has the socket now */
        s->conn = NULL;
        s->dead = true;
    }
    login_reap(s);
}

void login_start_handoff(struct login_session *s)
{
    if (conn_out_pending(s->conn) > 0) { /* earlier replies go out first, from here */
        s->wait_drain = true;
        conn_flush(s->conn);
        return;
    }
    bool tls = conn_tls_active(s->conn);
    struct attrs a = {0};
    attrs_add(&a, "request", "login");
    attrs_add(&a, "service", "pop3");
    attrs_add(&a, "user", s->auth_user);
    attrs_add(&a, "session", s->id);
    attrs_add(&a, "method", s->method);
    attrs_add(&a, "rip", s->rip);
    attrs_addf(&a, "rport", "%d", s->rport);
    attrs_add(&a, "lip", s->lip);
    attrs_addf(&a, "lport", "%d", s->lport);
    attrs_add(&a, "tls", tls ? "yes" : "no");
    int fd;
    if (tls) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, s->pair) < 0) {
            log_warn("socketpair: %m");
            attrs_free(&a);
            handoff_failed(s, "socketpair failed");
            return;
        }
        fd = s->pair[1];
    } else {
        fd = conn_fd(s->conn);
        size_t len;
        const char *data = conn_data(s->conn, &len);
        if (len > 0) { /* pipelined commands behind the password */
            struct buf b = BUF_INIT;
            base64_encode(data, len, &b);
            attrs_add(&a, "input", buf_cstr(&b));
            buf_free(&b);
        }
    }
    /* Nothing more is read from the client until the mailbox role has the session: what
     * is buffered now is all it must be given. */
    conn_set_reading(s->conn, false);
    s->wait_handoff = true;
    s->handoff = handoff_start(s->d->srv->loop, s->d->p.mailbox_socket, &a, fd,
                               HANDOFF_TIMEOUT_MS, on_handoff, s);
    attrs_free(&a);
}

void login_cancel_handoff(struct login_session *s)
{
    if (s->handoff) {
        handoff_cancel(s->handoff);
        s->handoff = NULL;
    }
    close_pair(s);
    struct login_proxy *p = s->proxy;
    if (p) {
        s->proxy = NULL;
        s->conn = NULL;
        login_proxy_kill(p, "session ended");
    }
}
