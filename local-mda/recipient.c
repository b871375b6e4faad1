/* recipient.c - the outcome of one recipient of a request: expand it, check for a mail
 * forwarding loop, deliver to each local mailbox, command and file, log one line per
 * final target, and combine the results.
 *
 * Logging (doc/operator.md, "Logs"): local-mda writes the delivery line of each final
 * target it delivers to, as Postfix's local does: to=<the member>, orig_to=<the original
 * recipient> (its ORCPT, else the envelope recipient; left out when it is the same), with
 * "delivered to maildir", "delivered to command: CMD" or "delivered to file: PATH". A
 * recipient that fails as a whole (unknown, loop, limits, table errors) gets one line for
 * itself. Remote members are logged by qmgr when it has queued their copy ("forwarded as
 * ID"). The reply says logged=yes, so qmgr logs only what it changes itself.
 *
 * Combination: any deferred target defers the recipient (qmgr retries it; mailboxes that
 * already got their copy recognise the retry and get no second one: mailbox.c), else
 * any bounced target bounces it, else it is sent. Remote targets are returned as
 * forward_i only with "sent", so a retried recipient never forwards twice. With soft_bounce
 * a bounce is logged and answered as a deferral (4.Y.Z), as qmgr would turn it. */
#include "local.h"
#include "buf.h"
#include "delivery_log.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int rank(const char *status)
{
    return strcmp(status, "defer") == 0 ? 2 : strcmp(status, "bounce") == 0 ? 1 : 0;
}

static void soften(const struct request *rq, struct outcome *o)
{
    const char *dsn = o->dsn;
    char buf[16];
    if (config_bool(rq->mda->cfg, PARAM(soft_bounce)) && delivery_soften(&o->status, &dsn, buf))
        memcpy(o->dsn, buf, sizeof o->dsn);
}

void log_delivery(const struct request *rq, const char *to, const char *orig_to,
                  const struct outcome *o)
{
    struct outcome shown = *o;
    soften(rq, &shown);
    double now = delivery_now();
    double arrival = rq->msg.arrival_sec ? (double)rq->msg.arrival_sec + (double)rq->msg.arrival_usec / 1e6
                                         : (double)rq->arrival; /* the queue file was unreadable */
    struct delivery_line l = {
        .queue_id = rq->queue_id, .to = to, .orig_to = orig_to, .relay = "local",
        .delay = now - arrival,
        .delays = {rq->delays[0], rq->delays[1], rq->delays[2], now - rq->t_start},
        .dsn = shown.dsn, .status = shown.status, .reason = o->reason};
    delivery_log(&l);
}

static const char *loop_address(const struct request *rq, const char *rcpt, const struct expansion *x)
{
    if (has_delivered_to(rq, rcpt))
        return rcpt;
    for (size_t i = 0; i < x->nlocal; i++)
        if (has_delivered_to(rq, x->local[i].delivered_to))
            return x->local[i].delivered_to;
    for (size_t i = 0; i < x->nspecial; i++)
        if (has_delivered_to(rq, x->special[i].owner))
            return x->special[i].owner;
    return NULL;
}

static void sent_reason(const struct expansion *x, struct outcome *out, char **forward)
{
    struct buf reason = BUF_INIT, fw = BUF_INIT;
    if (x->nlocal)
        buf_puts(&reason, "delivered to maildir");
    for (size_t i = 0; i < x->nspecial; i++)
        buf_printf(&reason, "%sdelivered to %s: %s", reason.len ? "; " : "",
                   x->special[i].kind == ALIAS_COMMAND ? "command" : "file", x->special[i].what);
    if (x->nremote) {
        buf_printf(&reason, "%sforwarded to %zu address%s", reason.len ? "; " : "", x->nremote,
                   x->nremote == 1 ? "" : "es");
        for (size_t i = 0; i < x->nremote; i++) {
            if (i)
                buf_putc(&fw, ',');
            buf_puts(&fw, x->remote[i]);
        }
        *forward = buf_steal(&fw);
    }
    outcome_set(out, "sent", "2.0.0", "%s", buf_cstr(&reason));
    buf_free(&reason);
    buf_free(&fw);
}

static void keep_worst(struct outcome *worst, const struct outcome *o)
{
    if (rank(o->status) > rank(worst->status))
        outcome_set(worst, o->status, o->dsn, "%s", o->reason);
}

/* Deliver to every final target, logging each; the worst outcome in *worst. */
static void deliver_targets(struct request *rq, const char *rcpt, const char *orig,
                            const struct expansion *x, struct outcome *worst)
{
    for (size_t i = 0; i < x->nlocal; i++) {
        const struct target *t = &x->local[i];
        const struct outcome *o = deliver_mailbox(rq, t); /* rq->boxes moves as it grows */
        /* the recipient itself is logged as the client wrote it, a member as listed */
        log_delivery(rq, strcasecmp(t->delivered_to, rcpt) == 0 ? rcpt : t->delivered_to, orig, o);
        keep_worst(worst, o);
    }
    for (size_t i = 0; i < x->nspecial; i++) {
        const struct outcome *o = deliver_special(rq, &x->special[i], orig);
        log_delivery(rq, x->special[i].owner, orig, o);
        keep_worst(worst, o);
    }
}

void process_recipient(struct request *rq, const char *rcpt, const char *orcpt,
                       struct outcome *out, char **forward)
{
    struct expansion x;
    *forward = NULL;
    char *orig = delivery_orig_to(rcpt, orcpt);
    expand_recipient(rq, rcpt, &x);
    const char *loop = x.failed ? NULL : loop_address(rq, rcpt, &x);
    if (x.failed || loop) {
        if (x.failed)
            outcome_set(out, x.fail.status, x.fail.dsn, "%s", x.fail.reason);
        else
            outcome_set(out, "bounce", "5.4.6", "mail forwarding loop for %s", loop);
        log_delivery(rq, rcpt, orig, out);
    } else {
        struct outcome worst = {.status = "sent"};
        deliver_targets(rq, rcpt, orig, &x, &worst);
        if (rank(worst.status) > 0)
            outcome_set(out, worst.status, worst.dsn, "%s", worst.reason);
        else
            sent_reason(&x, out, forward);
        outcome_free(&worst);
    }
    soften(rq, out);
    free(orig);
    expansion_free(&x);
}
