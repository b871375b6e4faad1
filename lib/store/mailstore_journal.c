/* mailstore_journal.c - file operations done inside a write transaction (COPY links, MOVE
 * renames, a RENAME's folder directories, a DELETE's folder directory), undone when the
 * transaction fails and journaled so that a crash cannot leave file system and index
 * disagreeing (doc/mailstore.md, "Crash windows").
 *
 * Before the first operation the writer writes INDEX-journal: the LMDB transaction ID it
 * is about to commit and the operations (paths relative to the user's root), with a
 * checksum, and fdatasyncs it. LMDB transaction IDs advance only on commit, so the next
 * write transaction (any process: ms_write_nosync calls ms_journal_recover) knows what
 * happened to a journal it finds:
 *  - same ID as its own: that transaction never committed (killed, or its system crashed):
 *    the operations are undone (a rename is turned back, a link removed);
 *  - a lower ID: it committed, but its operations may not all have reached the disk
 *    before a system crash: what is missing is done again, then DELETE's trees removed.
 * Then the journal is emptied. Its writer empties it itself once its commit and the syncs
 * are done, so normally a writer finds an empty file (one fstat). That happens after the
 * writer lock is released, when the next writer may already have written its own journal:
 * writing, recovering and emptying hold an flock on the file, and the writer empties it only
 * while it still holds its own transaction's journal. */
#include "fileio.h"
#include "mailstore_int.h"
#include "mem.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_VERSION 1
#define JOURNAL_MAX (256 * 1024 * 1024)

/* --- operations --- */

void ms_fileops_add(struct ms_fileops *ops, char type, char *from, char *to)
{
    ops->v = xreallocarray(ops->v, ops->n + 1, sizeof *ops->v);
    ops->v[ops->n++] = (struct ms_fileop){type, from, to, false};
}

void ms_fileops_free(struct ms_fileops *ops)
{
    for (size_t i = 0; i < ops->n; i++) {
        free(ops->v[i].from);
        free(ops->v[i].to);
    }
    free(ops->v);
    ops->v = NULL;
    ops->n = 0;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* A copy where a hard link is impossible (another file system below the root, a file
 * system without links): written, synced, with the original's times. */
static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return errno;
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = out < 0 ? errno : 0;
    char b[65536];
    ssize_t r;
    while (rc == 0 && (r = read(in, b, sizeof b)) != 0)
        if (r < 0 ? errno != EINTR : write_full(out, b, (size_t)r) < 0)
            rc = errno ? errno : EIO;
    struct stat st;
    if (rc == 0 && fstat(in, &st) == 0)
        (void)futimens(out, (struct timespec[2]){st.st_atim, st.st_mtim});
    if (rc == 0 && fsync(out) < 0)
        rc = errno;
    if (out >= 0 && close(out) < 0 && rc == 0)
        rc = errno;
    close(in);
    if (rc != 0 && out >= 0)
        unlink(to);
    return rc;
}

static int do_op(const struct ms_fileop *op)
{
    if (op->type == MS_OP_LINK) {
        if (link(op->from, op->to) == 0)
            return 0;
        if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != ENOTSUP)
            return errno;
        return copy_file(op->from, op->to);
    }
    return renameat2(AT_FDCWD, op->from, AT_FDCWD, op->to, RENAME_NOREPLACE) == 0 ? 0 : errno;
}

int ms_fileops_run(struct ms_fileops *ops)
{
    for (size_t i = 0; i < ops->n; i++) {
        if (ops->v[i].done)
            continue;
        int rc = do_op(&ops->v[i]);
        if (rc != 0)
            return rc;
        ops->v[i].done = true;
    }
    return 0;
}

static void undo_op(const struct ms_fileop *op)
{
    if (op->type == MS_OP_LINK)
        (void)unlink(op->to);
    else if (exists(op->to) && !exists(op->from))
        (void)rename(op->to, op->from);
}

