/* mailstore_deliver.c - delivery into a Maildir with its index (see mailstore.h).
 *
 * Steps: quota check (read snapshot); write tmp/UNIQUE (O_EXCL, 0600) through fill();
 * fsync and close it; measure its size and CRLF size; then in one LMDB write transaction:
 * quota check again, UID = UIDNEXT++, MODSEQ = ++HIGHESTMODSEQ, counters, the message
 * record, rename tmp/UNIQUE -> new/UNIQUE,S=size,W=vsize (never replacing), fsync new/,
 * commit. Write transactions are serialised across processes, so UIDs follow rename order.
 * If the commit fails the file is moved back and removed: mail is never in new/ without
 * its UID unless the process dies between rename and commit, which mailbox_sync() repairs.
 * File names follow the Maildir convention "SECONDS.M<usec>P<pid>Q<n>.HOST" plus
 * Dovecot's ",S=" and ",W=" size fields. */
#include "fileio.h"
#include "mailstore_int.h"
#include "mem.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define MS_NAME_TRIES 20

struct deliver_op {
    const char *folder;
    long long quota;
    char *dir, *newdir, *tmp_path, *new_path;
    uint64_t size, vsize;
    uint32_t uid;
    bool renamed;
};

/* Sum of the folders' sizes in txn; -1 with *rc on error. */
static long long usage_txn(struct mailbox *mb, MDB_txn *txn, int *rc)
{
    MDB_cursor *cur;
    *rc = mdb_cursor_open(txn, mb->e->folders, &cur);
    if (*rc != 0)
        return -1;
    MDB_val k, v;
    long long total = 0;
    int r;
    for (r = mdb_cursor_get(cur, &k, &v, MDB_FIRST); r == 0; r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct folder_rec f;
        char *name = xstrndup(k.mv_data, k.mv_size);
        r = ms_folder_get(mb, txn, name, &f);
        free(name);
        if (r != 0)
            break;
        total += (long long)f.size;
    }
    mdb_cursor_close(cur);
    *rc = r == MDB_NOTFOUND ? 0 : r;
    return *rc ? -1 : total;
}

long long mailbox_usage(struct mailbox *mb)
{
    MDB_txn *txn;
    int rc;
    if (ms_begin(mb, false, &txn) != 0)
        return -1;
    long long u = usage_txn(mb, txn, &rc);
    mdb_txn_abort(txn);
    return u;
}

long long ms_vsize_fd(int fd)
{
    char b[65536];
    long long n = 0;
    off_t off = 0;
    char prev = 0;
    for (;;) {
        ssize_t r = pread(fd, b, sizeof b, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return n;
        for (ssize_t i = 0; i < r; i++) {
            if (b[i] == '\n' && prev != '\r')
                n++; /* a bare LF becomes CRLF */
            prev = b[i];
        }
        n += r;
        off += r;
    }
}

static int deliver_apply(struct mailbox *mb, MDB_txn *txn, void *arg)
{
    struct deliver_op *op = arg;
    int rc;
    if (op->quota > 0) {
        long long used = usage_txn(mb, txn, &rc);
        if (used < 0)
            return rc;
        if (used >= op->quota)
            return MS_RC_OVERQUOTA;
    }
    struct folder_rec f;
    rc = ms_folder_get(mb, txn, op->folder, &f);
    if (rc == MDB_NOTFOUND)
        ms_folder_new(&f);
    else if (rc != 0)
        return rc;
    const char *base = strrchr(op->new_path, '/') + 1;
    struct msg_rec m = {.flags = 0, .size = op->size, .vsize = op->vsize, .name = base,
                        .namelen = strlen(base)};
    op->uid = f.uidnext++;
    m.modseq = ++f.highestmodseq;
    f.messages++;
    f.size += op->size;
    f.vsize += op->vsize;
    if ((rc = ms_msg_put(mb, txn, op->folder, op->uid, &m)) != 0 ||
        (rc = ms_folder_put(mb, txn, op->folder, &f)) != 0)
        return rc;
    if (renameat2(AT_FDCWD, op->tmp_path, AT_FDCWD, op->new_path, RENAME_NOREPLACE) < 0)
        return errno ? errno : EIO;
    op->renamed = true;
    if (fsync_dir(op->newdir) < 0)
        return errno ? errno : EIO;
    return 0;
}

static void deliver_undo(void *arg)
{
    struct deliver_op *op = arg;
    if (op->renamed && rename(op->new_path, op->tmp_path) == 0) {
        op->renamed = false;
        (void)fsync_dir(op->newdir);
    }
}

/* Create tmp/UNIQUE exclusively; returns fd and sets op->tmp_path, or -1. */
static int create_tmp(struct mailbox *mb, struct deliver_op *op, char **unique)
{
    for (int i = 0; i < MS_NAME_TRIES; i++) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        *unique = xasprintf("%lld.M%06ldP%ldQ%u.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
                            (long)getpid(), mb->e->counter++, mb->host);
        op->tmp_path = xasprintf("%s/tmp/%s", op->dir, *unique);
        int fd = open(op->tmp_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0)
            return fd;
        int e = errno;
        free(op->tmp_path);
        free(*unique);
        op->tmp_path = *unique = NULL;
        if (e != EEXIST) {
            errno = e;
            return -1;
        }
    }
    errno = EEXIST;
    return -1;
}

