/* recipient.c - the outcome of one recipient of a request: expand it, check for a mail
 * forwarding loop, deliver to each local mailbox, and combine the results.
 *
 * Combination: any deferred mailbox defers the recipient (qmgr retries it; mailboxes that
 * already got their copy recognise the retry and get no second one: mailbox.c), else
 * any bounced mailbox bounces it, else it is sent. Remote targets are returned as
 * forward_i only with "sent", so a retried recipient never forwards twice. */
#include "local.h"
#include "buf.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

static int rank(const char *status)
{
    return strcmp(status, "defer") == 0 ? 2 : strcmp(status, "bounce") == 0 ? 1 : 0;
}

static const char *loop_address(const struct request *rq, const char *rcpt, const struct expansion *x)
{
    if (has_delivered_to(rq, rcpt))
        return rcpt;
    for (size_t i = 0; i < x->nlocal; i++)
        if (has_delivered_to(rq, x->local[i].delivered_to))
            return x->local[i].delivered_to;
    return NULL;
}

static void sent_reason(const struct expansion *x, struct outcome *out, char **forward)
{
    struct buf reason = BUF_INIT, fw = BUF_INIT;
    if (x->nlocal)
        buf_puts(&reason, "delivered to maildir");
    if (x->nremote) {
        buf_printf(&reason, "%sforwarded to %zu address%s", x->nlocal ? "; " : "", x->nremote,
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

void process_recipient(struct request *rq, const char *rcpt, struct outcome *out, char **forward)
{
    struct expansion x;
    *forward = NULL;
    expand_recipient(rq, rcpt, &x);
    const char *loop = x.failed ? NULL : loop_address(rq, rcpt, &x);
    if (x.failed) {
        outcome_set(out, x.fail.status, x.fail.dsn, "%s", x.fail.reason);
    } else if (loop) {
        outcome_set(out, "bounce", "5.4.6", "mail forwarding loop for %s", loop);
    } else {
        struct outcome worst = {.status = "sent"}; /* a copy: rq->boxes moves as it grows */
        for (size_t i = 0; i < x.nlocal; i++) {
            const struct outcome *o = deliver_mailbox(rq, &x.local[i]);
            if (rank(o->status) > rank(worst.status))
                outcome_set(&worst, o->status, o->dsn, "%s", o->reason);
        }
        if (rank(worst.status) > 0)
            outcome_set(out, worst.status, worst.dsn, "%s", worst.reason);
        else
            sent_reason(&x, out, forward);
        outcome_free(&worst);
    }
    expansion_free(&x);
}
