/* mailstore_deliver.c - delivery into a Maildir with its index (see mailstore.h).
 *
 * Steps: one read snapshot for the quota check and, with exactly-once delivery, the lookup
 * of an earlier copy; write tmp/UNIQUE (O_EXCL, 0600) through fill(); fsync and close it;
 * measure its size and CRLF size; then in one LMDB write transaction: quota check and
 * lookup again, prune a few expired delivery records, UID = UIDNEXT++, MODSEQ =
 * ++HIGHESTMODSEQ, counters, the message record, the delivery record, rename tmp/UNIQUE ->
 * new/UNIQUE,S=size,W=vsize (never replacing), commit. Write transactions are serialised
 * across processes, so UIDs follow rename order (doc/architecture.md, "Store"). After the commit, with
 * the writer lock released, new/ is fsynced and the index synced (the meta page
 * MDB_NOMETASYNC left unsynced: ms_sync_txn, a no-op when a later commit of another
 * delivery has synced it already); only then is the result MS_OK. Keeping the syncs out
 * of the critical section lets the deliveries of concurrent processes to one mailbox
 * overlap: the file system then batches their syncs into one journal commit, where inside
 * the lock every delivery paid three syncs one after the other. The commit itself still
 * syncs the data pages once, inside the lock: that is what keeps the LMDB file consistent
 * (MDB_NOSYNC would let a system crash corrupt it).
 *
 * Crash consistency (a system crash; a killed process loses nothing the kernel has):
 *  - rename durable, index commit not: the file is in new/ without an entry; mailbox_sync()
 *    indexes it. The delivery was not reported, so it is repeated: with exactly-once
 *    delivery its record is gone too, so this is the one case that leaves a duplicate.
 *  - index commit durable, rename not: an entry without a file; mailbox_sync() drops it,
 *    and a repeated exactly-once delivery checks that the recorded file exists, so it
 *    delivers again instead of trusting the record.
 *  - both durable: a repeated request finds the record and the file and writes nothing.
 * If the commit fails the file is moved back and removed. If a sync after the commit
 * fails the message stays (it is in the mailbox) and the result is MS_TEMPFAIL; a
 * repeated exactly-once delivery then syncs again and reports the first copy.
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
#include <time.h>
#include <unistd.h>

#define MS_NAME_TRIES 20

struct deliver_op {
    const char *mailbox;
    long long quota;
    const struct delivery_once *once;
    struct buf once_key; /* BORN (8, big-endian) + id */
    char *dir, *newdir, *tmp_path, *new_path;
    char *dup_path; /* MS_RC_DUPLICATE: the file of the first copy */
    uint64_t size, vsize;
    uint32_t uid;
    size_t txnid; /* of the write transaction */
    bool renamed, committed;
    bool duplicate; /* the write transaction found an earlier copy */
};

/* Sum of the mailboxes' sizes in txn; -1 with *rc on error. */
static long long usage_txn(struct mail_user *mu, MDB_txn *txn, int *rc)
{
    MDB_cursor *cur;
    *rc = mdb_cursor_open(txn, mu->e->mailboxes, &cur);
    if (*rc != 0)
        return -1;
    MDB_val k, v;
    long long total = 0;
    int r;
    for (r = mdb_cursor_get(cur, &k, &v, MDB_FIRST); r == 0; r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct mailbox_rec f;
        char *name = xstrndup(k.mv_data, k.mv_size);
        r = ms_mailbox_get(mu, txn, name, &f);
        free(name);
        if (r != 0)
            break;
        total += (long long)f.size;
    }
    mdb_cursor_close(cur);
    *rc = r == MDB_NOTFOUND ? 0 : r;
    return *rc ? -1 : total;
}

