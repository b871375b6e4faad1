/* sign.c - signing one message (see signer.h): the queue file being written is read
 * through the descriptor the client passed, its content fed to the streaming signer
 * (lib/dkim/dkim_sign.h); as soon as the header section is complete the From domain and
 * its keys are known, and a message nothing will sign is not read further. Log lines:
 *   ID: DKIM-Signature field added (s=SELECTOR, d=DOMAIN, a=ALGORITHM)
 *   ID: not signed: REASON
 *   warning: ID: cannot sign: REASON */
#include "signer.h"
#include "dkim_sign.h"
#include "log.h"
#include "mem.h"
#include "queue.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct job {
    struct signer *sg;
    struct dkim_signer *ds;
    const struct domain_keys *keys; /* once the header is done and the domain has keys */
    const char *domain;
    const char *unsigned_why;       /* nothing signs this message */
    char *error;                    /* it cannot be signed */
};

/* The header is complete: who signs? Sets keys, or unsigned_why, or error. */
static void find_keys(struct job *j)
{
    j->domain = dkim_signer_domain(j->ds, &j->unsigned_why);
    if (!j->domain)
        return;
    j->keys = keycache_get(j->sg->keys, j->domain, &j->error);
    if (j->keys && j->keys->n == 0) {
        j->keys = NULL;
        j->unsigned_why = "no DKIM key";
    }
}

static bool decided(const struct job *j) { return j->keys || j->unsigned_why || j->error; }

static int feed(void *ctx, const char *data, size_t len)
{
    struct job *j = ctx;
    dkim_signer_feed(j->ds, data, len);
    if (!decided(j) && dkim_signer_header_done(j->ds))
        find_keys(j);
    return j->unsigned_why || j->error ? -1 : 0; /* no need to read on */
}

static void reply_signatures(struct job *j, const char *id, struct attrs *reply)
{
    struct buf *fields = xcalloc(j->keys->n, sizeof *fields);
    size_t n = 0;
    for (; n < j->keys->n; n++) {
        if (dkim_signer_sign(j->ds, j->keys->keys[n], j->keys->selectors[n], &fields[n],
                             &j->error) < 0)
            break;
    }
    if (j->error) {
        log_warn("%s: cannot sign: %s", id, j->error);
        attrs_add(reply, "status", "error");
        attrs_add(reply, "reason", j->error);
    } else {
        attrs_add(reply, "status", "signed");
        attrs_addf(reply, "nsig", "%zu", n);
        for (size_t i = 0; i < n; i++) {
            attrs_add_indexed(reply, "sig", i, buf_cstr(&fields[i]));
            log_info("%s: DKIM-Signature field added (s=%s, d=%s, a=%s)", id,
                     j->keys->selectors[i], j->domain,
                     dkim_alg_name(dkim_key_alg(j->keys->keys[i])));
        }
    }
    for (size_t i = 0; i < j->keys->n; i++)
        buf_free(&fields[i]);
    free(fields);
}

void sign_message(struct signer *sg, const char *queue_id, int qfd, struct attrs *reply)
{
    struct dkim_sign_opts o = {sg->sign_headers, sg->nsign, sg->oversign, sg->nover,
                               sg->header_limit, (long long)time(NULL)};
    struct job j = {.sg = sg, .ds = dkim_signer_new(&o)};
    struct queue_msg m;
    char *err = NULL;
    if (queue_read_draft(qfd, queue_id, &m, &err) < 0) {
        j.error = err;
    } else {
        if (queue_read_body(qfd, &m, feed, &j, &err) < 0 && err)
            j.error = err;
        queue_msg_free(&m);
    }
    if (!decided(&j)) { /* the whole message was read */
        dkim_signer_end(j.ds);
        find_keys(&j);
    } else if (j.keys) {
        dkim_signer_end(j.ds);
    }
    if (j.keys && !j.error) {
        reply_signatures(&j, queue_id, reply);
    } else if (j.error) {
        log_warn("%s: cannot sign: %s", queue_id, j.error);
        attrs_add(reply, "status", "error");
        attrs_add(reply, "reason", j.error);
    } else {
        log_info("%s: not signed: %s%s%s", queue_id, j.unsigned_why, j.domain ? " for " : "",
                 j.domain ? j.domain : "");
        attrs_add(reply, "status", "unsigned");
        attrs_addf(reply, "reason", "%s%s%s", j.unsigned_why, j.domain ? " for " : "",
                   j.domain ? j.domain : "");
    }
    free(j.error);
    dkim_signer_free(j.ds);
}
