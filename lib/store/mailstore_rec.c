/* mailstore_rec.c - the index records (layout in mailstore_int.h and doc/mailstore.md):
 * mailbox and message records in version 2, with version 1 records still read (a v1
 * mailbox record is completed on read and written back as v2 by the next change to it),
 * the counters kept with every change, key prefixes (delete, re-key), the meta database
 * and the per-user unique UIDVALIDITY. */
#include "mailstore_int.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

void ms_put_le(struct buf *b, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        buf_putc(b, (char)(v >> (8 * i)));
}

uint64_t ms_get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

void ms_put_be(struct buf *b, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        buf_putc(b, (char)(v >> (8 * i)));
}

uint64_t ms_get_be(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

/* --- meta --- */

int ms_meta_get(struct mail_user *mu, MDB_txn *txn, const char *key, uint64_t *v)
{
    MDB_val k = {strlen(key), (void *)key}, d;
    int rc = mdb_get(txn, mu->e->meta, &k, &d);
    if (rc != 0)
        return rc;
    if (d.mv_size < 2 || d.mv_size > 9 || ((unsigned char *)d.mv_data)[0] != MS_REC_VERSION)
        return MS_RC_CORRUPT;
    *v = ms_get_le((unsigned char *)d.mv_data + 1, (int)d.mv_size - 1);
    return 0;
}

int ms_meta_put(struct mail_user *mu, MDB_txn *txn, const char *key, uint64_t v)
{
    struct buf b = BUF_INIT;
    buf_putc(&b, MS_REC_VERSION);
    ms_put_le(&b, v, 8);
    MDB_val k = {strlen(key), (void *)key}, d = {b.len, b.data};
    int rc = mdb_put(txn, mu->e->meta, &k, &d, 0);
    buf_free(&b);
    return rc;
}

/* --- mailbox records --- */

#define MAILBOX_V1_LEN (1 + 4 + 4 + 8 * 4)
#define MAILBOX_V2_LEN (MAILBOX_V1_LEN + 8 + 4 + 4 + 8)

/* RFC 3501 2.3.1.1: a mailbox created again (or another mailbox) must not reuse a
 * UIDVALIDITY. The creation time, but always above the last value given to this user, so
 * UIDVALIDITY is unique among all of the user's mailboxes, past and present (which also
 * lets RENAME keep it). */
int ms_mailbox_new(struct mail_user *mu, MDB_txn *txn, struct mailbox_rec *f)
{
    uint64_t last = 0;
    int rc = ms_meta_get(mu, txn, "uidvalidity", &last);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    uint32_t now = (uint32_t)time(NULL);
    memset(f, 0, sizeof *f);
    f->uidvalidity = now > last ? now : (uint32_t)last + 1;
    if (f->uidvalidity == 0)
        f->uidvalidity = 1;
    f->uidnext = 1;
    f->highestmodseq = 1; /* RFC 7162 3.1.1: MODSEQ values are positive */
    f->first_recent = 1;
    return ms_meta_put(mu, txn, "uidvalidity", f->uidvalidity);
}

int ms_mailbox_decode(const MDB_val *v, struct mailbox_rec *f)
{
    const unsigned char *p = v->mv_data;
    bool v1 = v->mv_size == MAILBOX_V1_LEN && p[0] == 1;
    if (!v1 && (v->mv_size != MAILBOX_V2_LEN || p[0] != MS_MAILBOX_VERSION))
        return MS_RC_CORRUPT;
    memset(f, 0, sizeof *f);
    f->uidvalidity = (uint32_t)ms_get_le(p + 1, 4);
    f->uidnext = (uint32_t)ms_get_le(p + 5, 4);
    f->highestmodseq = ms_get_le(p + 9, 8);
    f->messages = ms_get_le(p + 17, 8);
    f->size = ms_get_le(p + 25, 8);
    f->vsize = ms_get_le(p + 33, 8);
    if (v1) {
        f->unseen = UINT64_MAX;
        f->v1 = true;
        return 0;
    }
    f->unseen = ms_get_le(p + 41, 8);
    f->first_recent = (uint32_t)ms_get_le(p + 49, 4);
    f->special_use = (uint32_t)ms_get_le(p + 53, 4);
    f->expunge_floor = ms_get_le(p + 57, 8);
    return 0;
}

static int count_unseen(void *ctx, uint32_t uid, const struct msg_rec *m)
{
    *(uint64_t *)ctx += !(m->flags & MS_FLAG_SEEN);
    return 0;
}

/* A v1 record: count the unseen messages; nothing before now is in the expunge log; no
 * IMAP session has seen its messages, so all are \Recent (RFC 3501 2.3.2). */
static int upgrade_v1(struct mail_user *mu, MDB_txn *txn, const char *name, struct mailbox_rec *f)
{
    f->unseen = 0;
    f->first_recent = 1;
    f->special_use = 0;
    f->expunge_floor = f->highestmodseq;
    return ms_msg_each(mu, txn, name, 1, count_unseen, &f->unseen);
}

int ms_mailbox_peek(struct mail_user *mu, MDB_txn *txn, const char *name, struct mailbox_rec *f)
{
    MDB_val k = {strlen(name), (void *)name}, v;
    int rc = mdb_get(txn, mu->e->mailboxes, &k, &v);
    return rc != 0 ? rc : ms_mailbox_decode(&v, f);
}

int ms_mailbox_get(struct mail_user *mu, MDB_txn *txn, const char *name, struct mailbox_rec *f)
{
    int rc = ms_mailbox_peek(mu, txn, name, f);
    if (rc == 0 && f->v1)
        rc = upgrade_v1(mu, txn, name, f);
    return rc;
}

int ms_mailbox_put(struct mail_user *mu, MDB_txn *txn, const char *name, const struct mailbox_rec *f)
{
    struct buf b = BUF_INIT;
    buf_putc(&b, MS_MAILBOX_VERSION);
    ms_put_le(&b, f->uidvalidity, 4);
    ms_put_le(&b, f->uidnext, 4);
    ms_put_le(&b, f->highestmodseq, 8);
    ms_put_le(&b, f->messages, 8);
    ms_put_le(&b, f->size, 8);
    ms_put_le(&b, f->vsize, 8);
    ms_put_le(&b, f->unseen, 8);
    ms_put_le(&b, f->first_recent, 4);
    ms_put_le(&b, f->special_use, 4);
    ms_put_le(&b, f->expunge_floor, 8);
    MDB_val k = {strlen(name), (void *)name}, v = {b.len, b.data};
    int rc = mdb_put(txn, mu->e->mailboxes, &k, &v, 0);
    buf_free(&b);
    return rc;
}

int ms_mailbox_need(struct mail_user *mu, MDB_txn *txn, const char *name, struct mailbox_rec *f)
{
    int rc = ms_mailbox_get(mu, txn, name, f);
    if (rc != MDB_NOTFOUND)
        return rc;
    if (strcmp(name, "INBOX") != 0)
        return MS_RC_NONEXISTENT;
    rc = ms_mailbox_new(mu, txn, f);
    return rc ? rc : ms_mailbox_put(mu, txn, name, f);
}

static void sub_clamped(uint64_t *v, uint64_t d) { *v -= *v >= d ? d : *v; }

void ms_mailbox_count(struct mailbox_rec *f, const struct msg_rec *m, bool add)
{
    bool unseen = !(m->flags & MS_FLAG_SEEN);
    if (add) {
        f->messages++;
        f->size += m->size;
        f->vsize += m->vsize;
        f->unseen += unseen;
        return;
    }
    sub_clamped(&f->messages, 1);
    sub_clamped(&f->size, m->size);
    sub_clamped(&f->vsize, m->vsize);
    sub_clamped(&f->unseen, unseen);
}

long long ms_usage_txn(struct mail_user *mu, MDB_txn *txn, int *rc)
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
        if ((r = ms_mailbox_decode(&v, &f)) != 0) /* the size is all it needs: no upgrade */
            break;
        total += (long long)f.size;
    }
    mdb_cursor_close(cur);
    *rc = r == MDB_NOTFOUND ? 0 : r;
    return *rc ? -1 : total;
}

