/* deliver.c - one delivery request, run start to finish on a transport's worker thread:
 * connect to the delivery agent, check its announcement, send the request with the queue
 * file's read-only descriptor (SCM_RIGHTS), read and strictly check the reply, queue
 * forwarded copies, then mark sent recipients done before the result goes back to the loop
 * (deliver_done).
 * The marks are fdatasynced only where losing them could do harm: for transports that are
 * not exactly-once (a repeated request would deliver again) and for recipients with
 * forwarded copies (repeating them would queue the copies again). An exactly-once agent
 * (local-mda, which records each copy with the queue ID in the mailbox index) answers a
 * repeated request with "sent" and writes nothing, so after a crash a lost mark costs one
 * repeated request, not a duplicate, and the sync per message is saved.
 * Anything that goes wrong before a complete, valid reply defers every recipient of the
 * request: a recipient is never marked done without the agent saying so. */
#include "qmgr.h"
#include "dsn.h"
#include "ipc.h"
#include "log.h"
#include "mem.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Connect and check the announcement; fd or -1 with *err. */
static int conn_open(struct job *j, struct ipc_conn *c, char **err)
{
    int fd = ipc_connect(j->tp->socket);
    if (fd < 0) {
        *err = xasprintf("connect to %s: %s", j->tp->socket, strerror(errno));
        return -1;
    }
    ipc_conn_init(c, fd, (int)(j->msg->q->ipc_timeout * 1000));
    char *e = NULL;
    if (ipc_expect(c, "deliver", &e) < 0) {
        *err = xasprintf("%s: %s", j->tp->socket, e);
        free(e);
        ipc_conn_close(c);
        return -1;
    }
    return 0;
}

