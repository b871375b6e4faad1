/* queue_listing.c - the streaming queue scan behind mailq and showq (see queue_listing.h). */
#include "queue_listing.h"
#include "mem.h"
#include "queue.h"
#include "queue_ops.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const qlist_mailq_queues[] = {QUEUE_ACTIVE, QUEUE_INCOMING, QUEUE_DEFERRED,
                                          QUEUE_HOLD, NULL};

struct qlist {
    char *spool;
    const char *const *queues; /* the next queue to open */
    const char *queue;         /* the queue being read */
    DIR *dir;
    struct qlist_msg msg;      /* the message handed out last */
};

static char *field(const char *s)
{
    return xstrndup(s ? s : "", QLIST_FIELD_MAX);
}

void qlist_msg_clear(struct qlist_msg *m)
{
    free(m->queue);
    free(m->id);
    free(m->sender);
    free(m->warning);
    for (size_t i = 0; i < m->nrcpts; i++) {
        free(m->rcpts[i].address);
        free(m->rcpts[i].reason);
    }
    free(m->rcpts);
    memset(m, 0, sizeof *m);
}

void qlist_msg_add_rcpt(struct qlist_msg *m, const char *address, const char *reason)
{
    m->rcpts = xreallocarray(m->rcpts, m->nrcpts + 1, sizeof *m->rcpts);
    m->rcpts[m->nrcpts].address = field(address);
    m->rcpts[m->nrcpts++].reason = field(reason);
}

struct qlist *qlist_open(const char *spool, const char *const *queues)
{
    struct qlist *q = xcalloc(1, sizeof *q);
    q->spool = xstrdup(spool);
    q->queues = queues;
    return q;
}

void qlist_close(struct qlist *q)
{
    if (!q)
        return;
    if (q->dir)
        closedir(q->dir);
    qlist_msg_clear(&q->msg);
    free(q->spool);
    free(q);
}

static int cmp_addr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool in_sorted(const char **v, size_t n, const char *addr)
{
    return n && bsearch(&addr, v, n, sizeof *v, cmp_addr) != NULL;
}

/* The pending recipients of qm into m: those with a reason in d first (defer log order),
 * then the others (queue file order). Sorted pointer arrays keep it O(n log n). */
static void pending_recipients(const struct queue_msg *qm, const struct defer_log *d,
                               struct qlist_msg *m)
{
    const char **pending = xcalloc(qm->nrcpts + 1, sizeof *pending);
    size_t np = 0;
    for (size_t i = 0; i < qm->nrcpts; i++)
        if (!qm->rcpts[i].done)
            pending[np++] = qm->rcpts[i].addr;
    qsort(pending, np, sizeof *pending, cmp_addr);
    const char **reasoned = xcalloc(d->n + 1, sizeof *reasoned);
    size_t nr = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (!in_sorted(pending, np, d->v[i].addr))
            continue; /* delivered or bounced since it was deferred */
        qlist_msg_add_rcpt(m, d->v[i].addr, d->v[i].reason);
        reasoned[nr++] = d->v[i].addr;
    }
    qsort(reasoned, nr, sizeof *reasoned, cmp_addr);
    for (size_t i = 0; i < qm->nrcpts; i++)
        if (!qm->rcpts[i].done && !in_sorted(reasoned, nr, qm->rcpts[i].addr))
            qlist_msg_add_rcpt(m, qm->rcpts[i].addr, "");
    free(reasoned);
    free(pending);
}

/* Read SPOOL/queue/id into q->msg: QLIST_MSG, QLIST_SKIPPED with *err, or QLIST_END when the
 * file is gone (the caller goes on with the next one). */
static enum qlist_result read_message(struct qlist *q, const char *id, char **err)
{
    char *path = queue_path(q->spool, q->queue, id);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        int e = fd < 0 ? errno : 0;
        if (fd >= 0)
            close(fd);
        if (e != ENOENT)
            *err = xasprintf("%s: %s", path, e ? strerror(e) : "not a regular file");
        free(path);
        return e == ENOENT ? QLIST_END : QLIST_SKIPPED;
    }
    struct queue_msg qm;
    char *rerr = NULL;
    int r = queue_read(fd, id, &qm, &rerr);
    close(fd);
    if (r < 0) {
        *err = xasprintf("%s: %s", path, rerr ? rerr : "unreadable");
        free(rerr);
        free(path);
        return QLIST_SKIPPED;
    }
    free(path);
    struct qlist_msg *m = &q->msg;
    m->queue = xstrdup(q->queue);
    m->id = xstrdup(id);
    m->arrival_time = qm.arrival_sec > 0 ? qm.arrival_sec : (long long)st.st_mtime;
    m->size = (long long)qm.body_size;
    m->sender = field(qm.sender);
    struct defer_log d;
    if (defer_log_read(q->spool, id, &d, &rerr) < 0) {
        m->warning = rerr; /* listed without reasons */
        memset(&d, 0, sizeof d);
    }
    pending_recipients(&qm, &d, m);
    defer_log_free(&d);
    queue_msg_free(&qm);
    return QLIST_MSG;
}

enum qlist_result qlist_next(struct qlist *q, const struct qlist_msg **m, char **err)
{
    qlist_msg_clear(&q->msg);
    for (;;) {
        if (!q->dir) {
            if (!*q->queues)
                return QLIST_END;
            q->queue = *q->queues++;
            char *dir = xasprintf("%s/%s", q->spool, q->queue);
            q->dir = opendir(dir);
            if (!q->dir) {
                *err = xasprintf("%s: %s", dir, strerror(errno));
                free(dir);
                return QLIST_FAILED;
            }
            free(dir);
        }
        errno = 0;
        struct dirent *e = readdir(q->dir);
        if (!e) {
            int saved = errno;
            closedir(q->dir);
            q->dir = NULL;
            if (saved) {
                *err = xasprintf("%s/%s: %s", q->spool, q->queue, strerror(saved));
                return QLIST_FAILED;
            }
            continue;
        }
        if (!queue_id_valid(e->d_name))
            continue;
        enum qlist_result r = read_message(q, e->d_name, err);
        if (r == QLIST_END)
            continue; /* moved on meanwhile */
        *m = &q->msg;
        return r;
    }
}
