/* session.c - one SMTP session on the shared session skeleton (lib/io/session.h): the
 * SMTP side of its life cycle - the input step by mode, the 220/421 replies, what is
 * logged on a lost connection, a timeout or too many errors (the soft limit delays replies,
 * the hard one closes), the reset after STARTTLS, and the end of the session. See smtpd.h
 * for the lifetime rule. */
#include "dkim_client.h"
#include "log.h"
#include "mem.h"
#include "smtpd.h"
#include "tls.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct session *owner(const struct sess *ss) { return ss->owner; }

void session_close(struct session *s) { sess_close(s->sess); }

void session_resume(struct session *s)
{
    s->wait_role = false;
    sess_process(s->sess);
    sess_reap(s->sess);
}
void session_kill(struct session *s) { sess_kill(s->sess); }
void session_process(struct session *s) { sess_process(s->sess); }
void session_reap(struct session *s) { sess_reap(s->sess); }

long session_starttls(struct session *s, SSL_CTX *ctx, char **err)
{
    return sess_starttls(s->sess, ctx, err);
}

/* --- the skeleton's hooks (lib/io/session.h) --- */

static bool step(struct sess *ss)
{
    struct session *s = owner(ss);
    return s->mode == MODE_DATA ? data_input(s)
         : s->mode == MODE_BDAT ? bdat_input(s)
                                : command_input(s);
}

static bool waiting(const struct sess *ss)
{
    const struct session *s = owner(ss);
    return s->wait_commit || s->wait_anvil || s->wait_role || s->wait_dns;
}

static bool paused(const struct sess *ss) { return waiting(ss); }

/* A client that leaves without QUIT is logged (Postfix's "lost connection after X"), except
 * right after a message was answered: many clients hang up then. */
static void on_eof(struct sess *ss)
{
    struct session *s = owner(ss);
    if (s->last_cmd != WHERE_EOM)
        log_session_end(s, "lost connection");
    txn_reset(s);
}

static void too_many_errors(struct sess *ss)
{
    struct session *s = owner(ss);
    log_session_end(s, "too many errors");
    session_reply(s, "421 4.7.0 %s Error: too many errors", s->d->p.hostname);
}

static void on_timeout(struct sess *ss)
{
    struct session *s = owner(ss);
    log_session_end(s, "timeout");
    if (sess_in_handshake(ss))
        return; /* dropped: nothing can be said in plaintext */
    txn_reset(s);
    sess_release_held(ss);
    session_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->d->p.hostname);
}

/* smtpd_command_time_limit or smtpd_min_data_rate (lib/io/session.h, deadlines). */
static void on_too_slow(struct sess *ss, const char *why)
{
    struct session *s = owner(ss);
    log_info("%s: %s", s->client, why); /* which limit; the next line is Postfix's */
    log_session_end(s, "timeout");
    if (sess_in_handshake(ss))
        return;
    txn_reset(s);
    sess_release_held(ss);
    session_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->d->p.hostname);
}

static void on_lost(struct sess *ss, const char *why)
{
    struct session *s = owner(ss);
    if (sess_in_handshake(ss))
        log_info("SSL_accept error from %s: %s", s->client, why);
    else
        log_debug("connection from %s: %s", s->client, why);
    if (s->last_cmd != WHERE_EOM)
        log_session_end(s, "lost connection");
}

static void on_replied(struct sess *ss, const char *line)
{
    smtp_stats_reply(&owner(ss)->stats, line);
}

static void open_session(struct session *s);

static void on_tls_ready(struct sess *ss)
{
    struct session *s = owner(ss);
    char desc[256];
    tls_describe(conn_ssl(s->conn), desc, sizeof desc);
    log_info("TLS connection established from %s: %s", s->client, desc);
    /* RFC 3207 sec 4.2: forget everything learned before TLS, including EHLO. */
    free(s->helo);
    s->helo = NULL;
    s->esmtp = false;
    txn_reset(s);
    if (s->d->hooks->tls_started)
        s->d->hooks->tls_started(s);
    sess_touch(ss);
    if (!s->opened) /* wrapper mode: the session opens inside TLS (RFC 8314 sec 3.3) */
        open_session(s);
}