/* --- message records --- */

#define MSG_V1_HEAD (1 + 4 + 8 * 3)
#define MSG_V2_HEAD (MSG_V1_HEAD + 8 + 8)

void ms_msg_key(struct buf *key, const char *mailbox, uint32_t uid)
{
    buf_reset(key);
    buf_append(key, mailbox, strlen(mailbox) + 1); /* with its NUL */
    ms_put_be(key, uid, 4);                       /* big-endian: keys sort by UID */
}

uint32_t ms_msg_key_uid(const MDB_val *key, const char *mailbox)
{
    size_t n = strlen(mailbox) + 1;
    const unsigned char *p = key->mv_data;
    if (key->mv_size != n + 4 || memcmp(p, mailbox, n) != 0)
        return 0;
    return (uint32_t)ms_get_be(p + n, 4);
}

int ms_msg_decode(const MDB_val *v, struct msg_rec *m)
{
    const unsigned char *p = v->mv_data;
    size_t head = v->mv_size > 0 && p[0] == 1 ? MSG_V1_HEAD : MSG_V2_HEAD;
    if (v->mv_size <= head || (p[0] != 1 && p[0] != MS_MSG_VERSION))
        return MS_RC_CORRUPT;
    m->flags = (uint32_t)ms_get_le(p + 1, 4);
    m->modseq = ms_get_le(p + 5, 8);
    m->size = ms_get_le(p + 13, 8);
    m->vsize = ms_get_le(p + 21, 8);
    m->name = (const char *)p + head;
    m->namelen = v->mv_size - head;
    if (memchr(m->name, '/', m->namelen) || memchr(m->name, 0, m->namelen))
        return MS_RC_CORRUPT;
    if (head == MSG_V2_HEAD) {
        m->keywords = ms_get_le(p + 29, 8);
        m->internaldate = ms_get_le(p + 37, 8);
    } else { /* v1: no keywords; delivered when its name says (Maildir: SECONDS.) */
        m->keywords = 0;
        m->internaldate = ms_name_time(m->name, m->namelen);
    }
    return 0;
}

