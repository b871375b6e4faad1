/* mailstore_store.c - flag and keyword changes: IMAP STORE with CONDSTORE (RFC 7162 3.1.3)
 * and mailbox_set_flags (pop3d and older callers).
 *
 * One write transaction for all the UIDs of a call. Per message: UNCHANGEDSINCE first (a
 * message whose MODSEQ is above it is not touched: MS_STORE_MODIFIED), then a STORE that
 * would not change anything is a no-op without a new MODSEQ (MS_STORE_UNCHANGED, as RFC
 * 7162 3.1.3 allows); otherwise the file is renamed to cur/NAME:2,LETTERS inside the
 * transaction (undone if it fails) and the entry gets the next MODSEQ. After the commit
 * the directories of the renames are fsynced and the index synced, so that a system crash
 * cannot bring back the old letters (which mailbox_sync would take for a change made by
 * another program); a handle with deferred syncs leaves them to its caller (mailstore.h),
 * who must not acknowledge the change before they are done. A process killed between
 * rename and commit leaves new letters on an old entry; mailbox_sync takes them over with
 * a new MODSEQ. */
#include "mailstore_int.h"
#include "mem.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct store_op {
    const char *mailbox;
    char *dir;
    const uint32_t *uids;
    size_t n;
    enum mailbox_store_op op;
    uint32_t flags;
    uint64_t keywords;
    uint64_t unchangedsince; /* 0: none */
    bool keep_keywords;      /* mailbox_set_flags: replace the flags only */
    struct mailbox_store_result *res;
    struct ms_fileops ren; /* the renames, for undo and the directory syncs */
};

static void new_state(const struct store_op *op, const struct msg_rec *m, uint32_t *f, uint64_t *k)
{
    switch (op->op) {
    case MS_STORE_ADD:
        *f = m->flags | op->flags;
        *k = m->keywords | op->keywords;
        break;
    case MS_STORE_REMOVE:
        *f = m->flags & ~op->flags;
        *k = m->keywords & ~op->keywords;
        break;
    default:
        *f = op->flags;
        *k = op->keep_keywords ? m->keywords : op->keywords;
    }
}

/* Rename the file to its new letters (a file already gone is left to mailbox_sync). */
static int rename_file(struct store_op *op, const struct msg_rec *m, uint32_t f, uint64_t k)
{
    char *from = ms_locate(op->dir, m->name, m->namelen, m->flags, m->keywords);
    if (!from)
        return errno == ENOENT ? 0 : errno ? errno : EIO;
    char *to = ms_cur_path(op->dir, m->name, m->namelen, f, k);
    if (strcmp(from, to) == 0) {
        free(from);
        free(to);
        return 0;
    }
    ms_fileops_add(&op->ren, MS_OP_RENAME, from, to);
    return ms_fileops_run(&op->ren);
}

static int store_one(struct mail_user *mu, MDB_txn *txn, struct store_op *op, struct mailbox_rec *f,
                     struct mailbox_store_result *r)
{
    struct msg_rec m;
    int rc = ms_msg_get(mu, txn, op->mailbox, r->uid, &m);
    if (rc == MDB_NOTFOUND)
        return 0; /* r->result stays MS_STORE_NOUID */
    if (rc != 0)
        return rc;
    *r = (struct mailbox_store_result){r->uid, MS_STORE_MODIFIED, m.modseq, m.flags, m.keywords};
    if (op->unchangedsince && m.modseq > op->unchangedsince)
        return 0;
    uint32_t nf;
    uint64_t nk;
    new_state(op, &m, &nf, &nk);
    r->result = MS_STORE_UNCHANGED;
    if (nf == m.flags && nk == m.keywords)
        return 0;
    if ((rc = rename_file(op, &m, nf, nk)) != 0)
        return rc;
    char *base = xstrndup(m.name, m.namelen); /* m.name points into the page being rewritten */
    ms_mailbox_count(f, &m, false);
    m = (struct msg_rec){nf, ++f->highestmodseq, m.size, m.vsize, nk, m.internaldate, base, m.namelen};
    ms_mailbox_count(f, &m, true);
    rc = ms_msg_put(mu, txn, op->mailbox, r->uid, &m);
    free(base);
    *r = (struct mailbox_store_result){r->uid, MS_STORE_CHANGED, m.modseq, nf, nk};
    return rc;
}