void ms_fileops_undo(struct ms_fileops *ops)
{
    for (size_t i = ops->n; i-- > 0;)
        if (ops->v[i].done) {
            undo_op(&ops->v[i]);
            ops->v[i].done = false;
        }
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

int ms_remove_tree(const char *dir)
{
    if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 || errno == ENOENT)
        return 0;
    return errno ? errno : EIO;
}

/* fsync the directory holding path, unless it is in dirs already. */
static int sync_parent_once(const char *path, char ***dirs, size_t *n)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return 0;
    size_t len = (size_t)(slash - path);
    for (size_t i = 0; i < *n; i++)
        if (strlen((*dirs)[i]) == len && memcmp((*dirs)[i], path, len) == 0)
            return 0;
    *dirs = xreallocarray(*dirs, *n + 1, sizeof **dirs);
    (*dirs)[(*n)++] = xstrndup(path, len);
    return fsync_dir_moved((*dirs)[*n - 1]) < 0 ? errno : 0; /* (a folder renamed meanwhile) */
}

int ms_fileops_finish(struct ms_fileops *ops)
{
    char **dirs = NULL;
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < ops->n; i++) {
        const struct ms_fileop *op = &ops->v[i];
        if (op->type == MS_OP_DELETE && op->done && rc == 0)
            rc = ms_remove_tree(op->to);
        if (rc == 0)
            rc = sync_parent_once(op->to, &dirs, &n);
        if (rc == 0 && op->type != MS_OP_LINK)
            rc = sync_parent_once(op->from, &dirs, &n);
    }
    for (size_t i = 0; i < n; i++)
        free(dirs[i]);
    free(dirs);
    return rc;
}

/* --- the journal: u8 version, u64 txnid, u32 count, per operation u8 type, u16 length and
 * path of from, u16 length and path of to (relative to the root), u32 FNV-1a of all before */

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    while (n--)
        h = (h ^ *p++) * 16777619u;
    return h;
}

static int journal_fd(struct mail_user *mu)
{
    if (mu->e->journal_fd < 0) {
        char *path = xasprintf("%s-journal", mu->index);
        mu->e->journal_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        free(path);
    }
    return mu->e->journal_fd;
}

static const char *relative(const struct mail_user *mu, const char *path)
{
    size_t n = strlen(mu->path);
    return strncmp(path, mu->path, n) == 0 && path[n] == '/' ? path + n + 1 : NULL;
}

static int journal_lock(int fd, bool on)
{
    int r;
    while ((r = flock(fd, on ? LOCK_EX : LOCK_UN)) < 0 && errno == EINTR)
        ;
    return r;
}

static int journal_encode(struct mail_user *mu, size_t txnid, const struct ms_fileops *ops, struct buf *b)
{
    buf_putc(b, JOURNAL_VERSION);
    ms_put_le(b, txnid, 8);
    ms_put_le(b, ops->n, 4);
    for (size_t i = 0; i < ops->n; i++) {
        const char *from = relative(mu, ops->v[i].from), *to = relative(mu, ops->v[i].to);
        if (!from || !to || strlen(from) > 0xffff || strlen(to) > 0xffff)
            return EINVAL;
        buf_putc(b, ops->v[i].type);
        ms_put_le(b, strlen(from), 2);
        buf_puts(b, from);
        ms_put_le(b, strlen(to), 2);
        buf_puts(b, to);
    }
    ms_put_le(b, fnv1a((const unsigned char *)b->data, b->len), 4);
    return 0;
}

int ms_journal_write(struct mail_user *mu, MDB_txn *txn, const struct ms_fileops *ops)
{
    struct buf b = BUF_INIT;
    int rc = journal_encode(mu, mdb_txn_id(txn), ops, &b);
    int fd = rc ? -1 : journal_fd(mu);
    if (rc == 0 && (fd < 0 || journal_lock(fd, true) < 0))
        rc = errno ? errno : EIO;
    else if (rc == 0) {
        if (pwrite(fd, b.data, b.len, 0) != (ssize_t)b.len || ftruncate(fd, (off_t)b.len) < 0 ||
            fdatasync(fd) < 0)
            rc = errno ? errno : EIO;
        (void)journal_lock(fd, false);
    }
    if (rc == 0)
        mu->e->journal_txnid = mdb_txn_id(txn);
    buf_free(&b);
    return rc;
}

