/* scan.c - finding work in the queue directories. At start: everything left in active/
 * (a crash or kill -9) goes back to incoming/ and temporary files older than a day are
 * removed. Then incoming/ is scanned on every wakeup and every queue_run_delay, and
 * deferred/ every queue_run_delay or when the earliest known retry time comes (a deferred
 * file's mtime is its next retry time). Activation stops at the active limit; the rest
 * waits for room (backlog). Event loop only. */
#include "qmgr.h"
#include "log.h"
#include "mem.h"
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STALE_TMP_AGE (24 * 3600)

/* Remove regular files older than a day from dir (crashed writers' leftovers). */
static void remove_stale(struct qmgr *q, const char *sub, bool only_tmp_names)
{
    char *dir = xasprintf("%s/%s", q->spool, sub);
    DIR *d = opendir(dir);
    if (!d) {
        log_warn("open %s: %m", dir);
        free(dir);
        return;
    }
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || (only_tmp_names && !strstr(e->d_name, ".tmp.")))
            continue;
        struct stat st;
        char *path = xasprintf("%s/%s", dir, e->d_name);
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > STALE_TMP_AGE) {
            if (unlink(path) == 0)
                log_info("removed stale temporary file %s", path);
            else if (errno != ENOENT)
                log_warn("unlink %s: %m", path);
        }
        free(path);
    }
    closedir(d);
    free(dir);
}

void scan_recover(struct qmgr *q)
{
    char **ids;
    size_t n, moved = 0;
    if (queue_list(q->spool, QUEUE_ACTIVE, &ids, &n) < 0)
        log_fatal("list %s/%s: %m", q->spool, QUEUE_ACTIVE);
    for (size_t i = 0; i < n; i++) {
        if (queue_move(q->spool, ids[i], QUEUE_ACTIVE, QUEUE_INCOMING) == 0)
            moved++;
        else if (errno != ENOENT)
            log_error("%s: move back to %s/: %m", ids[i], QUEUE_INCOMING);
    }
    queue_list_free(ids, n);
    if (moved)
        log_info("moved %zu messages from %s/ back to %s/", moved, QUEUE_ACTIVE, QUEUE_INCOMING);
    remove_stale(q, QUEUE_TMP, false);
    remove_stale(q, QUEUE_DEFER_LOG, true);
}

static bool room(struct qmgr *q)
{
    if (q->nactive < q->active_limit)
        return true;
    q->backlog = true;
    return false;
}

void scan_incoming(struct qmgr *q)
{
    if (q->draining)
        return;
    char **ids;
    size_t n;
    if (queue_list(q->spool, QUEUE_INCOMING, &ids, &n) < 0) {
        log_error("list %s/%s: %m", q->spool, QUEUE_INCOMING);
        return;
    }
    for (size_t i = 0; i < n && room(q); i++)
        message_activate(q, QUEUE_INCOMING, ids[i]);
    queue_list_free(ids, n);
}

static void incoming_timer(struct event_loop *loop, void *ctx)
{
    struct qmgr *q = ctx;
    q->incoming_scan_pending = false;
    scan_incoming(q);
}

void scan_incoming_soon(struct qmgr *q)
{
    if (q->incoming_scan_pending || q->draining)
        return;
    q->incoming_scan_pending = true;
    q->scan_timer = event_timer(q->srv->loop, 0, incoming_timer, q);
}

/* Activate due deferred mail (all of it with all); remember the earliest future retry. */
void scan_deferred(struct qmgr *q, bool all)
{
    if (q->draining)
        return;
    char **ids;
    size_t n;
    q->next_deferred_ms = LLONG_MAX;
    if (queue_list(q->spool, QUEUE_DEFERRED, &ids, &n) < 0) {
        log_error("list %s/%s: %m", q->spool, QUEUE_DEFERRED);
        return;
    }
    time_t now = time(NULL);
    long long now_ms = event_now_ms();
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        char *path = queue_path(q->spool, QUEUE_DEFERRED, ids[i]);
        int r = stat(path, &st);
        free(path);
        if (r < 0)
            continue; /* gone meanwhile */
        if (all || st.st_mtime <= now) {
            if (room(q))
                message_activate(q, QUEUE_DEFERRED, ids[i]);
        } else {
            long long due = now_ms + (long long)(st.st_mtime - now) * 1000;
            if (due < q->next_deferred_ms)
                q->next_deferred_ms = due;
        }
    }
    queue_list_free(ids, n);
}

int scan_flush(struct qmgr *q)
{
    char **ids;
    size_t n;
    int moved = 0;
    if (queue_list(q->spool, QUEUE_DEFERRED, &ids, &n) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (queue_move(q->spool, ids[i], QUEUE_DEFERRED, QUEUE_INCOMING) == 0)
            moved++;
    queue_list_free(ids, n);
    log_info("flush: %d deferred messages moved to %s/", moved, QUEUE_INCOMING);
    scan_incoming_soon(q);
    return moved;
}