/* Write the message into tmp/ and measure it. 0, or an errno value / MS_RC_FILL. */
static int write_tmp(struct mailbox *mb, struct deliver_op *op, int (*fill)(void *ctx, int fd),
                     void *ctx)
{
    char *unique;
    int fd = create_tmp(mb, op, &unique);
    if (fd < 0)
        return errno;
    errno = 0;
    int rc = 0;
    struct stat st;
    long long vsize = -1;
    if (fill(ctx, fd) < 0)
        rc = errno ? errno : MS_RC_FILL;
    else if (fsync(fd) < 0 || fstat(fd, &st) < 0 || (vsize = ms_vsize_fd(fd)) < 0)
        rc = errno ? errno : EIO;
    if (close(fd) < 0 && rc == 0)
        rc = errno ? errno : EIO;
    if (rc == 0) {
        op->size = (uint64_t)st.st_size;
        op->vsize = (uint64_t)vsize;
        op->new_path = xasprintf("%s/new/%s,S=%llu,W=%llu", op->dir, unique,
                                 (unsigned long long)op->size, (unsigned long long)op->vsize);
    }
    free(unique);
    return rc;
}

static enum mailstore_result result(int rc, char **err)
{
    if (rc == 0)
        return MS_OK;
    *err = xstrdup(rc > 0 ? strerror(rc) : ms_strerror(rc));
    return rc == MS_RC_OVERQUOTA ? MS_OVERQUOTA : MS_TEMPFAIL;
}

enum mailstore_result mailbox_deliver(struct mailbox *mb, const char *folder,
                                      long long quota, int (*fill)(void *ctx, int fd),
                                      void *ctx, uint32_t *uid, char **err)
{
    char *name = ms_folder_name(folder, err);
    if (!name)
        return MS_TEMPFAIL;
    struct deliver_op op = {.folder = name, .quota = quota};
    op.dir = ms_folder_dir(mb, name);
    op.newdir = xasprintf("%s/new", op.dir);
    int rc = 0;
    if (ms_make_maildir(op.dir, strcmp(name, "INBOX") != 0) < 0)
        rc = errno;
    if (rc == 0 && quota > 0) {
        long long used = mailbox_usage(mb);
        rc = used < 0 ? EIO : used >= quota ? MS_RC_OVERQUOTA : 0;
    }
    if (rc == 0)
        rc = write_tmp(mb, &op, fill, ctx);
    if (rc == 0)
        rc = ms_write(mb, deliver_apply, deliver_undo, &op);
    if (rc == 0)
        *uid = op.uid;
    else if (op.renamed) /* could not be moved back: do not leave it without a UID */
        unlink(op.new_path);
    else if (op.tmp_path)
        unlink(op.tmp_path);
    free(op.tmp_path);
    free(op.new_path);
    free(op.newdir);
    free(op.dir);
    free(name);
    return result(rc, err);
}
