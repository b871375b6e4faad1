/* main.c - qmgr, the queue manager: one process, run as mail_owner, listening on
 * SPOOL/private/qmgr (fd 3 from master).
 *
 * It moves mail incoming/ -> active/, reads and checks each queue file, resolves each
 * pending recipient to a transport (domains we host: local; others: smtp once it exists),
 * sends delivery requests to the agents (at most the transport's concurrency limit in
 * parallel, its recipient limit per request), records results durably in the queue file,
 * bounces with RFC 3464 DSNs, defers with exponential back-off (deferred/, mtime = next
 * retry, SPOOL/defer/ID = reasons and back-off) and removes finished mail. Requests are
 * sent at least once: a crash after an agent delivered but before the result was marked in
 * the queue file sends those recipients again. The local transport is exactly-once
 * (local-mda recognises the repeated request and writes no second copy), so its done-marks
 * are not synced; other transports' marks are (deliver.c, finish.c). Formats:
 * doc/queue-format.md, doc/ipc.md.
 *
 * SECURITY: qmgr trusts the spool (owned by mail_owner) and the delivery agents on their
 * private sockets; it parses queue files and agent replies strictly and fails closed
 * (corrupt/ or deferral). It never opens mailboxes and never runs commands. */
#include "qmgr.h"
#include "log.h"
#include "mem.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#define FDS_RESERVED 128 /* descriptors kept for sockets, DSN files, the log, LMDB */

/* Two qmgr processes on one spool would deliver everything twice: hold a lock on active/
 * for the life of the process (master already waits for the old generation to exit). */
static void lock_spool(struct qmgr *q)
{
    char *dir = xasprintf("%s/%s", q->spool, QUEUE_ACTIVE);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        log_fatal("open %s: %m", dir);
    for (int waited = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; waited++) {
        if (errno != EWOULDBLOCK)
            log_fatal("lock %s: %m", dir);
        if (waited == 0)
            log_warn("another qmgr holds %s; waiting for it to exit", dir);
        usleep(200 * 1000);
    }
    free(dir); /* fd stays open: the lock lives as long as the process */
}

/* Each active message holds two descriptors: bound the active queue by what we may open. */
static size_t active_limit(struct qmgr *q)
{
    struct rlimit rl;
    size_t want = (size_t)config_int(q->cfg, PARAM(qmgr_message_active_limit));
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return want;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    size_t fit = rl.rlim_cur > FDS_RESERVED * 2 ? (size_t)(rl.rlim_cur - FDS_RESERVED) / 2 : 64;
    if (fit < want)
        log_info("open file limit %llu allows %zu active messages, not %zu",
                 (unsigned long long)rl.rlim_cur, fit, want);
    return fit < want ? fit : want;
}

static void read_config(struct qmgr *q)
{
    struct config *c = q->cfg;
    q->min_backoff = config_int(c, PARAM(minimal_backoff_time));
    q->max_backoff = config_int(c, PARAM(maximal_backoff_time));
    if (q->max_backoff < q->min_backoff)
        q->max_backoff = q->min_backoff;
    q->max_lifetime = config_int(c, PARAM(maximal_queue_lifetime));
    q->bounce_lifetime = config_int(c, PARAM(bounce_queue_lifetime));
    q->run_delay = config_int(c, PARAM(queue_run_delay));
    q->ipc_timeout = config_int(c, PARAM(qmgr_ipc_timeout));
    q->hostname = config_str(c, PARAM(myhostname));
    q->origin = config_str(c, PARAM(myorigin));
    q->notice_sender = config_str(c, PARAM(bounce_notice_sender));
    q->bounce_size_limit = config_int(c, PARAM(bounce_size_limit));
    q->bounce_notice_limit = config_int(c, PARAM(bounce_notice_size_limit));
    q->soft_bounce = config_bool(c, PARAM(soft_bounce));
}

static void post_init(struct server *srv)
{
    struct qmgr *q = xcalloc(1, sizeof *q);
    srv->app = q;
    q->srv = srv;
    q->cfg = srv->cfg;
    q->spool = srv->spool;
    read_config(q);
    lock_spool(q);
    q->active_limit = active_limit(q);
    transports_init(q);
    pool_init(&q->finish_pool, q, "finish", 1);
    char *err = NULL;
    q->resolver = resolver_open(q->cfg, &err);
    if (!q->resolver) {
        log_warn("cannot open the address resolver: %s (will retry)", err ? err : "?");
        free(err);
    }
    scan_recover(q);
    q->next_full_scan_ms = 0; /* the first tick scans incoming/ and deferred/ */
    q->next_deferred_ms = LLONG_MAX;
    scan_incoming_soon(q);
}

static void on_accept(struct server *srv, int fd) { listen_accept(srv->app, fd); }

static unsigned busy(struct server *srv)
{
    struct qmgr *q = srv->app;
    return q ? q->tasks_out : 0;
}

static void tick(struct server *srv)
{
    struct qmgr *q = srv->app;
    long long now = event_now_ms();
    listen_tick(q);
    if (q->draining)
        return;
    if (now >= q->next_full_scan_ms) {
        q->next_full_scan_ms = now + q->run_delay * 1000;
        scan_incoming(q);
        scan_deferred(q, false);
    } else if (now >= q->next_deferred_ms) {
        scan_deferred(q, false);
    }
}

/* Reload or master gone: requests not yet started stay in active/ for the next qmgr (which
 * starts only after this one exits); running ones finish and are recorded. */
static void drain(struct server *srv)
{
    struct qmgr *q = srv->app;
    q->draining = true;
    for (size_t i = 0; i < q->ntransports; i++)
        pool_cancel_queued(&q->transports[i].pool);
}

SERVER_MAIN(.program = "qmgr", .run_as = PARAM(mail_owner), .post_init = post_init,
            .accept = on_accept, .busy = busy, .tick = tick, .drain = drain)
