/* message.c - a message's life in the active queue: activation (move into active/, open,
 * read and check the queue file), per-recipient results and their log lines, and the hand
 * over to finish.c once no task of the message is out. Runs on the event loop only. */
#include "qmgr.h"
#include "delivery_log.h"
#include "xtext.h"
#include "log.h"
#include "mem.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

double wall_now(void) { return delivery_now(); }

double msg_arrival(const struct qmsg *msg)
{
    return (double)msg->m.arrival_sec + (double)msg->m.arrival_usec / 1e6;
}

static void move_corrupt(struct qmgr *q, const char *id, const char *why)
{
    if (queue_move(q->spool, id, QUEUE_ACTIVE, QUEUE_CORRUPT) < 0 && errno != ENOENT)
        log_error("%s: cannot move corrupt queue file to %s/: %m", id, QUEUE_CORRUPT);
    else
        log_warn("%s: corrupt queue file moved to %s/: %s", id, QUEUE_CORRUPT, why);
}

/* Not a problem of the file's content (permissions, descriptors): try again later. */
static void put_back(struct qmgr *q, const char *id, const char *queue, const char *why)
{
    log_warn("%s: cannot open the queue file (%s); back to %s/", id, why, queue);
    if (queue_move(q->spool, id, QUEUE_ACTIVE, queue) < 0 && errno != ENOENT)
        log_error("%s: move back to %s/: %m", id, queue);
}

static bool errno_is_content(const char *why) { return strncmp(why, "open:", 5) != 0; }

/* Open the file twice: read-write for our own marks, read-only for the delivery agents.
 * Both descriptors must name the same regular, singly linked file. */
