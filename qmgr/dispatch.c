/* dispatch.c - split a freshly activated message's pending recipients into delivery
 * requests: grouped by transport and next hop, at most the transport's recipient limit per
 * request, each request a task on the transport's pool. Recipients no transport can take
 * now (no smtp transport yet, resolver failure) are deferred at once. Event loop only. */
#include "qmgr.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

struct job *job_new(struct qmsg *msg, struct transport *tp, const char *nexthop)
{
    struct job *j = xcalloc(1, sizeof *j);
    j->task.run = deliver_run;
    j->task.done = deliver_done;
    j->msg = msg;
    j->tp = tp;
    j->nexthop = xstrdup(nexthop);
    j->t_queued = wall_now();
    return j;
}

void job_add_rcpt(struct job *j, size_t index)
{
    j->r = xreallocarray(j->r, j->n + 1, sizeof *j->r);
    memset(&j->r[j->n], 0, sizeof j->r[j->n]);
    j->r[j->n++].index = index;
}

/* why is "X.Y.Z text". */
static void defer_now(struct qmsg *msg, size_t i, const char *why)
{
    const char *sp = strchr(why, ' ');
    char dsn[16] = "4.0.0";
    if (sp && (size_t)(sp - why) < sizeof dsn) {
        memcpy(dsn, why, (size_t)(sp - why));
        dsn[sp - why] = 0;
    }
    double d[4] = {msg->t_active - msg_arrival(msg), 0, 0, 0};
    message_apply(msg, i, "defer", dsn, sp ? sp + 1 : why, "none", d);
}

static struct job *open_job(struct job **jobs, size_t njobs, struct transport *tp,
                            const char *nexthop)
{
    for (size_t k = njobs; k-- > 0;)
        if (jobs[k]->tp == tp && strcmp(jobs[k]->nexthop, nexthop) == 0)
            return jobs[k]->n < tp->rcpt_limit ? jobs[k] : NULL;
    return NULL;
}

void dispatch_message(struct qmsg *msg)
{
    struct job **jobs = NULL;
    size_t njobs = 0;
    for (size_t i = 0; i < msg->m.nrcpts; i++) {
        if (msg->res[i].state != RS_PENDING)
            continue;
        char *nexthop, *why;
        struct transport *tp = transport_for(msg->q, msg->m.rcpts[i].addr, &nexthop, &why);
        if (!tp) {
            defer_now(msg, i, why);
            free(why);
            continue;
        }
        struct job *j = open_job(jobs, njobs, tp, nexthop);
        if (!j) {
            j = job_new(msg, tp, nexthop);
            jobs = xreallocarray(jobs, njobs + 1, sizeof *jobs);
            jobs[njobs++] = j;
        }
        job_add_rcpt(j, i);
        msg->res[i].state = RS_BUSY;
        free(nexthop);
    }
    msg->tasks_out += (unsigned)njobs;
    for (size_t k = 0; k < njobs; k++)
        pool_submit(&jobs[k]->tp->pool, &jobs[k]->task);
    free(jobs);
    if (njobs == 0)
        finish_message(msg);
}
