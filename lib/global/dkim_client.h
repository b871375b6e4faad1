/* dkim_client.h - getting a message signed with DKIM before it is queued (doc/dkim.md).
 *
 * The keys are read only by the dkim-signer service (SPOOL/private/dkim, running as
 * dkim_owner); a process that writes a queue file hands the signer a read-only descriptor
 * of that file before committing it, and gets back the DKIM-Signature fields, which go
 * into the file as REC_PREPEND records (lib/global/queue.h): every reader then delivers
 * them in front of the message. The protocol is in doc/ipc.md ("dkim").
 *
 * Two ways in, both for a struct queue_writer whose content is complete:
 *   dkim_sign_writer()        blocking (sendmail, a pickup service): one call before
 *                             queue_commit();
 *   dkim_sign_writer_start()  asynchronous (event-loop daemons such as submission): the
 *                             callback says whether to commit; the writer must be left
 *                             alone until then. It never runs inside the call.
 * Both wait at most dkim_signer_timeout and apply the failure policy:
 *   - signed: the fields are added to the writer; commit.
 *   - unsigned by rule (no key for the From domain, no usable From; no
 *     dkim_key_directory at all, when the signer is not even asked): commit as is (the
 *     signer logs why it did not sign).
 *   - failed (signer down, missing from master.cf or not answering, a malformed answer,
 *     an unreadable key):
 *     dkim_failure_policy = tempfail: do not commit (a 4xx reply, sendmail exits 75);
 *     = unsigned: commit without a signature. Logged either way.
 * The lower-level dkim_sign_fd()/dkim_sign_fd_start() only ask and report. */
#ifndef POSTHORN_DKIM_CLIENT_H
#define POSTHORN_DKIM_CLIENT_H
#include "config.h"
#include "event.h"
#include "queue.h"
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define DKIM_SOCKET "private/dkim"

struct dkim_client {
    char path[PATH_MAX]; /* SPOOL/private/dkim */
    char keydir[PATH_MAX]; /* dkim_key_directory: when it does not exist, nothing signs */
    int timeout_ms;      /* dkim_signer_timeout */
    bool tempfail;       /* dkim_failure_policy = tempfail */
};

/* Read dkim_signer_timeout and dkim_failure_policy from cfg. */
void dkim_client_init(struct dkim_client *dc, struct config *cfg, const char *spool);

enum dkim_result {
    DKIM_SIGNED,   /* fields holds the DKIM-Signature field(s) to prepend */
    DKIM_UNSIGNED, /* nothing signs this message (reason says why): queue it as it is */
    DKIM_FAILED,   /* it could not be signed (reason): the failure policy decides */
};

struct dkim_answer {
    enum dkim_result result;
    char *fields;  /* DKIM_SIGNED: the fields, LF line ends, each ending in LF */
    size_t nsig;   /* how many */
    char *reason;  /* otherwise: why, for the log */
};
void dkim_answer_free(struct dkim_answer *a);

/* --- the whole step for a queue writer --- */

/* Blocking. 0: commit the writer now (signed, or unsigned as allowed); -1: do not, with
 * *err (malloc'ed) saying why (dkim_failure_policy = tempfail, or a write failure). */
int dkim_sign_writer(const struct dkim_client *dc, struct queue_writer *w, char **err);

struct dkim_sign_req;
/* rc and err as for dkim_sign_writer; err is valid only during the call. */
typedef void (*dkim_writer_fn)(void *ctx, int rc, const char *err);
/* Asynchronous. Returns a handle for dkim_sign_cancel(); fn runs exactly once unless
 * cancelled, from the event loop, never inside this call. */
struct dkim_sign_req *dkim_sign_writer_start(const struct dkim_client *dc, struct event_loop *loop,
                                             struct queue_writer *w, dkim_writer_fn fn, void *ctx);

/* --- asking only --- */

/* Blocking: ask for the signatures of the queue file open (read-only) at qfd. */
void dkim_sign_fd(const struct dkim_client *dc, int qfd, const char *queue_id,
                  struct dkim_answer *a);
typedef void (*dkim_answer_fn)(void *ctx, struct dkim_answer *a);
/* Asynchronous: the descriptor is sent during the call (the caller may close qfd once it
 * returns); fn gets the answer (which it may keep: it frees it with dkim_answer_free)
 * from the event loop, never inside this call. */
struct dkim_sign_req *dkim_sign_fd_start(const struct dkim_client *dc, struct event_loop *loop,
                                         int qfd, const char *queue_id, dkim_answer_fn fn,
                                         void *ctx);
/* The caller no longer wants the answer (its session went away): fn is not called, and
 * the request's resources are released. */
void dkim_sign_cancel(struct dkim_sign_req *r);

#endif
