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

#define MAX_RCPT 100000

static bool plain_attribute(const char *name)
{
    static const char *const names[] = {"request", "queue_id", "sender", "arrival", "nrcpt",
                                        "nexthop", "delays"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

/* Every attribute known, none twice; rcpt_0 .. rcpt_{nrcpt-1} all there and not empty,
 * orcpt_i and notify_i optional with i < nrcpt (lib/ipc/ipc.h, repeated groups). */
static int check_groups(const struct attrs *a, long long nrcpt, char **err)
{
    size_t k, n;
    for (size_t i = 0; i < a->n; i++) {
        const char *nm = a->v[i].name;
        bool known = plain_attribute(nm) || attrs_name_indexed(nm, "rcpt", &k) ||
                     attrs_name_indexed(nm, "orcpt", &k) || attrs_name_indexed(nm, "notify", &k);
        if (!known || attrs_get(a, nm) != a->v[i].value) {
            *err = xasprintf("unknown, out of range or repeated attribute \"%s\"", nm);
            return -1;
        }
    }
    if (attrs_group_count(a, "rcpt", &n, err) < 0 ||
        attrs_group_check_sparse(a, "orcpt", (size_t)nrcpt, err) < 0 ||
        attrs_group_check_sparse(a, "notify", (size_t)nrcpt, err) < 0)
        return -1;
    if (n != (size_t)nrcpt) {
        *err = xasprintf("%zu recipients where nrcpt says %lld", n, nrcpt);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!*attrs_get_indexed(a, "rcpt", i)) {
            *err = xasprintf("rcpt_%zu empty", i);
            return -1;
        }
    return 0;
}

static int check_request(const struct attrs *a, long long *nrcpt, char **err)
{
    long long arrival;
    const char *req = attrs_get(a, "request"), *id = attrs_get(a, "queue_id");
    if (!req || strcmp(req, "deliver") != 0 || !id || !queue_id_valid(id) ||
        !attrs_get(a, "sender") || !attrs_get_ll(a, "arrival", &arrival) ||
        !attrs_get_ll(a, "nrcpt", nrcpt) || *nrcpt < 1 || *nrcpt > MAX_RCPT) {
        *err = xstrdup("request, queue_id, sender, arrival or nrcpt missing or invalid");
        return -1;
    }
    return check_groups(a, *nrcpt, err);
}

static void add_result(struct attrs *rep, long long k, const struct outcome *o, const char *forward)
{
    attrs_add_indexed(rep, "status", (size_t)k, o->status);
    attrs_add_indexed(rep, "dsn", (size_t)k, o->dsn);
    attrs_add_indexed(rep, "reason", (size_t)k, o->reason);
    if (forward)
        attrs_add_indexed(rep, "forward", (size_t)k, forward);
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

static void deliver_all(struct request *rq, const struct attrs *a, long long n, struct attrs *rep)
{
    for (long long k = 0; k < n; k++) {
        const char *rcpt = attrs_get_indexed(a, "rcpt", (size_t)k);
        struct outcome o = {0};
        char *forward = NULL;
        process_recipient(rq, rcpt, attrs_get_indexed(a, "orcpt", (size_t)k), &o, &forward);
        log_debug("%s: <%s>: %s %s %s", rq->queue_id, rcpt, o.status, o.dsn, o.reason);
        add_result(rep, k, &o, forward);
        free(forward);
        outcome_free(&o);
    }
}

/* Handle one request; -1 (with *err) when it is malformed and the connection must close. */
static int handle_request(struct mda *m, const struct attrs *a, int qfd, struct attrs *rep, char **err)
{
    long long n;
    struct stat st;
    if (check_request(a, &n, err) < 0)
        return -1;
    if (qfd < 0 || fstat(qfd, &st) < 0 || !S_ISREG(st.st_mode)) {
        *err = xstrdup("request without a queue file descriptor");
        return -1;
    }
    struct request rq = {.mda = m, .queue_id = attrs_get(a, "queue_id"),
                         .sender = attrs_get(a, "sender"), .fd = qfd, .t_start = delivery_now()};
    attrs_get_ll(a, "arrival", &rq.arrival); /* checked by check_request */
    const char *delays = attrs_get(a, "delays"); /* qmgr's a/b/c; d is ours */
    if (delays && sscanf(delays, "%lf/%lf/%lf", &rq.delays[0], &rq.delays[1], &rq.delays[2]) != 3)
        memset(rq.delays, 0, sizeof rq.delays);
    char *qerr = NULL;
    attrs_addf(rep, "nrcpt", "%lld", n);
    attrs_add(rep, "logged", "yes");
    if (queue_read(qfd, rq.queue_id, &rq.msg, &qerr) < 0 || scan_delivered_to(&rq, &qerr) < 0) {
        log_warn("%s: %s", rq.queue_id, qerr);
        struct outcome o = {0};
        outcome_set(&o, "defer", "4.3.0", "cannot read queue file: %s", qerr);
        for (long long k = 0; k < n; k++) {
            const char *rcpt = attrs_get_indexed(a, "rcpt", (size_t)k);
            char *orig = original_recipient(rcpt, attrs_get_indexed(a, "orcpt", (size_t)k));
            add_result(rep, k, &o, NULL);
            log_delivery(&rq, rcpt, orig, &o);
            free(orig);
        }
        outcome_free(&o);
    } else {
        deliver_all(&rq, a, n, rep);
    }
    free(qerr);
    request_free(&rq);
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