static int store_apply(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct store_op *op = arg;
    struct mailbox_rec f;
    struct ms_keywords k;
    ms_fileops_free(&op->ren); /* an attempt before a map resize was undone */
    for (size_t i = 0; i < op->n; i++)
        op->res[i] = (struct mailbox_store_result){.uid = op->uids[i]};
    int rc = ms_mailbox_get(mu, txn, op->mailbox, &f);
    if (rc == MDB_NOTFOUND)
        return 0; /* no mailbox: no such UIDs */
    if (rc != 0 || (rc = ms_keywords_load(mu, txn, op->mailbox, &k)) != 0)
        return rc;
    op->keywords &= ms_keywords_mask(&k); /* bits without a keyword are not stored */
    ms_keywords_free(&k);
    for (size_t i = 0; rc == 0 && i < op->n; i++)
        rc = store_one(mu, txn, op, &f, &op->res[i]);
    return rc ? rc : ms_mailbox_put(mu, txn, op->mailbox, &f);
}

static void store_undo(void *arg) { ms_fileops_undo(&((struct store_op *)arg)->ren); }

/* Run so (mailbox, uids, n and the change filled in) and report through fn. 0 or -1. */
static int store_run(struct mail_user *mu, struct store_op *so,
                     void (*fn)(void *ctx, const struct mailbox_store_result *r), void *ctx, char **err)
{
    char *name = ms_mailbox_name(so->mailbox, err);
    if (!name)
        return -1;
    so->mailbox = name;
    so->dir = ms_mailbox_dir(mu, name);
    so->flags &= MS_FLAG_ALL;
    so->res = xcalloc(so->n ? so->n : 1, sizeof *so->res);
    size_t txnid;
    int rc = ms_write_txn(mu, store_apply, store_undo, so, &txnid);
    if (rc == 0) /* index and renames durable before the answer (or deferred to the caller) */
        rc = ms_durable(mu, txnid, &so->ren);
    if (rc != 0)
        *err = xasprintf("%s: %s", name, ms_strerror(rc));
    for (size_t i = 0; rc == 0 && fn && i < so->n; i++)
        fn(ctx, &so->res[i]);
    ms_fileops_free(&so->ren);
    free(so->res);
    free(so->dir);
    free(name);
    return rc ? -1 : 0;
}

int mailbox_store_many(struct mail_user *mu, const char *mailbox, const uint32_t *uids, size_t n,
                       enum mailbox_store_op op, uint32_t flags, uint64_t keywords,
                       uint64_t unchangedsince,
                       void (*fn)(void *ctx, const struct mailbox_store_result *r), void *ctx,
                       char **err)
{
    struct store_op so = {.mailbox = mailbox, .uids = uids, .n = n, .op = op, .flags = flags,
                          .keywords = keywords, .unchangedsince = unchangedsince};
    return store_run(mu, &so, fn, ctx, err);
}

static void keep_result(void *ctx, const struct mailbox_store_result *r)
{
    *(struct mailbox_store_result *)ctx = *r;
}

int mailbox_store(struct mail_user *mu, const char *mailbox, uint32_t uid, enum mailbox_store_op op,
                  uint32_t flags, uint64_t keywords, uint64_t unchangedsince,
                  uint64_t *new_modseq, uint32_t *result_flags, uint64_t *result_keywords,
                  char **err)
{
    struct mailbox_store_result r = {0};
    if (mailbox_store_many(mu, mailbox, &uid, 1, op, flags, keywords, unchangedsince, keep_result,
                           &r, err) < 0)
        return -1;
    if (new_modseq)
        *new_modseq = r.modseq;
    if (result_flags)
        *result_flags = r.flags;
    if (result_keywords)
        *result_keywords = r.keywords;
    return r.result;
}

int mailbox_set_flags(struct mail_user *mu, const char *mailbox, uint32_t uid, uint32_t flags,
                      uint64_t *modseq, char **err)
{
    struct mailbox_store_result r = {0};
    struct store_op so = {.mailbox = mailbox, .uids = &uid, .n = 1, .op = MS_STORE_REPLACE,
                          .flags = flags, .keep_keywords = true};
    if (store_run(mu, &so, keep_result, &r, err) < 0)
        return -1;
    if (modseq)
        *modseq = r.modseq;
    return r.result != MS_STORE_NOUID;
}
