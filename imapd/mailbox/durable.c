/* durable.c - replies that wait for the syncs of their change (doc/imapd.md, "Writes and
 * durability"). A STORE, EXPUNGE (also UID EXPUNGE and CLOSE), COPY, MOVE or APPEND commits its
 * change on the event loop, then the syncs that make it durable (the directories of the
 * renamed files, the index) run on a worker thread,
 * together with those of every other session that is waiting (one batch: each directory
 * and each index synced once for all, lib/store/mailstore_syncs.c). Meanwhile the
 * session's replies and input are held (lib/io/session.h), so no client sees an OK before
 * its change is on stable storage, and the loop goes on serving the other sessions. When
 * the syncs fail, the held replies are dropped and the session is closed with BYE: the
 * client must not take the change for done. Without the worker (it could not start), the
 * syncs are made on the loop as everywhere else. */
#include "imap_mailbox.h"
#include "log.h"
#include "mem.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sync_job {
    struct worker_job wj;
    struct imap_session *s; /* NULL once the session is gone */
    struct mailstore_syncs *syncs;
    int rc;
};

static void sync_run(struct worker_job *first, void *ctx)
{
    (void)ctx;
    test_hook_delay("POSTHORN_TEST_SYNC_DELAY_MS");
    size_t n = 0;
    for (struct worker_job *j = first; j; j = j->next)
        n++;
    struct mailstore_syncs **sets = xreallocarray(NULL, n, sizeof *sets);
    int *rcs = xreallocarray(NULL, n, sizeof *rcs);
    n = 0;
    for (struct worker_job *j = first; j; j = j->next)
        sets[n++] = WORKER_JOB_OWNER(j, struct sync_job, wj)->syncs;
    mailstore_syncs_run_batch(sets, n, rcs);
    n = 0;
    for (struct worker_job *j = first; j; j = j->next)
        WORKER_JOB_OWNER(j, struct sync_job, wj)->rc = rcs[n++];
    free(sets);
    free(rcs);
}

static void sync_done(struct worker_job *wj, void *ctx)
{
    (void)ctx;
    struct sync_job *job = WORKER_JOB_OWNER(wj, struct sync_job, wj);
    struct imap_session *s = wj->cancelled ? NULL : job->s;
    int rc = wj->ran ? job->rc : ECANCELED;
    mailstore_syncs_free(job->syncs);
    free(job);
    if (!s)
        return;
    s->sync_job = NULL;
    if (rc != 0) {
        log_error("%s: cannot make a change durable: %s; closing the session, session=<%s>", s->user,
                  strerror(rc), s->id);
        buf_free(&s->sess->held); /* the replies to a change that may be lost */
        s->end_reason = "Sync failed";
        imap_reply(s, "* BYE [UNAVAILABLE] A change could not be saved; please reconnect.");
        sess_close(s->sess);
    }
    sess_hold_end(s->sess);
}

void durable_setup(struct imapd *d)
{
    char *err = NULL;
    struct worker_config wc = {.name = "sync", .max_threads = 1, .max_batch = 0,
                               .run = sync_run, .done = sync_done, .ctx = d};
    d->syncer = worker_new(d->srv->loop, &wc, &err);
    if (!d->syncer) {
        log_warn("cannot start the sync thread: %s; changes are synced on the event loop", err);
        free(err);
    }
}

bool durable_begin(struct imap_session *s, const struct imap_command *cmd)
{
    /* the commands whose writes defer their syncs (mailbox_store_many, mailbox_expunge_many,
     * mailbox_copy, mailbox_move with a mailbox selected; mailbox_append* in any state) and
     * whose replies are plain
     * lines (no FETCH streamed past the held replies) */
    static const char *const selected[] = {"STORE", "UID STORE", "EXPUNGE", "UID EXPUNGE", "CLOSE",
                                           "COPY", "UID COPY", "MOVE", "UID MOVE"};
    bool listed = strcmp(cmd->name, "APPEND") == 0;
    for (size_t i = 0; s->view && i < sizeof selected / sizeof selected[0]; i++)
        listed |= strcmp(cmd->name, selected[i]) == 0;
    if (!listed || !s->d->syncer || !s->mu)
        return false;
    mail_user_defer_syncs(s->mu, true);
    sess_hold_open(s->sess);
    return true;
}

void durable_end(struct imap_session *s)
{
    mail_user_defer_syncs(s->mu, false);
    struct mailstore_syncs *syncs = mail_user_take_syncs(s->mu);
    if (!syncs) { /* nothing changed, or refused: answer now */
        sess_release_held(s->sess);
        return;
    }
    struct sync_job *job = xcalloc(1, sizeof *job);
    job->s = s;
    job->syncs = syncs;
    s->sync_job = job;
    char *err = NULL;
    if (worker_submit(s->d->syncer, &job->wj, &err) < 0) {
        log_warn("sync thread: %s", err); /* the job still runs on the thread there is */
        free(err);
    }
}

void durable_forget(struct imap_session *s)
{
    if (!s->sync_job)
        return;
    s->sync_job->s = NULL;
    worker_cancel(&s->sync_job->wj);
    s->sync_job = NULL;
}
