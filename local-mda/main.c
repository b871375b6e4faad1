/* main.c - local-mda: delivers queued mail to virtual mailboxes (Maildir++ with an LMDB
 * index, lib/store/mailstore.h), expanding aliases and honouring quotas.
 *
 * Protocol (doc/ipc.md, "deliver"): on SPOOL/private/local local-mda announces
 * protocol=deliver version=1; qmgr then sends requests, each with the queue file's
 * descriptor attached: request=deliver, queue_id, sender, arrival, nrcpt, rcpt_i and the
 * optional orcpt_i, notify_i (and nexthop, ignored). The reply holds nrcpt and, per
 * recipient, status_i (sent|defer|bounce), dsn_i, reason_i and optionally forward_i.
 * A malformed request closes the connection (qmgr then defers the whole request).
 * A connection is served start to finish inside the accept callback, in blocking style:
 * several local-mda processes share the listener (master.cf maxproc), and an idle
 * connection is closed after local_idle_timeout or when a signal (stop, reload) arrives.
 *
 * SECURITY: runs as vmail_owner (it writes the mailboxes), never as root. It trusts only
 * peers that are root, mail_owner or its own user (SO_PEERCRED), reads the queue file only
 * through the descriptor qmgr passes (a regular file), never runs commands or writes files
 * named by mail data, and writes envelope addresses into headers only with control
 * characters replaced. */
#include "local.h"
#include "deliver_request.h"
#include "ipc.h"
#include "log.h"
#include "mem.h"
#include "peercred.h"
#include "privs.h"
#include "server.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static bool peer_ok(const struct mda *m, int fd)
{
    struct peercred cred;
    if (peercred_get(fd, &cred) < 0) {
        log_warn("SO_PEERCRED: %m");
        return false;
    }
    if (peercred_uid_trusted(cred.uid, &m->mail_owner_uid, m->have_mail_owner ? 1 : 0))
        return true;
    log_warn("refusing a delivery connection from uid %u (pid %d)", (unsigned)cred.uid, (int)cred.pid);
    return false;
}

static void add_result(struct attrs *rep, size_t k, const struct outcome *o, const char *forward)
{
    deliver_reply_add(rep, k, o->status, o->dsn, o->reason);
    if (forward)
        attrs_add_indexed(rep, "forward", k, forward);
}

static void request_free(struct request *rq)
{
    queue_msg_free(&rq->msg);
    for (size_t i = 0; i < rq->ndelivered_to; i++)
        free(rq->delivered_to[i]);
    free(rq->delivered_to);
    for (size_t i = 0; i < rq->nboxes; i++) {
        free(rq->boxes[i].mailbox);
        outcome_free(&rq->boxes[i].out);
    }
    free(rq->boxes);
}

static void deliver_all(struct request *rq, const struct deliver_request *dr, struct attrs *rep)
{
    for (size_t k = 0; k < dr->nrcpt; k++) {
        const char *rcpt = dr->rcpt[k].addr;
        struct outcome o = {0};
        char *forward = NULL;
        process_recipient(rq, rcpt, &o, &forward);
        log_debug("%s: <%s>: %s %s %s", rq->queue_id, rcpt, o.status, o.dsn, o.reason);
        add_result(rep, k, &o, forward);
        free(forward);
        outcome_free(&o);
    }
}

