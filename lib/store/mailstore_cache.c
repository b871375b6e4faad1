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
    const struct mailbox_cache_entry *e;
    size_t n;
    size_t found;
};

static void cache_key(struct buf *key, const char *mailbox, uint32_t uid, unsigned field)
{
    ms_msg_key(key, mailbox, uid);
    buf_putc(key, (char)field);
}

static int put_one(struct mail_user *mu, MDB_txn *txn, const char *mailbox,
                   const struct mailbox_cache_entry *e, size_t *found)
{
    struct msg_rec m;
    int rc = ms_msg_get(mu, txn, mailbox, e->uid, &m);
    if (rc != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    ++*found;
    struct buf key = BUF_INIT, val = BUF_INIT;
    cache_key(&key, mailbox, e->uid, e->field);
    buf_putc(&val, MS_REC_VERSION);
    buf_append(&val, e->data, e->len);
    MDB_val k = {key.len, key.data}, v = {val.len, val.data};
    rc = mdb_put(txn, mu->e->cache, &k, &v, 0);
    buf_free(&key);
    buf_free(&val);
    return rc;
}

static int put_apply(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct cache_op *op = arg;
    int rc = 0;
    for (size_t i = 0; i < op->n && rc == 0; i++)
        rc = put_one(mu, txn, op->mailbox, &op->e[i], &op->found);
    return rc;
}

int mailbox_cache_put_many(struct mail_user *mu, const char *mailbox,
                           const struct mailbox_cache_entry *e, size_t n, char **err)
{
    for (size_t i = 0; i < n; i++)
        if (e[i].field > MS_CACHE_FIELD_MAX || e[i].len > MS_CACHE_SIZE_MAX) {
            *err = xasprintf("cache field %u of %zu bytes refused", e[i].field, e[i].len);
            return -1;
        }
    char *name = ms_mailbox_name(mailbox, err);
    if (!name)
        return -1;
    struct cache_op op = {name, e, n, 0};
    int rc = n ? ms_write_nosync(mu, put_apply, NULL, &op) : 0;
    if (rc != 0)
        *err = xasprintf("%s: %s", name, ms_strerror(rc));
    free(name);
    return rc ? -1 : (int)(op.found > 0);
}

int mailbox_cache_put(struct mail_user *mu, const char *mailbox, uint32_t uid, unsigned field,
                      const void *data, size_t len, char **err)
{
    struct mailbox_cache_entry e = {uid, field, data, len};
    return mailbox_cache_put_many(mu, mailbox, &e, 1, err);
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