static void session_free(struct sess *ss);

static const struct sess_ops session_ops = {
    .step = step, .paused = paused, .waiting = waiting, .eof = on_eof,
    .too_many_errors = too_many_errors, .timeout = on_timeout, .too_slow = on_too_slow,
    .lost = on_lost, .replied = on_replied,
    .tls_ready = on_tls_ready, .finish = session_free,
};

/* --- life cycle --- */

void txn_reset(struct session *s)
{
    if (s->txn.msg)
        msg_abort(s);
    for (size_t i = 0; i < s->txn.nrcpts; i++) {
        free(s->txn.rcpts[i].addr);
        free(s->txn.rcpts[i].orcpt);
    }
    free(s->txn.pending.addr);
    free(s->txn.pending.orcpt);
    free(s->txn.rcpts);
    free(s->txn.mail);
    memset(&s->txn, 0, sizeof s->txn);
    s->mode = MODE_CMD;
    s->content_bytes = 0;
    if (sess_rate_active(s->sess)) { /* back to commands: their time limit goes on */
        sess_rate_stop(s->sess);
        sess_set_deadline(s->sess, s->cmd_left_ms);
    }
}

void session_content_started(struct session *s)
{
    s->cmd_left_ms = sess_deadline_left(s->sess);
    sess_set_deadline(s->sess, 0);
    sess_rate_start(s->sess);
}

/* Runs from sess_reap(); the connection is freed after. */
static void session_free(struct sess *ss)
{
    struct session *s = owner(ss);
    struct smtpd *d = s->d;
    if (d->hooks->session_end)
        d->hooks->session_end(s);
    clients_del(d->clients, s->addr);
    peername_cancel(s);
    anvil_cancel(s->anvil_req);
    if (s->anvil_generation)
        anvil_disconnect(d->anvil, s->addr, s->anvil_generation);
    if (s->job)
        s->job->owner = NULL; /* the commit goes on; its result is only logged */
    if (s->sign_req) /* the queue file is aborted with the transaction below */
        dkim_sign_cancel(s->sign_req);
    txn_reset(s);
    log_disconnect(s);
    free(s->helo);
    free(s->auth_user);
    if (s->line.data) /* it may have held a SASL response */
        explicit_bzero(s->line.data, s->line.len);
    buf_free(&s->line);
    free(s);
}

void session_setup(struct smtpd *d)
{
    struct smtpd_params *p = &d->p;
    struct sess_list *l = &d->sessions;
    l->loop = d->srv->loop;
    l->timeout_ms = p->timeout_ms;
    l->error_limit = p->hard_errors;
    l->soft_error_limit = p->soft_errors;
    l->error_delay_ms = p->error_sleep_ms;
    l->idle_on_input = true;
    l->min_rate = p->min_data_rate;
    l->rate_grace_ms = p->data_rate_grace_ms;
}

/* Greet, or refuse a client over its connection count or rate (count and rate across every
 * process of this service when anvil answered, else this process's count and no rate). */
static void greet_or_refuse(struct session *s, unsigned count, unsigned rate)
{
    struct smtpd_params *p = &s->d->p;
    if (p->client_limit && count > p->client_limit) {
        log_warn("Connection concurrency limit exceeded: %u from %s for service %s",
                 count, s->client, s->d->srv->service);
        session_reply(s, "421 4.7.0 %s Error: too many connections from %s", p->hostname, s->addr);
        session_close(s);
    } else if (p->rate_limit && rate > p->rate_limit) {
        log_warn("Connection rate limit exceeded: %u from %s for service %s", rate,
                 s->client, s->d->srv->service);
        session_reply(s, "421 4.7.0 %s Error: too many connections from %s", p->hostname, s->addr);
        session_close(s);
    } else {
        session_reply(s, "220 %s", p->banner);
        conn_flush(s->conn);
        sess_set_deadline(s->sess, p->command_time_ms);
    }
}