long long mail_user_usage(struct mail_user *mu)
{
    MDB_txn *txn;
    int rc;
    if (ms_begin(mu, false, &txn) != 0)
        return -1;
    long long u = usage_txn(mu, txn, &rc);
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

/* --- the write transaction --- */

static int rename_new(struct deliver_op *op)
{
    if (renameat2(AT_FDCWD, op->tmp_path, AT_FDCWD, op->new_path, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != ENOENT || ms_make_maildir(op->dir, strcmp(op->mailbox, "INBOX") != 0) < 0)
        return errno ? errno : EIO;
    /* new/ had been removed: created again (a missing tmp file fails again) */
    if (renameat2(AT_FDCWD, op->tmp_path, AT_FDCWD, op->new_path, RENAME_NOREPLACE) == 0)
        return 0;
    return errno ? errno : EIO;
}

static int deliver_apply(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct deliver_op *op = arg;
    int rc;
    /* An earlier copy first: a delivered message is reported even when over quota now.
     * Found here (written by a concurrent or killed writer), the transaction still
     * commits, keeping what ms_pending_recover may have repaired in it. */
    if (op->once) {
        free(op->dup_path); /* from an attempt that had to grow the map */
        op->dup_path = NULL;
        rc = ms_once_find(mu, txn, &op->once_key, &op->uid, &op->dup_path);
        if (rc == MS_RC_DUPLICATE) {
            op->duplicate = true;
            return 0;
        }
        if (rc != 0 || (rc = ms_once_prune(mu, txn, op->once->keep)) != 0)
            return rc;
    }
    if (op->quota > 0) {
        long long used = usage_txn(mu, txn, &rc);
        if (used < 0)
            return rc;
        if (used >= op->quota)
            return MS_RC_OVERQUOTA;
    }
    struct mailbox_rec f;
    rc = ms_mailbox_get(mu, txn, op->mailbox, &f);
    if (rc == MDB_NOTFOUND)
        ms_mailbox_new(&f);
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
    if ((rc = ms_msg_put(mu, txn, op->mailbox, op->uid, &m)) != 0 ||
        (rc = ms_mailbox_put(mu, txn, op->mailbox, &f)) != 0 ||
        (op->once && (rc = ms_once_put(mu, txn, op->once_key.data, op->once_key.len, op->uid,
                                       op->mailbox)) != 0))
        return rc;
    op->txnid = mdb_txn_id(txn);
    /* Best effort: without the note a writer killed right after the rename leaves a copy
     * that only mailbox_sync() finds (mailstore_once.c). */
    struct ms_pending note = {.txnid = op->txnid, .uidvalidity = f.uidvalidity, .uid = op->uid,
                              .size = op->size, .vsize = op->vsize, .mailbox = op->mailbox,
                              .name = base, .key = op->once_key.data, .keylen = op->once_key.len};
    (void)ms_pending_note(mu, &note);
    if ((rc = rename_new(op)) != 0)
        return rc;
    op->renamed = true;
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

/* Create tmp/UNIQUE exclusively; returns fd and sets op->tmp_path, or -1. The Maildir's
 * directories are created only when tmp/ is missing (not on every delivery). */
static int create_tmp(struct mail_user *mu, struct deliver_op *op, char **unique)
{
    bool made = false;
    for (int i = 0; i < MS_NAME_TRIES; i++) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        *unique = xasprintf("%lld.M%06ldP%ldQ%u.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
                            (long)mu->e->pid, mu->e->counter++, mu->host);
        op->tmp_path = xasprintf("%s/tmp/%s", op->dir, *unique);
        int fd = open(op->tmp_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0)
            return fd;
        int e = errno;
        free(op->tmp_path);
        free(*unique);
        op->tmp_path = *unique = NULL;
        if (e == ENOENT && !made) {
            made = true;
            if (ms_make_maildir(op->dir, strcmp(op->mailbox, "INBOX") != 0) < 0)
                return -1;
            continue;
        }
        if (e != EEXIST) {
            errno = e;
            return -1;
        }
    }
    errno = EEXIST;
    return -1;
}

/* Write the message into tmp/ and measure it. 0, or an errno value / MS_RC_FILL. */
static int write_tmp(struct mail_user *mu, struct deliver_op *op, int (*fill)(void *ctx, int fd),
                     void *ctx)
{
    char *unique;
    int fd = create_tmp(mu, op, &unique);
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

/* Before writing anything: the quota and an earlier copy, in one read snapshot. */
static int precheck(struct mail_user *mu, struct deliver_op *op)
{
    if (op->quota <= 0 && !op->once)
        return 0;
    MDB_txn *txn;
    int rc = ms_begin(mu, false, &txn);
    if (rc != 0)
        return rc;
    if (op->once)
        rc = ms_once_find(mu, txn, &op->once_key, &op->uid, &op->dup_path);
    if (rc == 0 && op->quota > 0) {
        long long used = usage_txn(mu, txn, &rc);
        if (used >= op->quota)
            rc = MS_RC_OVERQUOTA;
    }
    mdb_txn_abort(txn);
    return rc;
}

/* The copy found by once_find may have been written by a process that has not finished
 * its syncs: make it durable before it is reported as delivered. */
static int sync_duplicate(struct mail_user *mu, struct deliver_op *op)
{
    if (fsync_parent(op->dup_path) < 0)
        return errno ? errno : EIO;
    return ms_sync(mu);
}

static enum mailstore_result result(int rc, char **err)
{
    if (rc == 0)
        return MS_OK;
    *err = xstrdup(rc > 0 ? strerror(rc) : ms_strerror(rc));
    return rc == MS_RC_OVERQUOTA ? MS_OVERQUOTA : MS_TEMPFAIL;
}

static bool once_ok(const struct delivery_once *o, char **err)
{
    size_t n = o->id ? strlen(o->id) : 0;
    if (n > 0 && n <= DELIVERY_ONCE_ID_MAX)
        return true;
    *err = xstrdup("invalid delivery identifier");
    return false;
}

enum mailstore_result mailbox_deliver_once(struct mail_user *mu, const char *mailbox,
                                           long long quota, const struct delivery_once *once,
                                           int (*fill)(void *ctx, int fd), void *ctx,
                                           uint32_t *uid, bool *duplicate, char **err)
{
    if (duplicate)
        *duplicate = false;
    if (once && !once_ok(once, err))
        return MS_TEMPFAIL;
    char *name = ms_mailbox_name(mailbox, err);
    if (!name)
        return MS_TEMPFAIL;
    struct deliver_op op = {.mailbox = name, .quota = quota, .once = once, .once_key = BUF_INIT};
    if (once)
        ms_once_key(&op.once_key, once);
    op.dir = ms_mailbox_dir(mu, name);
    op.newdir = xasprintf("%s/new", op.dir);
    int rc = precheck(mu, &op);
    if (rc == 0)
        rc = write_tmp(mu, &op, fill, ctx);
    if (rc == 0) {
        rc = ms_write_nosync(mu, deliver_apply, deliver_undo, &op);
        op.committed = rc == 0 && !op.duplicate;
        if (op.duplicate)
            rc = MS_RC_DUPLICATE;
    }
    /* Durable before it is reported: new/ (holding the rename) and the index. */
    if (rc == 0 && fsync_dir(op.newdir) < 0)
        rc = errno ? errno : EIO;
    if (rc == 0)
        rc = ms_sync_txn(mu, op.txnid);
    if (rc == MS_RC_DUPLICATE && (rc = sync_duplicate(mu, &op)) == 0 && duplicate)
        *duplicate = true;
    if (rc == 0 || op.committed)
        *uid = op.uid; /* after a failed sync the copy is in the mailbox all the same */
    else if (op.renamed) /* could not be moved back: do not leave it without a UID */
        unlink(op.new_path);
    if (op.tmp_path && !op.renamed)
        unlink(op.tmp_path);
    free(op.tmp_path);
    free(op.new_path);
    free(op.dup_path);
    free(op.newdir);
    free(op.dir);
    buf_free(&op.once_key);
    free(name);
    return result(rc, err);
}

enum mailstore_result mailbox_deliver(struct mail_user *mu, const char *mailbox,
                                      long long quota, int (*fill)(void *ctx, int fd),
                                      void *ctx, uint32_t *uid, char **err)
{
    return mailbox_deliver_once(mu, mailbox, quota, NULL, fill, ctx, uid, NULL, err);
}
