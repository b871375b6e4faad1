/* mailstore_once.c - exactly-once delivery (see mailbox_deliver_once in mailstore.h):
 * the delivery records of the index and the pending note that covers a killed writer.
 *
 * Records (database "delivered"): key BORN (u64 big-endian, so records sort by age) + ID,
 * value u8 1, u32 UID, mailbox name. A record counts only while its message is still in
 * the mailbox (entry and file); it is pruned once BORN + keep lies in the past.
 *
 * The pending note. Delivery renames the file into new/ inside the write transaction and
 * then commits. A writer killed between the two (kill -9, OOM) leaves a file in new/
 * without an entry or a delivery record: the repeated request would deliver a second copy.
 * So just before the rename the writer notes in INDEX-pending (one pwrite, no sync: a
 * killed process loses nothing the kernel has) the transaction ID it is about to commit
 * and what it is adding. LMDB transaction IDs advance only on commit, so when the next
 * write transaction (any writer, any process: ms_write_nosync calls ms_pending_recover)
 * has the same ID as the note, that commit never happened; if the noted file is in the
 * mailbox, it is indexed now with its delivery record, as the dead writer would have.
 * After a system crash the note can be stale or torn: a checksum, the mailbox's
 * UIDVALIDITY and the file's presence guard against acting on it wrongly, and in that case
 * mailbox_sync() indexes the file anyway (the documented duplicate of a system crash). */
#include "fileio.h"
#include "mailstore_int.h"
#include "mem.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ONCE_PRUNE_MAX 4    /* expired delivery records removed per delivery */
#define PENDING_MAX 2048    /* bytes of a pending note */
#define PENDING_VERSION 1

/* --- delivery records --- */

void ms_once_key(struct buf *key, const struct delivery_once *o)
{
    uint64_t born = o->born > 0 ? (uint64_t)o->born : 0;
    buf_reset(key);
    for (int i = 7; i >= 0; i--)
        buf_putc(key, (char)(born >> (8 * i)));
    buf_puts(key, o->id);
}

int ms_once_find(struct mail_user *mu, MDB_txn *txn, const struct buf *key, uint32_t *uid,
                 char **path)
{
    MDB_val k = {key->len, key->data}, v;
    int rc = mdb_get(txn, mu->e->delivered, &k, &v);
    if (rc != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    const unsigned char *p = v.mv_data;
    if (v.mv_size < 6 || p[0] != MS_REC_VERSION || memchr(p + 5, 0, v.mv_size - 5))
        return 0; /* unreadable record: deliver (and overwrite it) rather than drop mail */
    uint32_t u = (uint32_t)p[1] | (uint32_t)p[2] << 8 | (uint32_t)p[3] << 16 | (uint32_t)p[4] << 24;
    char *mailbox = xstrndup((const char *)p + 5, v.mv_size - 5);
    struct msg_rec m;
    rc = ms_msg_get(mu, txn, mailbox, u, &m);
    if (rc == 0) {
        char *dir = ms_mailbox_dir(mu, mailbox);
        *path = ms_locate(dir, m.name, m.namelen, m.flags, m.keywords);
        rc = *path ? MS_RC_DUPLICATE : errno == ENOENT ? 0 : errno ? errno : EIO;
        free(dir);
    } else if (rc == MDB_NOTFOUND) {
        rc = 0; /* expunged, or its rename did not survive a system crash */
    }
    free(mailbox);
    if (rc == MS_RC_DUPLICATE)
        *uid = u;
    return rc;
}

int ms_once_put(struct mail_user *mu, MDB_txn *txn, const void *key, size_t keylen, uint32_t uid,
                const char *mailbox)
{
    struct buf b = BUF_INIT;
    buf_putc(&b, MS_REC_VERSION);
    for (int i = 0; i < 4; i++)
        buf_putc(&b, (char)(uid >> (8 * i)));
    buf_puts(&b, mailbox);
    MDB_val k = {keylen, (void *)key}, v = {b.len, b.data};
    int rc = mdb_put(txn, mu->e->delivered, &k, &v, 0);
    buf_free(&b);
    return rc;
}

/* Oldest first, at most ONCE_PRUNE_MAX: the table stays as long as one keep period of
 * traffic, for one cursor step per delivery. */
int ms_once_prune(struct mail_user *mu, MDB_txn *txn, long long keep)
{
    long long limit = (long long)time(NULL) - keep;
    if (keep <= 0 || limit <= 0)
        return 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, mu->e->delivered, &cur);
    if (rc != 0)
        return rc;
    MDB_val k, v;
    for (int n = 0; rc == 0 && n < ONCE_PRUNE_MAX; n++) {
        if ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) != 0)
            break;
        const unsigned char *p = k.mv_data;
        uint64_t born = 0;
        for (size_t i = 0; i < 8 && i < k.mv_size; i++)
            born = born << 8 | p[i];
        if (k.mv_size >= 8 && born >= (uint64_t)limit)
            break;
        rc = mdb_cursor_del(cur, 0);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* --- the pending note: u8 1, u64 txnid, u32 uidvalidity, u32 uid, u64 size, u64 vsize,
 * u16 mailbox, name and key lengths, the three strings, u32 FNV-1a of all before --- */

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    while (n--)
        h = (h ^ *p++) * 16777619u;
    return h;
}

