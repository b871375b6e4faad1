/* mailstore_update.c - changes to single messages: expunge and flag changes (see
 * mailstore.h, doc/mailstore.md). Each change is one ms_write() transaction; a file rename
 * done inside it is undone when the transaction fails. Expunge moves the file to tmp/ inside
 * the write transaction and removes it after the commit, so the file and its entry go
 * together (a crash in between leaves a stray tmp/ file that mailbox_sync() clears after
 * 36 h). Not thread-safe per mailbox handle; errors come back as strings in *err. */
#include "mailstore_int.h"
#include "mem.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- changes to one message --- */

struct msg_op {
    const char *mailbox;
    char *dir;
    uint32_t uid, flags;
    uint64_t modseq;
    char *from, *to; /* a rename done inside the transaction, for undo */
};

static void msg_op_undo(void *arg)
{
    struct msg_op *op = arg;
    if (op->from && op->to)
        (void)rename(op->to, op->from);
    free(op->from);
    free(op->to);
    op->from = op->to = NULL;
}

/* Record the change of m (removed when del) in the mailbox counters and index. */
static int update_index(struct mail_user *mu, MDB_txn *txn, struct msg_op *op, struct msg_rec *m, bool del)
{
    struct mailbox_rec f;
    int rc = ms_mailbox_get(mu, txn, op->mailbox, &f);
    if (rc != 0)
        return rc == MDB_NOTFOUND ? MS_RC_CORRUPT : rc;
    op->modseq = ++f.highestmodseq;
    if (del) {
        struct buf key = BUF_INIT;
        ms_msg_key(&key, op->mailbox, op->uid);
        MDB_val k = {key.len, key.data};
        rc = mdb_del(txn, mu->e->messages, &k, NULL);
        buf_free(&key);
        f.messages -= f.messages > 0;
        f.size -= f.size >= m->size ? m->size : f.size;
        f.vsize -= f.vsize >= m->vsize ? m->vsize : f.vsize;
    } else {
        m->modseq = op->modseq;
        rc = ms_msg_put(mu, txn, op->mailbox, op->uid, m);
    }
    return rc ? rc : ms_mailbox_put(mu, txn, op->mailbox, &f);
}

static int expunge_apply(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct msg_op *op = arg;
    struct msg_rec m;
    int rc = ms_msg_get(mu, txn, op->mailbox, op->uid, &m);
    if (rc != 0)
        return rc;
    char *path = ms_locate(op->dir, m.name, m.namelen, m.flags);
    int lerr = path ? 0 : errno == ENOENT ? 0 : errno; /* a file already gone: drop the entry */
    char *to = xasprintf("%s/tmp/%.*s.expunged", op->dir, (int)m.namelen, m.name);
    if ((rc = update_index(mu, txn, op, &m, true)) != 0 || !path) { /* m.name is stale now */
        free(path);
        free(to);
        return rc ? rc : lerr;
    }
    if (rename(path, to) < 0) {
        rc = errno;
        free(path);
        free(to);
        return rc;
    }
    op->from = path;
    op->to = to;
    return 0;
}

static int run_msg_op(struct mail_user *mu, struct msg_op *op, const char *mailbox,
                      int (*apply)(struct mail_user *, MDB_txn *, void *), char **err)
{
    char *name = ms_mailbox_name(mailbox, err);
    if (!name)
        return -1;
    op->mailbox = name;
    op->dir = ms_mailbox_dir(mu, name);
    int rc = ms_write(mu, apply, msg_op_undo, op);
    free(op->dir);
    free(name);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0) {
        *err = xasprintf("%s: %s", mail_user_path(mu), rc > 0 ? strerror(rc) : ms_strerror(rc));
        return -1;
    }
    return 1;
}

int mailbox_expunge(struct mail_user *mu, const char *mailbox, uint32_t uid, char **err)
{
    struct msg_op op = {.uid = uid};
    int r = run_msg_op(mu, &op, mailbox, expunge_apply, err);
    if (r == 1 && op.to)
        unlink(op.to);
    free(op.from);
    free(op.to);
    return r;
}

static int flags_apply(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct msg_op *op = arg;
    struct msg_rec m;
    int rc = ms_msg_get(mu, txn, op->mailbox, op->uid, &m);
    if (rc != 0)
        return rc;
    char *path = ms_locate(op->dir, m.name, m.namelen, m.flags), letters[8];
    if (!path)
        return errno;
    char *to = xasprintf("%s/cur/%.*s:2,%s", op->dir, (int)m.namelen, m.name,
                         ms_flags_str(op->flags, letters));
    if (strcmp(path, to) != 0 && rename(path, to) < 0) {
        rc = errno;
        free(path);
        free(to);
        return rc;
    }
    op->from = path;
    op->to = to;
    char *base = xstrndup(m.name, m.namelen); /* m.name points into the page being rewritten */
    m.name = base;
    m.flags = op->flags;
    rc = update_index(mu, txn, op, &m, false);
    free(base);
    return rc;
}

int mailbox_set_flags(struct mail_user *mu, const char *mailbox, uint32_t uid, uint32_t flags,
                      uint64_t *modseq, char **err)
{
    struct msg_op op = {.uid = uid, .flags = flags & MS_FLAG_ALL};
    int r = run_msg_op(mu, &op, mailbox, flags_apply, err);
    if (r == 1 && modseq)
        *modseq = op.modseq;
    free(op.from);
    free(op.to);
    return r;
}