int ms_msg_get(struct mail_user *mu, MDB_txn *txn, const char *mailbox, uint32_t uid, struct msg_rec *m)
{
    struct buf key = BUF_INIT;
    ms_msg_key(&key, mailbox, uid);
    MDB_val k = {key.len, key.data}, v;
    int rc = mdb_get(txn, mu->e->messages, &k, &v);
    buf_free(&key);
    return rc != 0 ? rc : ms_msg_decode(&v, m);
}

int ms_msg_put(struct mail_user *mu, MDB_txn *txn, const char *mailbox, uint32_t uid, const struct msg_rec *m)
{
    struct buf key = BUF_INIT, b = BUF_INIT;
    ms_msg_key(&key, mailbox, uid);
    buf_putc(&b, MS_MSG_VERSION);
    ms_put_le(&b, m->flags, 4);
    ms_put_le(&b, m->modseq, 8);
    ms_put_le(&b, m->size, 8);
    ms_put_le(&b, m->vsize, 8);
    ms_put_le(&b, m->keywords, 8);
    ms_put_le(&b, m->internaldate, 8);
    buf_append(&b, m->name, m->namelen);
    MDB_val k = {key.len, key.data}, v = {b.len, b.data};
    int rc = mdb_put(txn, mu->e->messages, &k, &v, 0);
    buf_free(&key);
    buf_free(&b);
    return rc;
}

int ms_msg_del(struct mail_user *mu, MDB_txn *txn, const char *mailbox, uint32_t uid)
{
    struct buf key = BUF_INIT;
    ms_msg_key(&key, mailbox, uid);
    MDB_val k = {key.len, key.data};
    int rc = mdb_del(txn, mu->e->messages, &k, NULL);
    if (rc == 0) /* the cache keys start like the message key */
        rc = ms_del_prefix(txn, mu->e->cache, key.data, key.len);
    buf_free(&key);
    return rc;
}

int ms_msg_each(struct mail_user *mu, MDB_txn *txn, const char *mailbox, uint32_t first,
                int (*fn)(void *ctx, uint32_t uid, const struct msg_rec *m), void *ctx)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, mu->e->messages, &cur), result = 0;
    if (rc != 0)
        return rc;
    struct buf key = BUF_INIT;
    ms_msg_key(&key, mailbox, first);
    MDB_val k = {key.len, key.data}, v;
    uint32_t uid;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         rc == 0 && result == 0 && (uid = ms_msg_key_uid(&k, mailbox)) != 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct msg_rec m;
        if ((rc = ms_msg_decode(&v, &m)) != 0)
            break;
        result = fn(ctx, uid, &m);
    }
    mdb_cursor_close(cur);
    buf_free(&key);
    if (result != 0)
        return result;
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

/* --- prefixes --- */

int ms_del_prefix(MDB_txn *txn, MDB_dbi dbi, const void *prefix, size_t len)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0)
        return rc;
    for (;;) { /* seek again after each delete: simple and O(log n) */
        MDB_val k = {len, (void *)prefix}, v;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc != 0 || k.mv_size < len || memcmp(k.mv_data, prefix, len) != 0)
            break;
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

/* The entries are copied out first: a cursor must not run over keys it is adding. */
int ms_move_prefix(MDB_txn *txn, MDB_dbi dbi, const char *from, const char *to)
{
    size_t fl = strlen(from) + 1, tl = strlen(to) + 1;
    struct buf keys = BUF_INIT, vals = BUF_INIT;
    size_t n = 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    MDB_val k = {fl, (void *)from}, v;
    for (rc = rc ? rc : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size >= fl && memcmp(k.mv_data, from, fl) == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), n++) {
        ms_put_le(&keys, k.mv_size - fl, 4);
        buf_append(&keys, (char *)k.mv_data + fl, k.mv_size - fl);
        ms_put_le(&vals, v.mv_size, 4);
        buf_append(&vals, v.mv_data, v.mv_size);
    }
    if (rc == 0 || rc == MDB_NOTFOUND)
        rc = n ? ms_del_prefix(txn, dbi, from, fl) : 0;
    if (cur)
        mdb_cursor_close(cur);
    struct buf nk = BUF_INIT;
    for (size_t i = 0, ko = 0, vo = 0; rc == 0 && i < n; i++) {
        size_t kl = ms_get_le((unsigned char *)keys.data + ko, 4), vl = ms_get_le((unsigned char *)vals.data + vo, 4);
        buf_reset(&nk);
        buf_append(&nk, to, tl);
        buf_append(&nk, keys.data + ko + 4, kl);
        MDB_val k2 = {nk.len, nk.data}, v2 = {vl, vals.data + vo + 4};
        rc = mdb_put(txn, dbi, &k2, &v2, 0);
        ko += 4 + kl;
        vo += 4 + vl;
    }
    buf_free(&nk);
    buf_free(&keys);
    buf_free(&vals);
    return rc;
}