static void put_le(struct buf *b, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        buf_putc(b, (char)(v >> (8 * i)));
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int pending_fd(struct mail_user *mu)
{
    if (mu->e->pending_fd < 0) {
        char *path = xasprintf("%s-pending", mu->index);
        mu->e->pending_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        free(path);
    }
    return mu->e->pending_fd;
}

int ms_pending_note(struct mail_user *mu, const struct ms_pending *p)
{
    size_t fl = strlen(p->mailbox), nl = strlen(p->name);
    if (fl > 0xffff || nl > 0xffff || p->keylen > 0xffff)
        return EINVAL;
    struct buf b = BUF_INIT;
    buf_putc(&b, PENDING_VERSION);
    put_le(&b, p->txnid, 8);
    put_le(&b, p->uidvalidity, 4);
    put_le(&b, p->uid, 4);
    put_le(&b, p->size, 8);
    put_le(&b, p->vsize, 8);
    put_le(&b, fl, 2);
    put_le(&b, nl, 2);
    put_le(&b, p->keylen, 2);
    buf_append(&b, p->mailbox, fl);
    buf_append(&b, p->name, nl);
    buf_append(&b, p->key, p->keylen);
    put_le(&b, fnv1a((const unsigned char *)b.data, b.len), 4);
    int fd = pending_fd(mu), rc = 0;
    if (fd < 0 || b.len > PENDING_MAX || pwrite(fd, b.data, b.len, 0) != (ssize_t)b.len)
        rc = errno ? errno : EIO;
    buf_free(&b);
    return rc;
}

/* Decode a note read from the file; false when it is not a complete, intact note. */
static bool pending_decode(const unsigned char *d, size_t n, struct ms_pending *p)
{
    enum { HEAD = 1 + 8 + 4 + 4 + 8 + 8 + 2 + 2 + 2 };
    if (n < HEAD + 4 || d[0] != PENDING_VERSION)
        return false;
    size_t fl = get_le(d + 33, 2), nl = get_le(d + 35, 2), kl = get_le(d + 37, 2);
    size_t total = HEAD + fl + nl + kl;
    if (total + 4 > n || get_le(d + total, 4) != fnv1a(d, total) || fl == 0 || nl == 0)
        return false;
    p->txnid = get_le(d + 1, 8);
    p->uidvalidity = (uint32_t)get_le(d + 9, 4);
    p->uid = (uint32_t)get_le(d + 13, 4);
    p->size = get_le(d + 17, 8);
    p->vsize = get_le(d + 25, 8);
    p->mailbox = xstrndup((const char *)d + HEAD, fl);
    p->name = xstrndup((const char *)d + HEAD + fl, nl);
    p->key = d + HEAD + fl + nl;
    p->keylen = kl;
    return !strchr(p->name, '/') && strlen(p->mailbox) == fl && strlen(p->name) == nl;
}

/* The noted file is in the mailbox without an entry: index it as its writer would have. */
static int pending_apply(struct mail_user *mu, MDB_txn *txn, const struct ms_pending *p)
{
    struct mailbox_rec f;
    int rc = ms_mailbox_get(mu, txn, p->mailbox, &f);
    if (rc == MDB_NOTFOUND) { /* the dead transaction would have created it */
        if ((rc = ms_mailbox_new(mu, txn, &f)) != 0)
            return rc;
        f.uidvalidity = p->uidvalidity;
    } else if (rc != 0) {
        return rc;
    }
    if (f.uidvalidity != p->uidvalidity || f.uidnext != p->uid)
        return 0; /* not the state the note was written in */
    char *dir = ms_mailbox_dir(mu, p->mailbox);
    char *path = xasprintf("%s/new/%s", dir, p->name);
    bool there = access(path, F_OK) == 0;
    free(path);
    free(dir);
    if (!there)
        return 0; /* the rename never happened (or the file moved on: sync handles it) */
    struct msg_rec m = {.flags = 0, .modseq = ++f.highestmodseq, .size = p->size,
                        .vsize = p->vsize, .name = p->name, .namelen = strlen(p->name),
                        .internaldate = ms_name_time(p->name, strlen(p->name))};
    uint32_t uid = f.uidnext++;
    ms_mailbox_count(&f, &m, true);
    if ((rc = ms_msg_put(mu, txn, p->mailbox, uid, &m)) == 0 &&
        (rc = ms_mailbox_put(mu, txn, p->mailbox, &f)) == 0 && p->keylen)
        rc = ms_once_put(mu, txn, p->key, p->keylen, uid, p->mailbox);
    return rc;
}

int ms_pending_recover(struct mail_user *mu, MDB_txn *txn)
{
    int fd = pending_fd(mu);
    if (fd < 0)
        return 0; /* no note can exist where it cannot be created */
    unsigned char d[PENDING_MAX];
    ssize_t n = pread(fd, d, sizeof d, 0);
    struct ms_pending p = {0};
    if (n <= 0 || !pending_decode(d, (size_t)n, &p) || p.txnid != mdb_txn_id(txn)) {
        free((char *)p.mailbox);
        free((char *)p.name);
        return n < 0 ? errno : 0;
    }
    int rc = pending_apply(mu, txn, &p);
    free((char *)p.mailbox);
    free((char *)p.name);
    return rc;
}
