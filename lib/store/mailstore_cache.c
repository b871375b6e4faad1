/* mailstore_cache.c - a per-message cache of computed data (imapd keeps ENVELOPE and
 * BODYSTRUCTURE there): database "cache", key NAME "\0" UID(4, BE) FIELD(1), value u8 1 +
 * the bytes. The key starts like the message's key, so the blobs go with the message
 * (ms_msg_del) and move with its mailbox (RENAME). A put is one write transaction whose
 * commit is not synced on its own (the next synced commit carries it): the cache can
 * always be computed again. */
#include "mailstore_int.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

struct cache_op {
    const char *mailbox;
    uint32_t uid;
    unsigned field;
    const void *data;
    size_t len;
    bool found;
};

static void cache_key(struct buf *key, const char *mailbox, uint32_t uid, unsigned field)
{
    ms_msg_key(key, mailbox, uid);
    buf_putc(key, (char)field);
}

static int put_apply(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct cache_op *op = arg;
    struct msg_rec m;
    int rc = ms_msg_get(mu, txn, op->mailbox, op->uid, &m);
    op->found = rc == 0;
    if (rc != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    struct buf key = BUF_INIT, val = BUF_INIT;
    cache_key(&key, op->mailbox, op->uid, op->field);
    buf_putc(&val, MS_REC_VERSION);
    buf_append(&val, op->data, op->len);
    MDB_val k = {key.len, key.data}, v = {val.len, val.data};
    rc = mdb_put(txn, mu->e->cache, &k, &v, 0);
    buf_free(&key);
    buf_free(&val);
    return rc;
}

int mailbox_cache_put(struct mail_user *mu, const char *mailbox, uint32_t uid, unsigned field,
                      const void *data, size_t len, char **err)
{
    if (field > MS_CACHE_FIELD_MAX || len > MS_CACHE_SIZE_MAX) {
        *err = xasprintf("cache field %u of %zu bytes refused", field, len);
        return -1;
    }
    char *name = ms_mailbox_name(mailbox, err);
    if (!name)
        return -1;
    struct cache_op op = {name, uid, field, data, len, false};
    int rc = ms_write_nosync(mu, put_apply, NULL, &op);
    if (rc != 0)
        *err = xasprintf("%s: %s", name, ms_strerror(rc));
    free(name);
    return rc ? -1 : op.found;
}

int mailbox_cache_get(struct mail_user *mu, const char *mailbox, uint32_t uid, unsigned field,
                      void **data, size_t *len, char **err)
{
    char *name;
    MDB_txn *txn;
    if (field > MS_CACHE_FIELD_MAX) {
        *err = xasprintf("cache field %u refused", field);
        return -1;
    }
    if (ms_read_begin(mu, mailbox, &name, &txn, err) < 0)
        return -1;
    struct buf key = BUF_INIT;
    cache_key(&key, name, uid, field);
    MDB_val k = {key.len, key.data}, v;
    int rc = mdb_get(txn, mu->e->cache, &k, &v);
    if (rc == 0 && (v.mv_size < 1 || ((unsigned char *)v.mv_data)[0] != MS_REC_VERSION))
        rc = MS_RC_CORRUPT;
    if (rc == 0) {
        *len = v.mv_size - 1;
        *data = xmalloc(*len + 1);
        memcpy(*data, (char *)v.mv_data + 1, *len);
        ((char *)*data)[*len] = 0;
    }
    mdb_txn_abort(txn);
    buf_free(&key);
    if (rc != 0 && rc != MDB_NOTFOUND)
        *err = xasprintf("%s: %s", name, ms_strerror(rc));
    free(name);
    return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : -1;
}
