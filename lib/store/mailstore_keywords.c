/* mailstore_keywords.c - keyword tables (RFC 3501 2.3.2 "keywords", RFC 9051 2.3.2).
 *
 * Each mailbox has up to MS_KEYWORDS_MAX keywords, database "keywords", key NAME "\0"
 * INDEX(1), value u8 1 + the keyword as first given; messages carry a 64-bit mask of
 * indices. Names compare case-insensitively (RFC 3501 2.3.2: keywords are atoms, and
 * flags are case-insensitive). Indices are never reused within a mailbox.
 *
 * Keywords 0..25 also appear in cur/ file names as a..z, so the folder directory holds a
 * Dovecot-compatible "dovecot-keywords" file: lines "N name" for N = 0..25. The index is
 * authoritative; the file is rewritten from the table (atomically, synced) in the write
 * transaction that adds a keyword below 26, before any file name can use its letter, and
 * mailbox_sync() adopts names that another program (Dovecot) added to the file. */
#include "fileio.h"
#include "mailstore_int.h"
#include "mem.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define KEYWORDS_FILE "dovecot-keywords"
#define KEYWORDS_FILE_MAX 65536

bool mailbox_keyword_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > MS_KEYWORD_LEN_MAX)
        return false;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p <= ' ' || *p >= 0x7f || strchr("(){%*\"\\],", *p))
            return false;
    return true;
}

static void kw_key(struct buf *key, const char *mailbox, int idx)
{
    buf_reset(key);
    buf_append(key, mailbox, strlen(mailbox) + 1);
    if (idx >= 0)
        buf_putc(key, (char)idx);
}

int ms_keywords_load(struct mail_user *mu, MDB_txn *txn, const char *mailbox, struct ms_keywords *k)
{
    memset(k, 0, sizeof *k);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, mu->e->keywords, &cur);
    if (rc != 0)
        return rc;
    struct buf key = BUF_INIT;
    kw_key(&key, mailbox, -1);
    MDB_val kv = {key.len, key.data}, v;
    for (rc = mdb_cursor_get(cur, &kv, &v, MDB_SET_RANGE);
         rc == 0 && kv.mv_size == key.len + 1 && memcmp(kv.mv_data, key.data, key.len) == 0;
         rc = mdb_cursor_get(cur, &kv, &v, MDB_NEXT)) {
        unsigned idx = ((unsigned char *)kv.mv_data)[key.len];
        const unsigned char *p = v.mv_data;
        if (idx >= MS_KEYWORDS_MAX || v.mv_size < 2 || p[0] != MS_REC_VERSION) {
            rc = MS_RC_CORRUPT;
            break;
        }
        k->name[idx] = xstrndup((const char *)p + 1, v.mv_size - 1);
    }
    mdb_cursor_close(cur);
    buf_free(&key);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return 0;
    ms_keywords_free(k);
    return rc;
}

void ms_keywords_free(struct ms_keywords *k)
{
    for (int i = 0; i < MS_KEYWORDS_MAX; i++) {
        free(k->name[i]);
        k->name[i] = NULL;
    }
}

int ms_keyword_find(const struct ms_keywords *k, const char *name)
{
    for (int i = 0; i < MS_KEYWORDS_MAX; i++)
        if (k->name[i] && strcasecmp(k->name[i], name) == 0)
            return i;
    return -1;
}

uint64_t ms_keywords_mask(const struct ms_keywords *k)
{
    uint64_t m = 0;
    for (int i = 0; i < MS_KEYWORDS_MAX; i++)
        if (k->name[i])
            m |= UINT64_C(1) << i;
    return m;
}

/* The first free index: after the highest used one, so that indices are not reused. */
static int free_index(const struct ms_keywords *k)
{
    int i = MS_KEYWORDS_MAX;
    while (i > 0 && !k->name[i - 1])
        i--;
    return i < MS_KEYWORDS_MAX ? i : -1;
}

int ms_keyword_put(struct mail_user *mu, MDB_txn *txn, const char *mailbox, struct ms_keywords *k,
                   const char *name, int at, unsigned *idx)
{
    if (at < 0 && (at = free_index(k)) < 0)
        return MS_RC_LIMIT;
    if (at >= MS_KEYWORDS_MAX || k->name[at])
        return MS_RC_LIMIT;
    struct buf key = BUF_INIT, val = BUF_INIT;
    kw_key(&key, mailbox, at);
    buf_putc(&val, MS_REC_VERSION);
    buf_puts(&val, name);
    MDB_val kv = {key.len, key.data}, v = {val.len, val.data};
    int rc = mdb_put(txn, mu->e->keywords, &kv, &v, 0);
    buf_free(&key);
    buf_free(&val);
    if (rc == 0) {
        k->name[at] = xstrdup(name);
        *idx = (unsigned)at;
    }
    return rc;
}

/* --- the dovecot-keywords file --- */

