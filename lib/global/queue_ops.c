/* queue_ops.c - moving, finding, listing and removing queue files; the defer log
 * (see queue_ops.h). */
#include "queue_ops.h"
#include "buf.h"
#include "fileio.h"
#include "ipc.h"
#include "mem.h"
#include "queue.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const queue_message_queues[] = {QUEUE_INCOMING, QUEUE_ACTIVE, QUEUE_DEFERRED,
                                            QUEUE_HOLD,     QUEUE_CORRUPT, NULL};

#define DEFER_LOG_MAX IPC_MAX_MESSAGE

int queue_find(const char *spool, const char *id, const char **queue)
{
    if (!queue_id_valid(id)) {
        errno = EINVAL;
        return -1;
    }
    for (const char *const *q = queue_message_queues; *q; q++) {
        char *path = queue_path(spool, *q, id);
        struct stat st;
        int r = lstat(path, &st);
        free(path);
        if (r == 0) {
            *queue = *q;
            return 0;
        }
        if (errno != ENOENT)
            return -1;
    }
    errno = ENOENT;
    return -1;
}

int queue_move(const char *spool, const char *id, const char *from, const char *to)
{
    if (!queue_id_valid(id)) {
        errno = EINVAL;
        return -1;
    }
    char *src = queue_path(spool, from, id), *dst = queue_path(spool, to, id);
    int r = renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE);
    int saved = errno;
    free(src);
    free(dst);
    errno = saved;
    return r;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int queue_list(const char *spool, const char *queue, char ***ids, size_t *n)
{
    char *dir = xasprintf("%s/%s", spool, queue);
    DIR *d = opendir(dir);
    int saved = errno;
    free(dir);
    *ids = NULL;
    *n = 0;
    if (!d) {
        errno = saved;
        return -1;
    }
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (!queue_id_valid(e->d_name))
            continue;
        *ids = xreallocarray(*ids, *n + 1, sizeof **ids);
        (*ids)[(*n)++] = xstrdup(e->d_name);
    }
    saved = errno;
    closedir(d);
    if (saved) {
        queue_list_free(*ids, *n);
        *ids = NULL;
        *n = 0;
        errno = saved;
        return -1;
    }
    if (*n)
        qsort(*ids, *n, sizeof **ids, cmp_str);
    return 0;
}

void queue_list_free(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

int queue_remove(const char *spool, const char *queue, const char *id)
{
    if (!queue_id_valid(id)) {
        errno = EINVAL;
        return -1;
    }
    char *path = queue_path(spool, queue, id);
    int r = unlink(path);
    int saved = errno;
    if (r == 0) {
        defer_log_remove(spool, id);
        if (fsync_parent(path) < 0) {
            saved = errno;
            r = -1;
        }
    }
    free(path);
    errno = saved;
    return r;
}

/* --- defer log --- */

void defer_log_add(struct defer_log *d, const char *addr, const char *reason, const char *dsn)
{
    d->v = xreallocarray(d->v, d->n + 1, sizeof *d->v);
    d->v[d->n].addr = xstrdup(addr);
    d->v[d->n].reason = xstrdup(reason ? reason : "");
    d->v[d->n++].dsn = xstrdup(dsn ? dsn : "");
}

void defer_log_free(struct defer_log *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].addr);
        free(d->v[i].reason);
        free(d->v[i].dsn);
    }
    free(d->v);
    memset(d, 0, sizeof *d);
}

/* Every attribute must be backoff or one of the groups rcpt_N, reason_N, dsn_N (lib/ipc/ipc.h),
 * and every recipient needs all three. */
static int defer_log_check(const struct attrs *a, struct defer_log *d, char **err)
{
    size_t known = 0;
    if (attrs_get(a, "backoff")) {
        if (!attrs_get_ll(a, "backoff", &d->backoff) || d->backoff < 0) {
            *err = xstrdup("bad backoff value");
            return -1;
        }
        known++;
    }
    size_t nrcpt, nreason, ndsn;
    if (attrs_group_count(a, "rcpt", &nrcpt, err) < 0 ||
        attrs_group_count(a, "reason", &nreason, err) < 0 ||
        attrs_group_count(a, "dsn", &ndsn, err) < 0)
        return -1;
    if (nreason != nrcpt || ndsn != nrcpt) {
        size_t first = nrcpt < nreason ? nrcpt : nreason;
        *err = xasprintf("recipient %zu incomplete", first < ndsn ? first : ndsn);
        return -1;
    }
    for (size_t i = 0; i < nrcpt; i++)
        defer_log_add(d, attrs_get_indexed(a, "rcpt", i), attrs_get_indexed(a, "reason", i),
                      attrs_get_indexed(a, "dsn", i));
    known += 3 * nrcpt;
    if (known != a->n) {
        *err = xstrdup("unknown or duplicate attribute");
        return -1;
    }
    return 0;
}

int defer_log_read(const char *spool, const char *id, struct defer_log *d, char **err)
{
    memset(d, 0, sizeof *d);
    char *path = queue_path(spool, QUEUE_DEFER_LOG, id);
    struct buf b = BUF_INIT;
    int rc = -1;
    if (read_file(path, DEFER_LOG_MAX, &b) < 0) {
        if (errno == ENOENT)
            rc = 0;
        else
            *err = xasprintf("read %s: %s", path, strerror(errno));
        goto out;
    }
    struct attrs a = {0};
    size_t used = 0;
    char *derr = NULL;
    int r = ipc_decode(b.data ? b.data : "", b.len, &a, &used, &derr);
    if (r != 1 || used != b.len) {
        *err = xasprintf("%s: %s", path, r < 0 ? derr : r == 0 ? "truncated" : "data after message");
        free(derr);
        attrs_free(&a);
        goto out;
    }
    if (defer_log_check(&a, d, &derr) < 0) {
        *err = xasprintf("%s: %s", path, derr);
        free(derr);
        defer_log_free(d);
    } else {
        rc = 1;
    }
    attrs_free(&a);
out:
    buf_free(&b);
    free(path);
    return rc;
}

int defer_log_write(const char *spool, const char *id, const struct defer_log *d)
{
    struct attrs a = {0};
    attrs_addf(&a, "backoff", "%lld", d->backoff);
    for (size_t i = 0; i < d->n; i++) {
        attrs_add_indexed(&a, "rcpt", i, d->v[i].addr);
        attrs_add_indexed(&a, "reason", i, d->v[i].reason);
        attrs_add_indexed(&a, "dsn", i, d->v[i].dsn);
    }
    struct buf b = BUF_INIT;
    ipc_encode(&b, &a);
    attrs_free(&a);
    char *path = queue_path(spool, QUEUE_DEFER_LOG, id);
    int r = write_file_atomic(path, b.data, b.len, 0600);
    int saved = errno;
    free(path);
    buf_free(&b);
    errno = saved;
    return r;
}

int defer_log_remove(const char *spool, const char *id)
{
    char *path = queue_path(spool, QUEUE_DEFER_LOG, id);
    int r = unlink(path);
    int saved = errno;
    free(path);
    if (r < 0 && saved == ENOENT)
        return 0;
    errno = saved;
    return r;
}
