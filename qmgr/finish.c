/* finish.c - the end of a message's run through the active queue, on the finish pool (one
 * thread: these steps fsync and must not stall the loop).
 *
 * Bounced recipients are marked done only after their non-delivery notification is queued
 * durably (stricter than marking first: a crash in between repeats the attempt and at
 * worst sends the report twice, instead of losing it). Then:
 *  - a success DSN for recipients delivered with NOTIFY=SUCCESS (best effort: their marks
 *    are already durable), and a delay DSN the first time a recipient that asked with
 *    NOTIFY=DELAY is deferred;
 *  - recipients still pending: the done-marks are fdatasynced (deliver.c leaves them
 *    unsynced for exactly-once transports), the defer log is rewritten (back-off doubled
 *    from minimal_backoff_time up to maximal_backoff_time), the file's mtime set to the
 *    next retry time and the file moved to deferred/;
 *  - nothing pending: the queue file and its defer log are unlinked, without a directory
 *    fsync (as Postfix does): every result in the file is either synced (bounces, forwards,
 *    transports that are not exactly-once) or safe to repeat, so a removal that a system
 *    crash undoes only brings back a file whose repeated requests deliver nothing twice.
 * A failure report returns the original message (up to bounce_size_limit), except that a
 * loop or policy failure (dsn_status_hdrs_only) reported to a sender whose domain is not one
 * of ours returns its headers only (RFC 6522 text/rfc822-headers): such mail often carries a
 * forged sender, and its body would go to an innocent third party (backscatter).
 * Messages from the null sender never get a DSN (logged as discarded). A file that vanished
 * meanwhile (posthorn queue delete/hold) is left alone quietly. */
#include "qmgr.h"
#include "dsn.h"
#include "log.h"
#include "mem.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct finish {
    struct task task;
    struct qmsg *msg;
    bool sender_foreign; /* the sender's domain is not one of ours (decided on the loop) */
    bool deferred;
    bool queued_mail;
    long long next_retry; /* Unix seconds, when deferred */
};

static const char *queue_attr_ci(const struct queue_msg *m, const char *name)
{
    for (size_t i = 0; i < m->nattrs; i++)
        if (strcasecmp(m->attrs[i].name, name) == 0)
            return m->attrs[i].value;
    return NULL;
}

static void report_init(struct dsn_report *r, const struct qmsg *msg, enum dsn_kind kind)
{
    struct qmgr *q = msg->q;
    const char *ret = queue_attr_ci(&msg->m, "ret");
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->hostname = q->hostname;
    r->origin = q->origin;
    r->from_local = q->notice_sender;
    r->queue_id = msg->id;
    r->sender = msg->m.sender;
    r->envid = queue_attr_ci(&msg->m, "envid");
    r->ret_hdrs = ret && strcasecmp(ret, "HDRS") == 0;
    r->arrival = msg->m.arrival_sec;
    r->now = (long long)wall_now();
    r->size_limit = (size_t)q->bounce_size_limit;
    r->notice_limit = (size_t)q->bounce_notice_limit;
}

static const char *action_of(const struct qmsg *msg, size_t i, enum dsn_kind kind)
{
    if (kind == DSN_FAILURE)
        return "failed";
    if (kind == DSN_DELAY)
        return "delayed";
    if (msg->res[i].relayed == 'p') /* RFC 3464 sec 2.3.3: the next hop has no DSN */
        return "relayed";
    return msg->res[i].expanded ? "expanded" : "delivered";
}

/* Queue one report for the recipients in state st that asked for this kind; 1 queued,
 * 0 nothing to send, -1 failed. */