int ms_keywords_read_file(const char *dir, struct ms_keywords *k)
{
    memset(k, 0, sizeof *k);
    char *path = xasprintf("%s/" KEYWORDS_FILE, dir);
    struct buf b = BUF_INIT;
    int rc = read_file(path, KEYWORDS_FILE_MAX, &b) < 0 ? errno : 0;
    free(path);
    if (rc == ENOENT)
        rc = 0;
    char *save = NULL;
    for (char *line = rc ? NULL : strtok_r((char *)buf_cstr(&b), "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *sp = strchr(line, ' '), *end;
        long idx = strtol(line, &end, 10);
        if (!sp || end != sp || idx < 0 || idx >= MS_LETTER_KEYWORDS || k->name[idx])
            continue; /* not a "N name" line: skip, as Dovecot does */
        if (mailbox_keyword_valid(sp + 1) && ms_keyword_find(k, sp + 1) < 0)
            k->name[idx] = xstrdup(sp + 1);
    }
    buf_free(&b);
    return rc;
}

static void file_text(const struct ms_keywords *k, struct buf *out)
{
    for (int i = 0; i < MS_LETTER_KEYWORDS; i++)
        if (k->name[i])
            buf_printf(out, "%d %s\n", i, k->name[i]);
}

int ms_keywords_write_file(const char *dir, const struct ms_keywords *k)
{
    char *path = xasprintf("%s/" KEYWORDS_FILE, dir);
    struct buf want = BUF_INIT, have = BUF_INIT;
    file_text(k, &want);
    int rc = 0;
    bool exists = read_file(path, KEYWORDS_FILE_MAX, &have) == 0;
    if ((exists || want.len > 0) && (!exists || want.len != have.len ||
                                     memcmp(want.data, have.data, want.len) != 0)) {
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            rc = errno;
        else if (write_file_atomic(path, want.data ? want.data : "", want.len, 0600) < 0)
            rc = errno ? errno : EIO;
    }
    buf_free(&want);
    buf_free(&have);
    free(path);
    return rc;
}

int ms_keywords_map(struct mail_user *mu, MDB_txn *txn, const char *dst, const struct ms_keywords *from,
                    struct ms_keywords *to, uint64_t mask, uint64_t *out)
{
    *out = 0;
    for (int i = 0; i < MS_KEYWORDS_MAX; i++) {
        if (!(mask & (UINT64_C(1) << i)) || !from->name[i])
            continue;
        int j = ms_keyword_find(to, from->name[i]);
        unsigned idx;
        if (j < 0) {
            int rc = ms_keyword_put(mu, txn, dst, to, from->name[i], -1, &idx);
            if (rc != 0)
                return rc;
            j = (int)idx;
        }
        *out |= UINT64_C(1) << j;
    }
    return 0;
}

/* --- the API --- */

struct kw_op {
    const char *mailbox;
    const char *const *names;
    size_t n;
    uint64_t mask;
};

static int add_apply(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct kw_op *op = arg;
    struct mailbox_rec f;
    struct ms_keywords k;
    int rc = ms_mailbox_need(mu, txn, op->mailbox, &f);
    if (rc != 0 || (rc = ms_keywords_load(mu, txn, op->mailbox, &k)) != 0)
        return rc;
    op->mask = 0;
    bool added = false;
    for (size_t i = 0; rc == 0 && i < op->n; i++) {
        int j = ms_keyword_find(&k, op->names[i]);
        unsigned idx = (unsigned)j;
        if (j < 0 && (rc = ms_keyword_put(mu, txn, op->mailbox, &k, op->names[i], -1, &idx)) == 0)
            added = true;
        op->mask |= rc == 0 ? UINT64_C(1) << idx : 0;
    }
    if (rc == 0 && added) {
        char *dir = ms_mailbox_dir(mu, op->mailbox);
        rc = ms_keywords_write_file(dir, &k);
        free(dir);
    }
    ms_keywords_free(&k);
    return rc;
}

enum mailstore_result mailbox_keywords_add(struct mail_user *mu, const char *mailbox,
                                           const char *const *names, size_t n,
                                           uint64_t *mask, char **err)
{
    for (size_t i = 0; i < n; i++)
        if (!mailbox_keyword_valid(names[i])) {
            *err = xasprintf("invalid keyword \"%s\"", names[i]);
            return MS_INVALID;
        }
    char *name = ms_mailbox_name(mailbox, err);
    if (!name)
        return MS_INVALID;
    struct kw_op op = {.mailbox = name, .names = names, .n = n};
    int rc = ms_write(mu, add_apply, NULL, &op);
    enum mailstore_result r = ms_result(rc, name, err);
    if (r == MS_OK)
        *mask = op.mask;
    free(name);
    return r;
}

/* Load mailbox's table in a read snapshot: 0, or -1 with *err. */
static int read_table(struct mail_user *mu, const char *mailbox, struct ms_keywords *k, char **err)
{
    char *name;
    MDB_txn *txn;
    if (ms_read_begin(mu, mailbox, &name, &txn, err) < 0)
        return -1;
    int rc = ms_keywords_load(mu, txn, name, k);
    mdb_txn_abort(txn);
    if (rc != 0)
        *err = xasprintf("%s: %s", name, ms_strerror(rc));
    free(name);
    return rc ? -1 : 0;
}

int mailbox_keywords_lookup(struct mail_user *mu, const char *mailbox, const char *const *names,
                            size_t n, uint64_t *mask, char **err)
{
    struct ms_keywords k;
    if (read_table(mu, mailbox, &k, err) < 0)
        return -1;
    *mask = 0;
    for (size_t i = 0; i < n; i++) {
        int j = ms_keyword_find(&k, names[i]);
        if (j >= 0)
            *mask |= UINT64_C(1) << j;
    }
    ms_keywords_free(&k);
    return 0;
}

int mailbox_keywords(struct mail_user *mu, const char *mailbox,
                     int (*fn)(void *ctx, unsigned index, const char *name), void *ctx,
                     char **err)
{
    struct ms_keywords k;
    if (read_table(mu, mailbox, &k, err) < 0)
        return -1;
    int r = 0;
    for (unsigned i = 0; r == 0 && i < MS_KEYWORDS_MAX; i++)
        if (k.name[i])
            r = fn(ctx, i, k.name[i]);
    ms_keywords_free(&k);
    return r;
}
