/* trash.c - the files of a deleted folder removed on a worker thread (doc/imapd.md, "Folder
 * reads off the loop"): DELETE answers once the index has forgotten the folder and its
 * directory is renamed out of the way (mailbox_delete_later), and the unlinks, which take
 * seconds for a folder of 100,000 messages, do not hold up this process's other sessions.
 * Without the thread (it could not start), the folder is removed on the loop. */
#include "imap_mailbox.h"
#include "log.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

struct trash_job {
    struct worker_job wj;
    char *path;
    int rc;
};

static void trash_run(struct worker_job *first, void *ctx)
{
    (void)ctx;
    test_hook_delay("POSTHORN_TEST_TRASH_DELAY_MS");
    for (struct worker_job *j = first; j; j = j->next) {
        struct trash_job *job = WORKER_JOB_OWNER(j, struct trash_job, wj);
        job->rc = mailbox_remove_trash(job->path);
    }
}

static void trash_done(struct worker_job *wj, void *ctx)
{
    (void)ctx;
    struct trash_job *job = WORKER_JOB_OWNER(wj, struct trash_job, wj);
    if (job->rc != 0) /* left for the clean-up of tmp/ at a later sync */
        log_warn("removing %s: %s", job->path, strerror(job->rc));
    free(job->path);
    free(job);
}

void trash_setup(struct imapd *d)
{
    char *err = NULL;
    struct worker_config wc = {.name = "trash", .max_threads = 1, .max_batch = 0,
                               .run = trash_run, .done = trash_done, .ctx = d};
    d->trasher = worker_new(d->srv->loop, &wc, &err);
    if (!d->trasher) {
        log_warn("cannot start the trash thread: %s; deleted folders are removed on the event loop", err);
        free(err);
    }
}

void trash_remove(struct imapd *d, char *path)
{
    char *err = NULL;
    if (d->trasher) {
        struct trash_job *job = xcalloc(1, sizeof *job);
        job->path = path;
        if (worker_submit(d->trasher, &job->wj, &err) < 0) {
            log_warn("trash thread: %s", err); /* the job still runs on the thread there is */
            free(err);
        }
        return;
    }
    int rc = mailbox_remove_trash(path);
    if (rc != 0)
        log_warn("removing %s: %s", path, strerror(rc));
    free(path);
}
