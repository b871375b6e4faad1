/* special.c - local-mda's side of command and file deliveries: each (kind, target, alias)
 * at most once per request, through the helper (helper.c), which runs it as default_privs.
 * The request carries the queue file's descriptor; local-mda waits for the answer as long
 * as the helper's own limits allow (helper_job_limit) plus a margin. When the helper does
 * not answer it is taken as gone: the delivery defers, and local-mda ends after this
 * connection so that master starts a fresh process with a fresh helper. */
#include "local.h"
#include "log.h"
#include "mem.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MARGIN 30 /* seconds beyond the helper's limit */

static void ask_helper(struct request *rq, const struct special *sp, const char *orig,
                       struct outcome *o)
{
    struct mda *m = rq->mda;
    if (m->helper.fd < 0) {
        outcome_set(o, "defer", "4.3.0", "command and file delivery unavailable: helper gone");
        return;
    }
    struct attrs req = {0}, rep = {0};
    attrs_add(&req, "request", sp->kind == ALIAS_COMMAND ? "command" : "file");
    attrs_add(&req, "queue_id", rq->queue_id);
    attrs_add(&req, "sender", rq->sender);
    attrs_add(&req, "recipient", sp->owner);
    attrs_add(&req, "original_recipient", orig);
    attrs_add(&req, "target", sp->what);
    if (sp->extension)
        attrs_add(&req, "extension", sp->extension);
    m->helper.timeout_ms = (int)((helper_job_limit(m->cfg) + WAIT_MARGIN) * 1000);
    char *err = NULL;
    int r = ipc_send(&m->helper, &req, rq->fd) < 0 ? -1 : ipc_recv(&m->helper, &rep, &err);
    const char *st = attrs_get(&rep, "status"), *dsn = attrs_get(&rep, "dsn"),
               *reason = attrs_get(&rep, "reason");
    if (r > 0 && st && dsn && reason && rep.n == 3 &&
        (!strcmp(st, "sent") || !strcmp(st, "defer") || !strcmp(st, "bounce"))) {
        outcome_set(o, st, dsn, "%s", reason);
    } else {
        log_warn("%s: command and file delivery helper: %s", rq->queue_id,
                 err ? err : r == 0 ? "gone" : r < 0 ? strerror(errno) : "bad answer");
        outcome_set(o, "defer", "4.3.0", "command and file delivery failed: helper gone");
        ipc_conn_close(&m->helper);
    }
    free(err);
    attrs_free(&req);
    attrs_free(&rep);
}

const struct outcome *deliver_special(struct request *rq, const struct special *sp,
                                      const char *orig_rcpt)
{
    for (size_t i = 0; i < rq->nspecials; i++) {
        const struct special_done *d = &rq->specials[i];
        if (d->kind == sp->kind && !strcmp(d->what, sp->what) && !strcmp(d->owner, sp->owner))
            return &d->out;
    }
    struct outcome o = {0};
    ask_helper(rq, sp, orig_rcpt, &o);
    rq->specials = xreallocarray(rq->specials, rq->nspecials + 1, sizeof *rq->specials);
    struct special_done *d = &rq->specials[rq->nspecials++];
    d->kind = sp->kind;
    d->what = xstrdup(sp->what);
    d->owner = xstrdup(sp->owner);
    d->out = o;
    return &d->out;
}