static void on_anvil(void *ctx, const struct anvil_reply *r)
{
    struct session *s = ctx;
    s->anvil_req = NULL;
    s->wait_anvil = false;
    if (r->status == ANVIL_OK) {
        s->anvil_generation = r->generation;
        greet_or_refuse(s, r->count, r->rate);
    } else {
        greet_or_refuse(s, clients_count(s->d->clients, s->addr), 0);
    }
    session_process(s);
    session_reap(s);
}

/* The process limit, then the client's connection count and rate (asking anvil when it
 * counts for us), then the greeting. In wrapper mode this runs once TLS is up: nothing can
 * be said before it. */
static void open_session(struct session *s)
{
    struct smtpd *d = s->d;
    struct smtpd_params *p = &d->p;
    s->opened = true;
    if (d->sessions.count > p->process_limit) {
        log_warn("process connection limit %u reached: refusing %s", p->process_limit,
                 s->client);
        session_reply(s, "421 4.3.2 %s Service not available: too many connections", p->hostname);
        session_close(s);
    } else if (d->anvil) {
        s->wait_anvil = true; /* input waits for the greeting */
        s->anvil_req = anvil_connect(d->anvil, s->addr, on_anvil, s);
    } else {
        greet_or_refuse(s, clients_count(d->clients, s->addr), 0);
    }
}

void session_accept(struct smtpd *d, int fd)
{
    struct smtpd_params *p = &d->p;
    struct session *s = xcalloc(1, sizeof *s);
    s->d = d;
    s->sess = sess_new(&d->sessions, fd, p->line_limit + 65536, &session_ops, s);
    s->conn = s->sess->conn;
    snprintf(s->addr, sizeof s->addr, "%s", conn_peer_addr(s->conn));
    peername_set(s, "unknown");
    s->last_cmd = "CONNECT";
    smtp_stats_init(&s->stats);
    clients_add(d->clients, s->addr);
    if (d->hooks->session_start)
        d->hooks->session_start(s);
    if (d->dns) {
        peername_lookup(s);
    } else {
        if (p->peername_lookup) /* wanted, but the resolver did not start */
            s->name_status = PEER_TEMPFAIL;
        session_begin(s);
    }
    session_reap(s);
}

void session_begin(struct session *s)
{
    struct smtpd *d = s->d;
    log_connect(s);
    if (d->p.wrapper) {
        char *err = NULL;
        if (session_starttls(s, d->tls, &err) < 0) {
            log_warn("TLS for %s: %s", s->client, err);
            free(err);
            session_kill(s);
        }
    } else {
        open_session(s);
    }
}

void session_tick(struct smtpd *d) { sess_tick(&d->sessions); }

/* RFC 3848 (with RFC 6531 sec 3.7.3): "S" for TLS, "A" once authenticated. */
const char *session_protocol(const struct session *s)
{
    bool tls = conn_tls_active(s->conn), a = s->auth_user != NULL;
    if (!s->esmtp)
        return tls ? "SMTPS" : "SMTP";
    if (s->txn.mail && s->txn.mail->smtputf8)
        return tls ? (a ? "UTF8SMTPSA" : "UTF8SMTPS") : (a ? "UTF8SMTPA" : "UTF8SMTP");
    return tls ? (a ? "ESMTPSA" : "ESMTPS") : (a ? "ESMTPA" : "ESMTP");
}

void session_commit_done(struct session *s, int rc, const char *id, const char *err)
{
    s->wait_commit = false;
    if (rc == 0) {
        session_reply(s, "250 2.0.0 Ok: queued as %s", id);
        s->sess->errors = 0;
    } else {
        log_warn("%s: %s", id, err ? err : "queue file commit failed");
        session_error(s, "451 4.3.0 Error: queue file write error");
    }
    txn_reset(s);
    if (rc == 0) /* a message queued: the command time limit starts again */
        sess_set_deadline(s->sess, s->d->p.command_time_ms);
    session_process(s);
}