static void fail_all(struct job *j, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail_all(struct job *j, const char *dsn, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    for (size_t k = 0; k < j->n; k++) {
        struct job_rcpt *r = &j->r[k];
        snprintf(r->status, sizeof r->status, "defer");
        snprintf(r->dsn, sizeof r->dsn, "%s", dsn);
        free(r->reason);
        r->reason = xstrdup(buf_cstr(&b));
        free(r->forward);
        r->forward = NULL;
        free(r->relay);
        r->relay = NULL;
        r->relayed = 0;
    }
    j->setup = 0;
    buf_free(&b);
}

static void build_request(const struct job *j, struct attrs *a)
{
    const struct queue_msg *m = &j->msg->m;
    attrs_add(a, "request", "deliver");
    attrs_add(a, "queue_id", j->msg->id);
    attrs_add(a, "sender", m->sender);
    attrs_addf(a, "arrival", "%lld", m->arrival_sec);
    if (j->tp->by_nexthop)
        attrs_add(a, "nexthop", j->nexthop);
    attrs_addf(a, "nrcpt", "%zu", j->n);
    for (size_t k = 0; k < j->n; k++) {
        const struct queue_rcpt *r = &m->rcpts[j->r[k].index];
        attrs_add_indexed(a, "rcpt", k, r->addr);
        if (*r->orcpt)
            attrs_add_indexed(a, "orcpt", k, r->orcpt);
        if (*r->notify)
            attrs_add_indexed(a, "notify", k, r->notify);
    }
}

/* One request on a fresh connection. Delivery agents serve one connection at a time
 * (local-mda processes share the listener), so a connection per request keeps them fairly
 * shared between the workers and never holds an agent process while idle. */
static int converse(struct job *j, struct attrs *req, struct attrs *rep, char **err)
{
    struct ipc_conn c;
    if (conn_open(j, &c, err) < 0)
        return -1;
    j->t_conn = wall_now();
    j->connected = true;
    /* Postfix's delays a/b/c as qmgr saw them; the agent measures d and logs the line. */
    attrs_addf(req, "delays", "%.6f/%.6f/%.6f", j->msg->t_active - msg_arrival(j->msg),
               j->t_start - j->t_queued, j->t_conn - j->t_start);
    char *e = NULL;
    int r = -1;
    if (ipc_send(&c, req, j->msg->rdfd) < 0)
        *err = xasprintf("lost connection with the %s delivery agent: %s", j->tp->name,
                         strerror(errno));
    else if ((r = ipc_recv(&c, rep, &e)) <= 0)
        *err = xasprintf("lost connection with the %s delivery agent while delivering%s%s",
                         j->tp->name, e ? ": " : "", e ? e : "");
    free(e);
    ipc_conn_close(&c);
    return r > 0 ? 0 : -1;
}

static void mark_done(struct job *j)
{
    struct qmsg *msg = j->msg;
    bool must_sync = false;
    for (size_t k = 0; k < j->n; k++) {
        if (strcmp(j->r[k].status, "sent") != 0)
            continue;
        struct queue_rcpt copy = msg->m.rcpts[j->r[k].index]; /* the loop owns the original */
        if (queue_mark_done(msg->fd, &copy) < 0)
            log_error("%s: cannot mark <%s> done: %m", msg->id, copy.addr);
        must_sync |= !j->tp->exactly_once || j->r[k].forward;
    }
    if (must_sync && fdatasync(msg->fd) < 0)
        log_error("%s: fdatasync: %m (delivered recipients may be delivered again)", msg->id);
}

void deliver_run(struct task *t)
{
    struct job *j = (struct job *)t;
    struct attrs req = {0}, rep = {0};
    char *err = NULL;
    j->t_start = wall_now();
    build_request(j, &req);
    if (converse(j, &req, &rep, &err) < 0) {
        fail_all(j, "4.3.0", "delivery temporarily suspended: %s", err);
    } else if (deliver_parse_reply(j, &rep, &err) < 0) {
        fail_all(j, "4.3.0", "malformed reply from the %s delivery agent: %s", j->tp->name, err);
    } else {
        forward_all(j);
        mark_done(j);
    }
    free(err);
    attrs_free(&req);
    attrs_free(&rep);
    j->t_done = wall_now();
}

void deliver_done(struct qmgr *q, struct task *t)
{
    struct job *j = (struct job *)t;
    struct qmsg *msg = j->msg;
    if (t->cancelled) {
        msg->abandoned = true;
    } else {
        /* c: reaching the agent plus the agent's own set-up (DNS, connect, greeting, TLS) */
        double d[4] = {msg->t_active - msg_arrival(msg),
                       j->t_start - j->t_queued,
                       j->connected ? j->t_conn - j->t_start + j->setup : 0,
                       j->t_done - (j->connected ? j->t_conn : j->t_start) - j->setup};
        if (d[3] < 0)
            d[3] = 0;
        for (size_t k = 0; k < j->n; k++) {
            struct job_rcpt *r = &j->r[k];
            char *reason = NULL;
            const char *relay = r->relay ? r->relay : j->connected ? j->tp->name : "none";
            if (r->forward && r->fwd_id[0] && j->agent_logged)
                message_log_forwards(msg, r->index, r->forward, r->fwd_id, relay, d);
            else if (r->forward && r->fwd_id[0])
                reason = xasprintf("%s%sforwarded as %s", r->reason, *r->reason ? ", " : "",
                                   r->fwd_id);
            message_apply_agent(msg, r->index, r->status, r->dsn, reason ? reason : r->reason,
                                relay, d, j->agent_logged && !r->changed);
            if (r->forward && strcmp(r->status, "sent") == 0)
                msg->res[r->index].expanded = true;
            if (strcmp(r->status, "sent") == 0)
                msg->res[r->index].relayed = r->relayed;
            free(reason);
        }
    }
    if (j->queued_mail)
        scan_incoming_soon(q);
    message_task_back(msg);
    for (size_t k = 0; k < j->n; k++) {
        free(j->r[k].reason);
        free(j->r[k].forward);
        free(j->r[k].relay);
    }
    free(j->r);
    free(j->nexthop);
    free(j);
}
