/* mailstore_copy.c - COPY (RFC 3501 6.4.7; COPYUID of UIDPLUS, RFC 4315) and MOVE
 * (RFC 6851).
 *
 * One write transaction for all the messages of a call. Each message of the source gets
 * a new UID in the destination (UIDNEXT order follows the order of the UIDs given), the
 * next MODSEQ there, its flags, its INTERNALDATE and its keywords, mapped by name into the
 * destination's table (MS_LIMIT when the table cannot take them). Its file goes to
 * dst/cur/UNIQUE,S=..,W=..:2,LETTERS under a new base name: COPY hard-links it (or copies
 * it where links are impossible), MOVE renames it and, in the same transaction, expunges
 * the source message (a new MODSEQ in the source and an expunge log entry for QRESYNC).
 * RFC 6851 3.3 asks MOVE to be atomic per message; here the whole call is.
 *
 * The file operations are journaled (mailstore_journal.c) before the first of them, so:
 *  - killed or crashed before the commit: the next write transaction removes the links or
 *    renames the files back; the source is as before and the destination has no trace;
 *  - committed, but a system crash lost some of the directory changes: the next write
 *    transaction does them again;
 * so a moved message is never in both mailboxes nor in neither. With deferred syncs
 * (imapd, mailstore.h) the syncs run on another thread and the journal stays until they
 * are done. Should the journal itself
 * be lost, mailbox_sync of both mailboxes still leaves exactly one copy: it drops the
 * entry whose file is gone and indexes the file that has no entry (doc/mailstore.md). */
#include "mailstore_int.h"
#include "mem.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct copy_op {
    const char *src, *dst;
    char *srcdir, *dstdir;
    const uint32_t *uids;
    size_t n;
    bool move;
    long long quota;
    uint32_t *dst_uids;
    uint32_t uidvalidity;
    struct mailbox_rec sf, df, *dfp; /* dfp: &df, or &sf when src and dst are one */
    struct ms_keywords sk, dk;
    struct ms_fileops ops;
};