static int open_queue_file(struct qmgr *q, const char *id, int *fd, int *rdfd, char **why)
{
    char *path = queue_path(q->spool, QUEUE_ACTIVE, id);
    *rdfd = -1;
    *fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    int rc = -1;
    struct stat a, b;
    if (*fd < 0) {
        if (errno == ELOOP || errno == EISDIR)
            *why = xstrdup("not a regular file (symbolic link or directory)");
        else if (errno != ENOENT)
            *why = xasprintf("open: %s", strerror(errno));
        goto out;
    }
    if (fstat(*fd, &a) < 0 || !S_ISREG(a.st_mode) || a.st_nlink != 1) {
        *why = xstrdup("not a regular file with one link");
        goto out;
    }
    *rdfd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (*rdfd < 0 && errno != ENOENT)
        *why = xasprintf("open: %s", strerror(errno));
    if (*rdfd < 0 || fstat(*rdfd, &b) < 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
        goto out; /* moved away under us (posthorn queue hold/delete): leave it be */
    rc = 0;
out:
    if (rc < 0) {
        if (*fd >= 0)
            close(*fd);
        if (*rdfd >= 0)
            close(*rdfd);
        *fd = *rdfd = -1;
    }
    free(path);
    return rc;
}

static struct qmsg *msg_new(struct qmgr *q, const char *id)
{
    struct qmsg *msg = xcalloc(1, sizeof *msg);
    msg->q = q;
    snprintf(msg->id, sizeof msg->id, "%s", id);
    msg->fd = msg->rdfd = -1;
    msg->t_active = wall_now();
    DLIST_INSERT_HEAD(&q->active, msg);
    q->nactive++;
    return msg;
}

void message_free(struct qmsg *msg)
{
    struct qmgr *q = msg->q;
    DLIST_REMOVE(&q->active, msg);
    q->nactive--;
    if (msg->fd >= 0)
        close(msg->fd);
    if (msg->rdfd >= 0)
        close(msg->rdfd);
    for (size_t i = 0; i < msg->m.nrcpts && msg->res; i++)
        free(msg->res[i].reason);
    free(msg->res);
    queue_msg_free(&msg->m);
    free(msg);
    if (q->backlog && !q->draining) {
        q->backlog = false;
        scan_incoming_soon(q);
        q->next_deferred_ms = 0; /* due deferred mail may have waited for room */
    }
}

static void load_backoff(struct qmsg *msg)
{
    struct defer_log d;
    char *err = NULL;
    int r = defer_log_read(msg->q->spool, msg->id, &d, &err);
    msg->has_defer_log = r != 0;
    if (r < 0) {
        log_warn("%s: ignoring defer log: %s", msg->id, err);
        free(err);
        return;
    }
    if (r == 1)
        msg->prev_backoff = d.backoff > 0 ? d.backoff : 1;
    defer_log_free(&d);
}

void message_activate(struct qmgr *q, const char *from_queue, const char *id)
{
    if (queue_move(q->spool, id, from_queue, QUEUE_ACTIVE) < 0) {
        if (errno == EEXIST)
            log_warn("%s: already in %s/; leaving the copy in %s/", id, QUEUE_ACTIVE, from_queue);
        else if (errno != ENOENT)
            log_error("%s: move to %s/: %m", id, QUEUE_ACTIVE);
        return;
    }
    int fd, rdfd;
    char *why = NULL, *err = NULL;
    if (open_queue_file(q, id, &fd, &rdfd, &why) < 0) {
        if (why && errno_is_content(why))
            move_corrupt(q, id, why);
        else if (why)
            put_back(q, id, from_queue, why);
        free(why);
        return;
    }
    struct qmsg *msg = msg_new(q, id);
    msg->fd = fd;
    msg->rdfd = rdfd;
    if (queue_read(fd, id, &msg->m, &err) < 0) {
        move_corrupt(q, id, err);
        free(err);
        message_free(msg);
        return;
    }
    msg->res = xcalloc(msg->m.nrcpts ? msg->m.nrcpts : 1, sizeof *msg->res);
    for (size_t i = 0; i < msg->m.nrcpts; i++)
        msg->res[i].state = msg->m.rcpts[i].done ? RS_DONE : RS_PENDING;
    load_backoff(msg);
    log_info("%s: from=<%s>, size=%zu, nrcpt=%zu (queue active)", id, msg->m.sender,
             msg->m.body_size, msg->m.nrcpts);
    dispatch_message(msg);
}

static bool expired(const struct qmsg *msg, double now)
{
    struct qmgr *q = msg->q;
    long long life = msg->m.sender[0] ? q->max_lifetime : q->bounce_lifetime;
    return now - (double)msg->m.arrival_sec >= (double)life;
}

/* orig_to= when the ORCPT names a different address than the one we deliver to. */
static char *orig_to(const struct queue_rcpt *r)
{
    const char *semi = strchr(r->orcpt, ';');
    if (!semi)
        return NULL;
    char *o = xtext_decode(semi + 1);
    if (o && strcasecmp(o, r->addr) == 0) {
        free(o);
        o = NULL;
    }
    return o;
}

static void log_result(struct qmsg *msg, size_t i, const char *relay, const double d[4],
                       const char *status)
{
    const struct rcpt_result *res = &msg->res[i];
    char *orig = orig_to(&msg->m.rcpts[i]);
    struct delivery_line l = {.queue_id = msg->id, .to = msg->m.rcpts[i].addr, .orig_to = orig,
                              .relay = relay, .delay = wall_now() - msg_arrival(msg),
                              .delays = {d[0], d[1], d[2], d[3]}, .dsn = res->dsn,
                              .status = status, .reason = res->reason};
    delivery_log(&l);
    free(orig);
}

void message_log_forwards(struct qmsg *msg, size_t i, const char *list, const char *fwd_id,
                          const char *relay, const double d[4])
{
    char *orig = orig_to(&msg->m.rcpts[i]);
    char *copy = xstrdup(list), *save = NULL;
    char *reason = xasprintf("forwarded as %s", fwd_id);
    for (char *a = strtok_r(copy, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
        struct delivery_line l = {.queue_id = msg->id, .to = a,
                                  .orig_to = orig ? orig : msg->m.rcpts[i].addr, .relay = relay,
                                  .delay = wall_now() - msg_arrival(msg),
                                  .delays = {d[0], d[1], d[2], d[3]}, .dsn = "2.0.0",
                                  .status = "sent", .reason = reason};
        delivery_log(&l);
    }
    free(reason);
    free(copy);
    free(orig);
}

static void set_result(struct rcpt_result *res, enum rcpt_state st, const char *dsn,
                       const char *reason)
{
    res->state = st;
    snprintf(res->dsn, sizeof res->dsn, "%s", dsn);
    free(res->reason);
    res->reason = xstrdup(reason ? reason : "");
    res->last_try = wall_now();
}

/* Every result of every recipient passes here, from the delivery agents (local-mda's
 * unknown users, alias loops, mail forwarding loops, expansion limits) and from qmgr itself
 * (dispatch.c, deliver.c): the one place that decides a bounce. With soft_bounce a
 * permanent failure is deferred instead, as 4.Y.Z with the agent's reason (Postfix does the
 * same), so it is retried; the lifetime still applies, as to any deferral: past it the
 * recipient bounces 5.4.7 with the last reason. A result the agent logged itself (its
 * reply said logged=yes: local-mda, one line per final recipient) is logged here only when
 * qmgr changes it. */
void message_apply_agent(struct qmsg *msg, size_t i, const char *status, const char *dsn,
                         const char *reason, const char *relay, const double delays[4],
                         bool agent_logged)
{
    struct rcpt_result *res = &msg->res[i];
    char soft[16];
    bool log = !agent_logged;
    if (msg->q->soft_bounce && delivery_soften(&status, &dsn, soft))
        log = true;
    if (strcmp(status, "sent") == 0) {
        set_result(res, RS_SENT, dsn, reason);
        msg->m.rcpts[i].done = true; /* the worker marked it and synced the file */
    } else if (strcmp(status, "bounce") == 0) {
        set_result(res, RS_BOUNCED, dsn, reason);
    } else if (expired(msg, wall_now())) {
        char *why = xasprintf("message expired (last error: %s)", reason);
        set_result(res, RS_BOUNCED, "5.4.7", why);
        free(why);
        status = "bounce";
        log = true;
    } else {
        set_result(res, RS_DEFERRED, dsn, reason);
    }
    if (log)
        log_result(msg, i, relay, delays, status);
}

void message_apply(struct qmsg *msg, size_t i, const char *status, const char *dsn,
                   const char *reason, const char *relay, const double delays[4])
{
    message_apply_agent(msg, i, status, dsn, reason, relay, delays, false);
}

void message_task_back(struct qmsg *msg)
{
    if (--msg->tasks_out > 0)
        return;
    if (msg->abandoned) {
        log_info("%s: left in %s/ for the next queue manager", msg->id, QUEUE_ACTIVE);
        message_free(msg);
        return;
    }
    finish_message(msg);
}
