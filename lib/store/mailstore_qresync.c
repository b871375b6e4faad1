/* mailstore_qresync.c - what changed since a MODSEQ (CONDSTORE/QRESYNC, RFC 7162):
 * messages with a higher MODSEQ (FETCH CHANGEDSINCE, 3.1.4.1; the resync of SELECT
 * QRESYNC, 3.2.5) and UIDs expunged with a higher MODSEQ (VANISHED, 3.2.5.2, 3.2.10).
 *
 * mailbox_changed_since scans the mailbox's entries (there is no MODSEQ index: a read of
 * every entry, without touching files). mailbox_expunged_since reads the expunge log from
 * modseq + 1 on; UIDs come out sorted and merged into ranges. The log reaches back to the
 * mailbox's expunge_floor (the HIGHESTMODSEQ at which an index of version 1 was upgraded;
 * 0 for mailboxes made since): for an older modseq the caller is told the log is
 * incomplete and falls back to "every UID not in the mailbox" (3.2.5.2 allows reporting
 * UIDs that never existed). */
#include "mailstore_int.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

struct changed_ctx {
    uint64_t modseq;
    int (*fn)(void *ctx, const struct mailbox_msg *m);
    void *ctx;
    struct buf name;
    int result;
};

static int changed_one(void *arg, uint32_t uid, const struct msg_rec *r)
{
    struct changed_ctx *c = arg;
    if (r->modseq <= c->modseq)
        return 0;
    buf_reset(&c->name);
    buf_append(&c->name, r->name, r->namelen);
    struct mailbox_msg m = {.uid = uid, .flags = r->flags, .modseq = r->modseq, .size = r->size,
                            .vsize = r->vsize, .name = buf_cstr(&c->name),
                            .keywords = r->keywords, .internaldate = r->internaldate};
    c->result = c->fn(c->ctx, &m);
    return c->result != 0;
}

int mailbox_changed_since(struct mail_user *mu, const char *mailbox, uint64_t modseq,
                          int (*fn)(void *ctx, const struct mailbox_msg *m), void *ctx,
                          char **err)
{
    char *name;
    MDB_txn *txn;
    if (ms_read_begin(mu, mailbox, &name, &txn, err) < 0)
        return -1;
    struct changed_ctx c = {modseq, fn, ctx, BUF_INIT, 0};
    int rc = ms_msg_each(mu, txn, name, 1, changed_one, &c);
    mdb_txn_abort(txn);
    buf_free(&c.name);
    if (c.result == 0 && rc != 0)
        *err = xasprintf("%s: %s", name, ms_strerror(rc));
    free(name);
    return c.result ? c.result : rc ? -1 : 0;
}

static int uid_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The logged UIDs with MODSEQ > modseq, unsorted. */
static int log_since(struct mail_user *mu, MDB_txn *txn, const char *name, uint64_t modseq,
                     uint32_t **uids, size_t *n)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, mu->e->expunged, &cur);
    if (rc != 0)
        return rc;
    struct buf key = BUF_INIT;
    size_t plen = strlen(name) + 1;
    buf_append(&key, name, plen);
    ms_put_be(&key, modseq + 1, 8);
    MDB_val k = {key.len, key.data}, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size == plen + 12 && memcmp(k.mv_data, name, plen) == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        *uids = xreallocarray(*uids, *n + 1, sizeof **uids);
        (*uids)[(*n)++] = (uint32_t)ms_get_be((unsigned char *)k.mv_data + plen + 8, 4);
    }
    mdb_cursor_close(cur);
    buf_free(&key);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

/* Report sorted UIDs as ranges. */
static int ranges(const uint32_t *u, size_t n, int (*fn)(void *ctx, uint32_t first, uint32_t last),
                  void *ctx)
{
    int r = 0;
    for (size_t i = 0; r == 0 && i < n;) {
        size_t j = i;
        while (j + 1 < n && u[j + 1] <= u[j] + 1)
            j++;
        r = fn(ctx, u[i], u[j]);
        i = j + 1;
    }
    return r;
}

int mailbox_expunged_since(struct mail_user *mu, const char *mailbox, uint64_t modseq,
                           int (*fn)(void *ctx, uint32_t first, uint32_t last), void *ctx,
                           char **err)
{
    char *name;
    MDB_txn *txn;
    if (ms_read_begin(mu, mailbox, &name, &txn, err) < 0)
        return -1;
    struct mailbox_rec f;
    uint32_t *uids = NULL;
    size_t n = 0;
    int rc = ms_mailbox_peek(mu, txn, name, &f), complete = 1;
    if (rc == 0 && modseq < (f.v1 ? f.highestmodseq : f.expunge_floor))
        complete = 0;
    else if (rc == 0)
        rc = log_since(mu, txn, name, modseq, &uids, &n);
    mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND) /* no such mailbox: nothing was expunged from it */
        rc = 0;
    int r = rc ? -1 : complete;
    if (rc != 0)
        *err = xasprintf("%s: %s", name, ms_strerror(rc));
    else if (complete && n > 0) {
        qsort(uids, n, sizeof *uids, uid_cmp);
        int fr = ranges(uids, n, fn, ctx);
        r = fr ? fr : 1;
    }
    free(uids);
    free(name);
    return r;
}