void ms_journal_clear_txn(struct ms_env *e, size_t txnid)
{
    int fd = e->journal_fd;
    unsigned char head[9];
    if (fd < 0 || journal_lock(fd, true) < 0)
        return;
    if (pread(fd, head, sizeof head, 0) == (ssize_t)sizeof head &&
        ms_get_le(head + 1, 8) == txnid) /* still that one, not the next writer's */
        (void)ftruncate(fd, 0);
    (void)journal_lock(fd, false);
}

void ms_journal_clear(struct mail_user *mu) { ms_journal_clear_txn(mu->e, mu->e->journal_txnid); }

/* Decode the journal into ops (full paths); false when it is torn or not ours. */
static bool journal_decode(struct mail_user *mu, const unsigned char *d, size_t n, size_t *txnid,
                           struct ms_fileops *ops)
{
    if (n < 17 || d[0] != JOURNAL_VERSION || ms_get_le(d + n - 4, 4) != fnv1a(d, n - 4))
        return false;
    *txnid = (size_t)ms_get_le(d + 1, 8);
    size_t count = ms_get_le(d + 9, 4), off = 13;
    for (size_t i = 0; i < count; i++) {
        if (off + 3 > n - 4)
            return false;
        char type = (char)d[off];
        size_t fl = ms_get_le(d + off + 1, 2);
        if (off + 3 + fl + 2 > n - 4)
            return false;
        size_t tl = ms_get_le(d + off + 3 + fl, 2);
        if (off + 5 + fl + tl > n - 4)
            return false;
        ms_fileops_add(ops, type, xasprintf("%s/%.*s", mu->path, (int)fl, d + off + 3),
                       xasprintf("%s/%.*s", mu->path, (int)tl, d + off + 5 + fl));
        off += 5 + fl + tl;
    }
    return off == n - 4;
}

/* The committed transaction's operations that did not reach the disk. */
static void redo(struct ms_fileops *ops)
{
    for (size_t i = 0; i < ops->n; i++) {
        struct ms_fileop *op = &ops->v[i];
        if (exists(op->from) && !exists(op->to))
            (void)do_op(op);
        op->done = true;
    }
}

/* Undo or complete the operations of a journal read from the file; false when it must
 * stay (its commit could not be made durable). */
static bool recover(struct mail_user *mu, MDB_txn *txn, const unsigned char *d, size_t n)
{
    struct ms_fileops ops = {0};
    size_t txnid = 0;
    bool done = true;
    if (journal_decode(mu, d, n, &txnid, &ops)) {
        if (txnid == mdb_txn_id(txn)) { /* never committed */
            for (size_t i = 0; i < ops.n; i++)
                ops.v[i].done = true;
            ms_fileops_undo(&ops);
        } else {
            redo(&ops);
            /* Emptied below, the journal must not outlive its commit: that is durable once
             * a later commit's data sync wrote its meta page (ms_note_synced), else sync now
             * (a deferred COPY or MOVE whose own syncs have not run yet). */
            if (txnid + 1 >= mdb_txn_id(txn))
                done = ms_sync(mu) == 0;
        }
        (void)ms_fileops_finish(&ops);
    }
    ms_fileops_free(&ops);
    return done;
}

int ms_journal_recover(struct mail_user *mu, MDB_txn *txn)
{
    int fd = journal_fd(mu);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0 || journal_lock(fd, true) < 0)
        return 0;
    bool done = true;
    if (fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size <= JOURNAL_MAX) {
        unsigned char *d = xmalloc((size_t)st.st_size);
        if (pread(fd, d, (size_t)st.st_size, 0) == st.st_size)
            done = recover(mu, txn, d, (size_t)st.st_size);
        free(d);
    }
    if (done)
        (void)ftruncate(fd, 0);
    (void)journal_lock(fd, false);
    return 0;
}
