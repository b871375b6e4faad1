/* folder_scan.c - the directory reads of a folder sync (mailbox_scan_read) on a worker
 * thread, so that a folder of 100,000 messages does not stop this process's other sessions
 * for the fraction of a second its new/ and cur/ take to read (doc/imapd.md, "Processes"):
 * SELECT and EXAMINE of a folder no session here keeps watched (cmd_select.c), and the look
 * at a watched folder after a directory event (watch.c). Either, when it finds many files
 * without an index entry (copied in by hand), has them measured here too
 * (mailbox_scan_measure), so that its sync does not read each of them on the loop. The
 * index part that follows (mailbox_sync_scanned) stays on the loop: the store's handles
 * belong to the loop thread. Up to two threads, one job each at a time, each back to the
 * loop on its own. Without a thread (none could start), folder_scan_start returns NULL and
 * the caller reads on the loop. */
#include "imap_mailbox.h"
#include "log.h"
#include "mem.h"
#include <stdlib.h>

/* Files not indexed yet, from which their reads go to the thread as well. */
#define MEASURE_MIN 64

struct folder_scan {
    struct worker_job wj;
    struct mailbox_scan *sc;
    bool measure; /* mailbox_scan_measure, not mailbox_scan_read */
    folder_scan_fn done; /* NULL once cancelled */
    void *ctx;
};

static void scan_run(struct worker_job *first, void *ctx)
{
    (void)ctx;
    test_hook_delay("POSTHORN_TEST_SCAN_DELAY_MS");
    for (struct worker_job *j = first; j; j = j->next) {
        struct folder_scan *fs = WORKER_JOB_OWNER(j, struct folder_scan, wj);
        if (fs->measure)
            mailbox_scan_measure(fs->sc);
        else
            mailbox_scan_read(fs->sc);
    }
}

static void scan_done(struct worker_job *wj, void *ctx)
{
    (void)ctx;
    struct folder_scan *fs = WORKER_JOB_OWNER(wj, struct folder_scan, wj);
    if (fs->done)
        fs->done(fs->ctx, fs->sc);
    else
        mailbox_scan_free(fs->sc);
    free(fs);
}

void folder_scan_setup(struct imapd *d)
{
    char *err = NULL;
    /* two threads: one long measuring (thousands of files copied in by hand) does not
     * hold up the reads of the other SELECTs */
    struct worker_config wc = {.name = "folder scan", .max_threads = 2, .max_batch = 1,
                               .run = scan_run, .done = scan_done, .ctx = d};
    d->scanner = worker_new(d->srv->loop, &wc, &err);
    if (!d->scanner) {
        log_warn("cannot start the folder scan thread: %s; folders are read on the event loop", err);
        free(err);
    }
}

struct folder_scan *folder_scan_start(struct imapd *d, struct mailbox_scan *sc, bool measure,
                                      folder_scan_fn done, void *ctx)
{
    if (!d->scanner)
        return NULL;
    struct folder_scan *fs = xcalloc(1, sizeof *fs);
    *fs = (struct folder_scan){.sc = sc, .measure = measure, .done = done, .ctx = ctx};
    char *err = NULL;
    if (worker_submit(d->scanner, &fs->wj, &err) < 0) {
        log_warn("folder scan thread: %s", err); /* the job still runs on the thread there is */
        free(err);
    }
    return fs;
}

void folder_scan_cancel(struct folder_scan *fs)
{
    if (!fs)
        return;
    fs->done = NULL;
    mailbox_scan_cancel(fs->sc); /* a long measuring stops early */
    worker_cancel(&fs->wj);
}

bool folder_scan_many_unindexed(struct mail_user *mu, const char *mailbox, struct mailbox_scan *sc)
{
    struct mailbox_info info;
    char *err = NULL;
    int r = mailbox_info(mu, mailbox, &info, &err); /* 0: an INBOX not indexed yet */
    /* the count of files first: looking each one up in the index costs a read of it */
    bool many = r >= 0 && mailbox_scan_files(sc) >= (r > 0 ? info.messages : 0) + MEASURE_MIN &&
                mailbox_scan_unindexed(mu, sc, &err) >= MEASURE_MIN;
    free(err);
    return many;
}
