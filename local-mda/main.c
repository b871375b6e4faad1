/* main.c - local-mda: delivers queued mail to virtual mailboxes (Maildir++ with an LMDB
 * index, lib/store/mailstore.h), to alias commands and alias files, expanding aliases and
 * honouring quotas.
 *
 * Protocol (doc/ipc.md, "deliver"): on SPOOL/private/local local-mda announces
 * protocol=deliver version=1; qmgr then sends requests, each with the queue file's
 * descriptor attached: request=deliver, queue_id, sender, arrival, nrcpt, rcpt_i and the
 * optional orcpt_i, notify_i, delays (and nexthop, ignored). The reply holds nrcpt,
 * logged=yes (each final recipient has its log line: recipient.c) and, per recipient,
 * status_i (sent|defer|bounce), dsn_i, reason_i and optionally forward_i.
 * A malformed request closes the connection (qmgr then defers the whole request).
 * A connection is served start to finish inside the accept callback, in blocking style:
 * several local-mda processes share the listener (master.cf maxproc), and an idle
 * connection is closed after local_idle_timeout or when a signal (stop, reload) arrives.
 *
 * SECURITY: runs as vmail_owner (it writes the mailboxes), never as root. It trusts only
 * peers that are root, mail_owner or its own user (SO_PEERCRED), reads the queue file only
 * through the descriptor qmgr passes (a regular file), and writes envelope addresses into
 * headers only with control characters replaced. Commands and files come only from alias
 * tables and include files (expand.c says which), never from mail data; they are run and
 * written by a helper forked before the privileges are dropped (helper.c), as
 * default_privs, never as root or vmail_owner. */
#include "local.h"
#include "deliver_request.h"
#include "delivery_log.h"
#include "ipc.h"
#include "ipc_server.h"
#include "log.h"
#include "mem.h"
#include "privs.h"
#include "server.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void add_result(struct attrs *rep, size_t k, const struct outcome *o, const char *forward)
{
    deliver_reply_add(rep, k, o->status, o->dsn, o->reason);
    if (forward)
        attrs_add_indexed(rep, "forward", k, forward);
}

static void request_free(struct request *rq)
{
    queue_msg_free(&rq->msg);
    for (size_t i = 0; i < rq->nspecials; i++) {
        free(rq->specials[i].what);
        free(rq->specials[i].owner);
        outcome_free(&rq->specials[i].out);
    }
    free(rq->specials);
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
        process_recipient(rq, rcpt, dr->rcpt[k].orcpt, &o, &forward);
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
                         .arrival = dr.arrival, .t_start = delivery_now()};
    memcpy(rq.delays, dr.delays, sizeof rq.delays);
    char *qerr = NULL;
    attrs_addf(rep, "nrcpt", "%zu", dr.nrcpt);
    attrs_add(rep, "logged", "yes");
    if (queue_read(qfd, rq.queue_id, &rq.msg, &qerr) < 0 || scan_delivered_to(&rq, &qerr) < 0) {
        log_warn("%s: %s", rq.queue_id, qerr);
        struct outcome o = {0};
        outcome_set(&o, "defer", "4.3.0", "cannot read queue file: %s", qerr);
        for (size_t k = 0; k < dr.nrcpt; k++) {
            const char *rcpt = dr.rcpt[k].addr;
            char *orig = delivery_orig_to(rcpt, dr.rcpt[k].orcpt);
            add_result(rep, k, &o, NULL);
            log_delivery(&rq, rcpt, orig, &o);
            free(orig);
        }
        outcome_free(&o);
    } else {
        deliver_all(&rq, &dr, rep);
    }
    free(qerr);
    request_free(&rq);
    deliver_request_free(&dr);
    return 0;
}

static int on_request(void *ctx, const struct attrs *req, int qfd, struct attrs *rep, char **err)
{
    return handle_request(ctx, req, qfd, rep, err);
}

static void serve(struct server *srv, int fd)
{
    ipc_server_serve(fd, "deliver", (int)(config_int(srv->cfg, PARAM(local_idle_timeout)) * 1000),
                     "delivery request", on_request, srv->app);
}

static void tick(struct server *srv)
{
    if (srv->app)
        boxes_expire(srv->app);
}

static void on_accept(struct server *srv, int fd)
{
    struct mda *m = srv->app;
    if (!ipc_peers_ok(&m->peers, fd, "delivery")) {
        close(fd);
        return;
    }
    serve(srv, fd);
    if (m->helper.fd < 0) { /* the helper is gone: a new process starts a new one */
        log_warn("the command and file delivery helper is gone; exiting");
        server_exit(srv);
    }
}

static void pre_init(struct server *srv)
{
    struct mda *m = xcalloc(1, sizeof *m);
    m->cfg = srv->cfg;
    ipc_peers_init(&m->peers, srv->cfg);
    m->unprivileged = !privs_is_root();
    m->instance_uid = geteuid();
    helper_start(m, srv->listen_fd); /* still privileged: it runs commands and writes files as default_privs */
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

SERVER_MAIN(.program = "local-mda", .log_name = "local", .run_as = PARAM(vmail_owner), .pre_init = pre_init,
            .post_init = post_init, .accept = on_accept, .tick = tick)