static int send_report(struct finish *f, enum dsn_kind kind, enum rcpt_state st)
{
    struct qmsg *msg = f->msg;
    struct qmgr *q = msg->q;
    struct dsn_rcpt *v = xcalloc(msg->m.nrcpts, sizeof *v);
    size_t n = 0;
    long long life = msg->m.sender[0] ? q->max_lifetime : q->bounce_lifetime;
    for (size_t i = 0; i < msg->m.nrcpts; i++) {
        const struct rcpt_result *res = &msg->res[i];
        if (res->state != st || !dsn_notify_wants(msg->m.rcpts[i].notify, kind))
            continue;
        if (kind == DSN_SUCCESS && res->relayed == 'd')
            continue; /* RFC 3461 sec 4.1: the next hop got NOTIFY and reports itself */
        if (kind == DSN_DELAY && (msg->prev_backoff || !*msg->m.rcpts[i].notify))
            continue; /* only once, and only when asked explicitly */
        v[n++] = (struct dsn_rcpt){.addr = msg->m.rcpts[i].addr, .orcpt = msg->m.rcpts[i].orcpt,
                                   .action = action_of(msg, i, kind), .status = res->dsn,
                                   .diag = res->reason, .last_attempt = (long long)res->last_try,
                                   .will_retry_until = kind == DSN_DELAY ? msg->m.arrival_sec + life : 0};
    }
    int rc = 0;
    static const char *const what[] = {[DSN_FAILURE] = "non-delivery notification",
                                       [DSN_DELAY] = "delay notification",
                                       [DSN_SUCCESS] = "delivery status notification"};
    if (n && !msg->m.sender[0]) {
        log_info("%s: sender %s discarded: the sender is <>", msg->id, what[kind]);
    } else if (n) {
        struct dsn_report r;
        char id[QUEUE_ID_SIZE], *err = NULL;
        report_init(&r, msg, kind);
        r.rcpts = v;
        r.nrcpts = n;
        /* Backscatter: a loop or policy failure reported to a sender outside our domains
         * (often forged) returns the headers only, for all recipients of the report. */
        for (size_t k = 0; k < n && kind == DSN_FAILURE && f->sender_foreign; k++)
            r.hdrs_only |= dsn_status_hdrs_only(v[k].status);
        if (dsn_queue(q->spool, &r, msg->fd, &msg->m, id, &err) == 0) {
            log_info("%s: sender %s: %s", msg->id, what[kind], id);
            f->queued_mail = true;
            rc = 1;
        } else {
            log_warn("%s: cannot queue the %s: %s", msg->id, what[kind], err ? err : "?");
            rc = -1;
        }
        free(err);
    }
    free(v);
    return rc;
}

static void mark_bounced_done(struct finish *f)
{
    struct qmsg *msg = f->msg;
    bool marked = false;
    for (size_t i = 0; i < msg->m.nrcpts; i++) {
        if (msg->res[i].state != RS_BOUNCED)
            continue;
        if (queue_mark_done(msg->fd, &msg->m.rcpts[i]) < 0)
            log_error("%s: cannot mark <%s> done: %m", msg->id, msg->m.rcpts[i].addr);
        marked = true;
    }
    if (marked && fdatasync(msg->fd) < 0)
        log_error("%s: fdatasync: %m", msg->id);
}

/* A report that could not be queued keeps its recipients pending: they are tried again. */
static void bounce_report_failed(struct qmsg *msg)
{
    for (size_t i = 0; i < msg->m.nrcpts; i++)
        if (msg->res[i].state == RS_BOUNCED) {
            msg->res[i].state = RS_DEFERRED;
            snprintf(msg->res[i].dsn, sizeof msg->res[i].dsn, "4.3.0");
        }
}