/* Handle one request; -1 (with *err) when it is malformed and the connection must close. */
static int handle_request(struct mda *m, const struct attrs *a, int qfd, struct attrs *rep, char **err)
{
    struct deliver_request dr;
    struct stat st;
    if (deliver_request_parse(a, &dr, err) < 0)
        return -1;
    if (qfd < 0 || fstat(qfd, &st) < 0 || !S_ISREG(st.st_mode)) {
        *err = xstrdup("request without a queue file descriptor");
        deliver_request_free(&dr);
        return -1;
    }
    struct request rq = {.mda = m, .queue_id = dr.queue_id, .sender = dr.sender, .fd = qfd,
                         .arrival = dr.arrival};
    char *qerr = NULL;
    attrs_addf(rep, "nrcpt", "%zu", dr.nrcpt);
    if (queue_read(qfd, rq.queue_id, &rq.msg, &qerr) < 0 || scan_delivered_to(&rq, &qerr) < 0) {
        log_warn("%s: %s", rq.queue_id, qerr);
        struct outcome o = {0};
        outcome_set(&o, "defer", "4.3.0", "cannot read queue file: %s", qerr);
        for (size_t k = 0; k < dr.nrcpt; k++)
            add_result(rep, k, &o, NULL);
        outcome_free(&o);
    } else {
        deliver_all(&rq, &dr, rep);
    }
    free(qerr);
    request_free(&rq);
    deliver_request_free(&dr);
    return 0;
}

/* Wait for the next request. False on idle timeout, hang-up or a signal: SIGTERM and
 * SIGHUP interrupt the wait, and returning to the event loop lets the skeleton act on them. */
static bool wait_request(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, timeout_ms) > 0;
}

static void serve(struct server *srv, int fd)
{
    struct mda *m = srv->app;
    struct ipc_conn c;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
        log_warn("fcntl: %m");
        close(fd);
        return;
    }
    ipc_conn_init(&c, fd, (int)(config_int(srv->cfg, PARAM(local_idle_timeout)) * 1000));
    if (ipc_announce(&c, "deliver") < 0) {
        ipc_conn_close(&c);
        return;
    }
    for (;;) {
        struct attrs req = {0}, rep = {0};
        char *err = NULL;
        if (c.in.len == 0 && !wait_request(fd, c.timeout_ms))
            break;
        int r = ipc_recv(&c, &req, &err);
        int qfd = c.passed_fd;
        c.passed_fd = -1;
        if (r > 0 && handle_request(m, &req, qfd, &rep, &err) < 0)
            r = -1;
        if (r > 0 && ipc_send(&c, &rep, -1) < 0) {
            err = xasprintf("sending the reply: %s", strerror(errno));
            r = -1;
        }
        if (r < 0 && (!err || !strstr(err, strerror(ETIMEDOUT))))
            log_warn("delivery request: %s", err ? err : "protocol error");
        if (qfd >= 0)
            close(qfd);
        free(err);
        attrs_free(&req);
        attrs_free(&rep);
        if (r <= 0)
            break;
    }
    ipc_conn_close(&c);
}

static void tick(struct server *srv)
{
    if (srv->app)
        boxes_expire(srv->app);
}

static void on_accept(struct server *srv, int fd)
{
    if (!peer_ok(srv->app, fd)) {
        close(fd);
        return;
    }
    serve(srv, fd);
}

static void pre_init(struct server *srv)
{
    struct mda *m = xcalloc(1, sizeof *m);
    uid_t uid;
    gid_t gid;
    char *err = NULL;
    m->cfg = srv->cfg;
    if (privs_lookup(config_str(srv->cfg, PARAM(mail_owner)), &uid, &gid, &err) == 0) {
        m->mail_owner_uid = uid;
        m->have_mail_owner = true;
    }
    free(err);
    srv->app = m;
}

/* Exactly-once records must outlive every repetition of a request: a message is retried at
 * most until its queue lifetime ends. The margin covers clock steps and mail released
 * from hold late. */
#define ONCE_MARGIN (2 * 86400)

static void post_init(struct server *srv)
{
    struct mda *m = srv->app;
    char *err = NULL;
    long long life = config_int(srv->cfg, PARAM(maximal_queue_lifetime));
    long long blife = config_int(srv->cfg, PARAM(bounce_queue_lifetime));
    m->once_keep = (life > blife ? life : blife) + ONCE_MARGIN;
    m->res = resolver_open(srv->cfg, &err);
    if (!m->res)
        log_fatal("cannot open the user and alias tables: %s", err);
}

SERVER_MAIN(.program = "local-mda", .run_as = PARAM(vmail_owner), .pre_init = pre_init,
            .post_init = post_init, .accept = on_accept, .tick = tick)