/* The destination's record of one message; the source's file op is added to op->ops. */
static int copy_one(struct mail_user *mu, MDB_txn *txn, struct copy_op *op, size_t i)
{
    struct msg_rec m;
    int rc = ms_msg_get(mu, txn, op->src, op->uids[i], &m);
    if (rc != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    char *from = ms_locate(op->srcdir, m.name, m.namelen, m.flags, m.keywords);
    if (!from) /* the file is gone: as if the message were (mailbox_sync drops it) */
        return errno == ENOENT ? 0 : errno ? errno : EIO;
    /* m.name points into the map: not used after the first write below */
    uint64_t kw;
    if ((rc = ms_keywords_map(mu, txn, op->dst, &op->sk, &op->dk, m.keywords, &kw)) != 0) {
        free(from);
        return rc;
    }
    char *unique = ms_unique_name(mu, NULL);
    char *base = xasprintf("%s,S=%llu,W=%llu", unique, (unsigned long long)m.size,
                           (unsigned long long)m.vsize);
    ms_fileops_add(&op->ops, op->move ? MS_OP_RENAME : MS_OP_LINK, from,
                   ms_cur_path(op->dstdir, base, strlen(base), m.flags, kw));
    struct msg_rec d = {m.flags, ++op->dfp->highestmodseq, m.size, m.vsize, kw, m.internaldate,
                        base, strlen(base)};
    uint32_t uid = op->dfp->uidnext++;
    ms_mailbox_count(op->dfp, &d, true);
    rc = ms_msg_put(mu, txn, op->dst, uid, &d);
    if (rc == 0 && op->move) {
        ms_mailbox_count(&op->sf, &m, false);
        if ((rc = ms_msg_del(mu, txn, op->src, op->uids[i])) == 0)
            rc = ms_log_expunge(mu, txn, op->src, ++op->sf.highestmodseq, op->uids[i]);
    }
    op->dst_uids[i] = rc == 0 ? uid : 0;
    free(unique);
    free(base);
    return rc;
}

/* Both records (dst made if it is INBOX), the quota, both keyword tables. */
static int copy_begin(struct mail_user *mu, MDB_txn *txn, struct copy_op *op)
{
    int rc = ms_mailbox_get(mu, txn, op->src, &op->sf);
    if (rc != 0)
        return rc == MDB_NOTFOUND ? MS_RC_NONEXISTENT : rc;
    bool same = strcmp(op->src, op->dst) == 0;
    op->dfp = same ? &op->sf : &op->df;
    if (!same && (rc = ms_mailbox_need(mu, txn, op->dst, &op->df)) != 0)
        return rc;
    long long used = op->quota > 0 && !op->move ? ms_usage_txn(mu, txn, &rc) : 0;
    if (used < 0 || rc != 0)
        return rc;
    if (op->quota > 0 && !op->move && used >= op->quota)
        return MS_RC_OVERQUOTA;
    if ((rc = ms_keywords_load(mu, txn, op->src, &op->sk)) != 0)
        return rc;
    return ms_keywords_load(mu, txn, op->dst, &op->dk);
}

static int copy_apply(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct copy_op *op = arg;
    ms_fileops_free(&op->ops);
    ms_keywords_free(&op->sk);
    ms_keywords_free(&op->dk);
    memset(op->dst_uids, 0, op->n * sizeof *op->dst_uids);
    int rc = copy_begin(mu, txn, op);
    for (size_t i = 0; rc == 0 && i < op->n; i++)
        rc = copy_one(mu, txn, op, i);
    if (rc == 0)
        rc = ms_keywords_write_file(op->dstdir, &op->dk);
    if (rc == 0 && op->ops.n && (rc = ms_journal_write(mu, txn, &op->ops)) == 0)
        rc = ms_fileops_run(&op->ops);
    if (rc == 0 && op->dfp == &op->df)
        rc = ms_mailbox_put(mu, txn, op->dst, &op->df);
    if (rc == 0 && (op->move || op->dfp == &op->sf))
        rc = ms_mailbox_put(mu, txn, op->src, &op->sf);
    if (rc == 0)
        op->uidvalidity = op->dfp->uidvalidity;
    return rc;
}

static void copy_undo(void *arg) { ms_fileops_undo(&((struct copy_op *)arg)->ops); }

static enum mailstore_result copy_run(struct mail_user *mu, struct copy_op *op, uint32_t *dst_uidvalidity,
                                      char **err)
{
    char *src = ms_mailbox_name(op->src, err), *dst = src ? ms_mailbox_name(op->dst, err) : NULL;
    if (!dst) {
        free(src);
        return MS_INVALID;
    }
    op->src = src;
    op->dst = dst;
    op->srcdir = ms_mailbox_dir(mu, src);
    op->dstdir = ms_mailbox_dir(mu, dst);
    size_t txnid;
    int rc = ms_write_txn(mu, copy_apply, copy_undo, op, &txnid);
    if (rc == 0 && op->ops.n) /* dst/cur (and the sources' directories) and the index synced */
        rc = ms_durable_journaled(mu, txnid, &op->ops);
    else if (rc == 0)
        rc = ms_durable(mu, txnid, NULL);
    else if (op->ops.n)
        ms_journal_clear(mu); /* undone */
    enum mailstore_result r = ms_result(rc, rc == MS_RC_NONEXISTENT ? dst : src, err);
    if (r == MS_OK && dst_uidvalidity)
        *dst_uidvalidity = op->uidvalidity;
    ms_fileops_free(&op->ops);
    ms_keywords_free(&op->sk);
    ms_keywords_free(&op->dk);
    free(op->srcdir);
    free(op->dstdir);
    free(src);
    free(dst);
    return r;
}

enum mailstore_result mailbox_copy(struct mail_user *mu, const char *src, const uint32_t *uids,
                                   size_t n, const char *dst, long long quota, uint32_t *dst_uids,
                                   uint32_t *dst_uidvalidity, char **err)
{
    struct copy_op op = {.src = src, .dst = dst, .uids = uids, .n = n, .quota = quota,
                         .dst_uids = dst_uids};
    return copy_run(mu, &op, dst_uidvalidity, err);
}

enum mailstore_result mailbox_move(struct mail_user *mu, const char *src, const uint32_t *uids,
                                   size_t n, const char *dst, uint32_t *dst_uids,
                                   uint32_t *dst_uidvalidity, char **err)
{
    struct copy_op op = {.src = src, .dst = dst, .uids = uids, .n = n, .move = true,
                         .dst_uids = dst_uids};
    return copy_run(mu, &op, dst_uidvalidity, err);
}