static void defer(struct finish *f)
{
    struct qmsg *msg = f->msg;
    struct qmgr *q = msg->q;
    struct defer_log d = {0};
    /* The message stays queued: its done-marks must survive (deliver.c may not have synced
     * them), or a crash would repeat those recipients for the rest of its lifetime. */
    if (fdatasync(msg->fd) < 0)
        log_error("%s: fdatasync: %m", msg->id);
    long long b = msg->prev_backoff ? msg->prev_backoff * 2 : q->min_backoff;
    d.backoff = b < q->min_backoff ? q->min_backoff : b > q->max_backoff ? q->max_backoff : b;
    for (size_t i = 0; i < msg->m.nrcpts; i++)
        if (!msg->m.rcpts[i].done)
            defer_log_add(&d, msg->m.rcpts[i].addr, msg->res[i].reason, msg->res[i].dsn);
    if (defer_log_write(q->spool, msg->id, &d) < 0)
        log_error("%s: cannot write the defer log: %m", msg->id);
    f->next_retry = (long long)wall_now() + d.backoff;
    struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = (time_t)f->next_retry}};
    if (futimens(msg->fd, ts) < 0)
        log_error("%s: cannot set the retry time: %m", msg->id);
    if (queue_move(q->spool, msg->id, QUEUE_ACTIVE, QUEUE_DEFERRED) < 0) {
        if (errno != ENOENT)
            log_error("%s: move to %s/: %m", msg->id, QUEUE_DEFERRED);
    } else {
        f->deferred = true;
    }
    defer_log_free(&d);
}

/* Unlink the queue file (no directory fsync: see the top of this file) and its defer log
 * when it had one. 0 or -1 with errno. */
static int remove_finished(struct qmsg *msg)
{
    char *path = queue_path(msg->q->spool, QUEUE_ACTIVE, msg->id);
    int r = unlink(path);
    int saved = errno;
    free(path);
    if (r == 0 && msg->has_defer_log && defer_log_remove(msg->q->spool, msg->id) < 0)
        log_warn("%s: cannot remove the defer log: %m", msg->id);
    errno = saved;
    return r;
}

static void finish_run(struct task *t)
{
    struct finish *f = (struct finish *)t;
    struct qmsg *msg = f->msg;
    bool any_bounced = false;
    for (size_t i = 0; i < msg->m.nrcpts; i++)
        any_bounced |= msg->res[i].state == RS_BOUNCED;
    if (any_bounced) {
        if (send_report(f, DSN_FAILURE, RS_BOUNCED) < 0)
            bounce_report_failed(msg);
        else
            mark_bounced_done(f);
    }
    send_report(f, DSN_SUCCESS, RS_SENT);
    if (queue_msg_pending(&msg->m) > 0) {
        send_report(f, DSN_DELAY, RS_DEFERRED);
        defer(f);
    } else if (remove_finished(msg) == 0) {
        log_info("%s: removed", msg->id);
        /* The last close of an unlinked file frees it, which can wait for the disk (a
         * synchronous discard on file systems mounted with -o discard): do it here, on the
         * finish thread, not in message_free on the event loop. No task of the message is
         * out any more, so nothing else uses the descriptors. */
        close(msg->fd);
        close(msg->rdfd);
        msg->fd = msg->rdfd = -1;
    } else if (errno != ENOENT) {
        log_error("%s: cannot remove the queue file: %m", msg->id);
    }
}

static void finish_done(struct qmgr *q, struct task *t)
{
    struct finish *f = (struct finish *)t;
    if (f->deferred) {
        long long due = event_now_ms() + (f->next_retry - (long long)wall_now()) * 1000;
        if (due < q->next_deferred_ms)
            q->next_deferred_ms = due;
    }
    if (f->queued_mail)
        scan_incoming_soon(q);
    message_free(f->msg);
    free(f);
}

void finish_message(struct qmsg *msg)
{
    struct finish *f = xcalloc(1, sizeof *f);
    f->task.run = finish_run;
    f->task.done = finish_done;
    f->msg = msg;
    /* The resolver belongs to the loop: ask here, and only when the answer matters. */
    bool ask = false;
    for (size_t i = 0; i < msg->m.nrcpts; i++)
        ask |= msg->res[i].state == RS_BOUNCED && dsn_status_hdrs_only(msg->res[i].dsn);
    f->sender_foreign = ask && !sender_is_ours(msg->q, msg->m.sender);
    msg->tasks_out++;
    pool_submit(&msg->q->finish_pool, &f->task);
}
