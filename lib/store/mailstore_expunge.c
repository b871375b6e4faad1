/* mailstore_expunge.c - expunge, one message or many in one write transaction, and the
 * expunge log that QRESYNC reads (RFC 7162 3.2.5, 3.2.10: VANISHED).
 *
 * Each expunged message takes the next MODSEQ and leaves the log entry (database
 * "expunged", key NAME "\0" MODSEQ(8, BE) UID(4, BE)); its entry and cache blobs go. The
 * file is renamed to tmp/NAME.expunged inside the transaction (undone if it fails) and
 * removed after the commit, once the index and the directories it left are synced: a
 * process killed in between leaves a tmp/ file that mailbox_sync() clears after 36 hours,
 * and a system crash cannot bring back a message whose expunge was reported. A process
 * killed between the renames and the commit leaves entries without files, which
 * mailbox_sync() drops (and logs): the expunge completes. However many messages, a call
 * costs one commit, one index sync and one fsync per directory touched. */
#include "mailstore_int.h"
#include "mem.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ms_log_expunge(struct mail_user *mu, MDB_txn *txn, const char *mailbox, uint64_t modseq,
                   uint32_t uid)
{
    struct buf key = BUF_INIT;
    buf_append(&key, mailbox, strlen(mailbox) + 1);
    ms_put_be(&key, modseq, 8);
    ms_put_be(&key, uid, 4);
    unsigned char one = MS_REC_VERSION;
    MDB_val k = {key.len, key.data}, v = {1, &one};
    int rc = mdb_put(txn, mu->e->expunged, &k, &v, 0);
    buf_free(&key);
    return rc;
}

struct expunge_op {
    const char *mailbox;
    char *dir;
    const uint32_t *uids;
    size_t n;
    int count;
    uint64_t modseq;
    struct ms_fileops ren; /* file -> tmp/NAME.expunged */
};

static int expunge_one(struct mail_user *mu, MDB_txn *txn, struct expunge_op *op,
                       struct mailbox_rec *f, uint32_t uid)
{
    struct msg_rec m;
    int rc = ms_msg_get(mu, txn, op->mailbox, uid, &m);
    if (rc != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    char *path = ms_locate(op->dir, m.name, m.namelen, m.flags, m.keywords);
    if (!path && errno != ENOENT) /* a file already gone: just drop the entry */
        return errno ? errno : EIO;
    if (path) {
        ms_fileops_add(&op->ren, MS_OP_RENAME, path,
                       xasprintf("%s/tmp/%.*s.expunged", op->dir, (int)m.namelen, m.name));
        if ((rc = ms_fileops_run(&op->ren)) != 0)
            return rc;
    }
    ms_mailbox_count(f, &m, false); /* before the delete: m points into the map */
    if ((rc = ms_msg_del(mu, txn, op->mailbox, uid)) != 0)
        return rc;
    op->count++;
    return ms_log_expunge(mu, txn, op->mailbox, ++f->highestmodseq, uid);
}

static int expunge_apply(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct expunge_op *op = arg;
    struct mailbox_rec f;
    ms_fileops_free(&op->ren);
    op->count = 0;
    int rc = ms_mailbox_get(mu, txn, op->mailbox, &f);
    if (rc == MDB_NOTFOUND)
        return 0;
    for (size_t i = 0; rc == 0 && i < op->n; i++)
        rc = expunge_one(mu, txn, op, &f, op->uids[i]);
    op->modseq = f.highestmodseq;
    return rc || op->count == 0 ? rc : ms_mailbox_put(mu, txn, op->mailbox, &f);
}

static void expunge_undo(void *arg) { ms_fileops_undo(&((struct expunge_op *)arg)->ren); }

int mailbox_expunge_many(struct mail_user *mu, const char *mailbox, const uint32_t *uids, size_t n,
                         uint64_t *modseq, char **err)
{
    char *name = ms_mailbox_name(mailbox, err);
    if (!name)
        return -1;
    struct expunge_op op = {.mailbox = name, .dir = ms_mailbox_dir(mu, name), .uids = uids, .n = n};
    size_t txnid;
    int rc = ms_write_txn(mu, expunge_apply, expunge_undo, &op, &txnid);
    if (rc == 0) /* index and directories synced before the answer, or deferred (mailstore.h) */
        rc = ms_durable(mu, txnid, &op.ren);
    for (size_t i = 0; rc == 0 && i < op.ren.n; i++)
        (void)unlink(op.ren.v[i].to);
    if (rc != 0)
        *err = xasprintf("%s: %s", mail_user_path(mu), ms_strerror(rc));
    else if (modseq)
        *modseq = op.modseq;
    ms_fileops_free(&op.ren);
    free(op.dir);
    free(name);
    return rc ? -1 : op.count;
}

int mailbox_expunge(struct mail_user *mu, const char *mailbox, uint32_t uid, char **err)
{
    return mailbox_expunge_many(mu, mailbox, &uid, 1, NULL, err);
}
