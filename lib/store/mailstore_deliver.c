/* mailstore_deliver.c - delivery into a Maildir with its index, and IMAP APPEND, which is
 * the same with flags, keywords and INTERNALDATE and without creating the mailbox
 * (mailstore_append.c; see mailstore.h).
 *
 * Steps: one read snapshot for the quota check and, with exactly-once delivery, the lookup
 * of an earlier copy; write tmp/UNIQUE (O_EXCL, 0600) through fill(); fsync and close it;
 * measure its size and CRLF size; then in one LMDB write transaction: quota check and
 * lookup again, prune a few expired delivery records, UID = UIDNEXT++, MODSEQ =
 * ++HIGHESTMODSEQ, counters, the message record, the delivery record, rename tmp/UNIQUE ->
 * new/UNIQUE,S=size,W=vsize (never replacing), commit. Write transactions are serialised
 * across processes, so UIDs follow rename order (doc/architecture.md, "Store"). After the commit, with
 * the writer lock released, new/ is fsynced and the index synced (the meta page
 * MDB_NOMETASYNC left unsynced: ms_sync_txn, a no-op when a later commit of another
 * delivery has synced it already); only then is the result MS_OK, unless the handle's
 * syncs are deferred (mail_user_defer_syncs: imapd's APPEND, whose reply then waits for
 * them on another thread, doc/imapd.md "Writes and durability"). Keeping the syncs out
 * of the critical section lets the deliveries of concurrent processes to one mailbox
 * overlap: the file system then batches their syncs into one journal commit, where inside
 * the lock every delivery paid three syncs one after the other. The commit itself still
 * syncs the data pages once, inside the lock: that is what keeps the LMDB file consistent
 * (MDB_NOSYNC would let a system crash corrupt it).
 *
 * Crash consistency (a system crash; a killed process loses nothing the kernel has):
 *  - rename durable, index commit not: the file is in new/ without an entry; mailbox_sync()
 *    indexes it. The delivery was not reported, so it is repeated: with exactly-once
 *    delivery its record is gone too, so this is the one case that leaves a duplicate.
 *  - index commit durable, rename not: an entry without a file; mailbox_sync() drops it,
 *    and a repeated exactly-once delivery checks that the recorded file exists, so it
 *    delivers again instead of trusting the record.
 *  - both durable: a repeated request finds the record and the file and writes nothing.
 * If the commit fails the file is moved back and removed. If a sync after the commit
 * fails the message stays (it is in the mailbox) and the result is MS_TEMPFAIL; a
 * repeated exactly-once delivery then syncs again and reports the first copy.
 * File names follow the Maildir convention "SECONDS.M<usec>P<pid>Q<n>.HOST" plus
 * Dovecot's ",S=" and ",W=" size fields. An APPENDed message with flags or keywords goes
 * to cur/UNIQUE,S=..,W=..:2,LETTERS instead of new/ (the pending note, which covers
 * exactly-once delivery, is not written for it), and its file's mtime is its
 * INTERNALDATE, as Dovecot keeps it. */
#include "fileio.h"
#include "mailstore_int.h"
#include "mem.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MS_NAME_TRIES 20

struct deliver_op {
    struct ms_deliver_args *a;
    const char *mailbox;
    struct buf once_key; /* BORN (8, big-endian) + id */
    char *dir, *tmp_path, *unique;
    char *target, *targetdir; /* new/NAME or cur/NAME:2,LETTERS, and its directory */
    char *dup_path;           /* MS_RC_DUPLICATE: the file of the first copy */
    uint64_t size, vsize, sec;
    uint32_t uid;
    size_t txnid; /* of the write transaction */
    bool renamed, committed;
    bool duplicate; /* the write transaction found an earlier copy */
};

long long mail_user_usage(struct mail_user *mu)
{
    MDB_txn *txn;
    int rc;
    if (ms_begin(mu, false, &txn) != 0)
        return -1;
    long long u = ms_usage_txn(mu, txn, &rc);
    mdb_txn_abort(txn);
    return u;
}

long long ms_vsize_fd(int fd)
{
    char b[65536];
    long long n = 0;
    off_t off = 0;
    char prev = 0;
    for (;;) {
        ssize_t r = pread(fd, b, sizeof b, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return n;
        for (ssize_t i = 0; i < r; i++) {
            if (b[i] == '\n' && prev != '\r')
                n++; /* a bare LF becomes CRLF */
            prev = b[i];
        }
        n += r;
        off += r;
    }
}

/* --- the write transaction --- */

static int rename_target(struct deliver_op *op)
{
    if (renameat2(AT_FDCWD, op->tmp_path, AT_FDCWD, op->target, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != ENOENT || ms_make_maildir(op->dir, strcmp(op->mailbox, "INBOX") != 0) < 0)
        return errno ? errno : EIO;
    /* new/ or cur/ had been removed: created again (a missing tmp file fails again) */
    if (renameat2(AT_FDCWD, op->tmp_path, AT_FDCWD, op->target, RENAME_NOREPLACE) == 0)
        return 0;
    return errno ? errno : EIO;
}

/* Where the file goes: new/ for delivery, cur/ for an APPEND with flags or keywords. */
static void set_target(struct deliver_op *op, const struct msg_rec *m)
{
    free(op->target);
    free(op->targetdir);
    char *base = op->a->keep_name ? xstrdup(op->a->keep_name)
                 : xasprintf("%s,S=%llu,W=%llu", op->unique, (unsigned long long)op->size,
                             (unsigned long long)op->vsize);
    if (m->flags || (m->keywords & MS_LETTER_MASK) || op->a->keep_cur)
        op->target = ms_cur_path(op->dir, base, strlen(base), m->flags, m->keywords);
    else
        op->target = xasprintf("%s/new/%s", op->dir, base);
    op->targetdir = xstrndup(op->target, (size_t)(strrchr(op->target, '/') - op->target));
    free(base);
}

/* An earlier copy first: a delivered message is reported even when over quota now. Found
 * here (written by a concurrent or killed writer), the transaction still commits, keeping
 * what ms_pending_recover may have repaired in it. Then a few expired records go. */
static int once_check(struct mail_user *mu, MDB_txn *txn, struct deliver_op *op)
{
    free(op->dup_path); /* from an attempt that had to grow the map */
    op->dup_path = NULL;
    int rc = ms_once_find(mu, txn, &op->once_key, &op->uid, &op->dup_path);
    if (rc == MS_RC_DUPLICATE) {
        op->duplicate = true;
        return MS_RC_DUPLICATE;
    }
    return rc ? rc : ms_once_prune(mu, txn, op->a->once->keep);
}

static int quota_check(struct mail_user *mu, MDB_txn *txn, long long quota)
{
    int rc = 0;
    long long used = quota > 0 ? ms_usage_txn(mu, txn, &rc) : 0;
    return used < 0 ? rc : quota > 0 && used >= quota ? MS_RC_OVERQUOTA : 0;
}

/* The mailbox record (made for a delivery; APPEND needs it to exist) and the message's. */
static int prepare(struct mail_user *mu, MDB_txn *txn, struct deliver_op *op, struct mailbox_rec *f,
                   struct msg_rec *m)
{
    struct ms_deliver_args *a = op->a;
    int rc = a->append ? ms_mailbox_need(mu, txn, op->mailbox, f) : ms_mailbox_get(mu, txn, op->mailbox, f);
    if (rc == MDB_NOTFOUND)
        rc = ms_mailbox_new(mu, txn, f);
    if (rc != 0)
        return rc;
    *m = (struct msg_rec){.flags = a->flags & MS_FLAG_ALL, .size = op->size, .vsize = op->vsize,
                          .internaldate = a->internaldate ? a->internaldate : op->sec};
    if (a->keywords) {
        struct ms_keywords k;
        if ((rc = ms_keywords_load(mu, txn, op->mailbox, &k)) != 0)
            return rc;
        m->keywords = a->keywords & ms_keywords_mask(&k); /* unknown bits are dropped */
        ms_keywords_free(&k);
    }
    return 0;
}

/* Best effort: without the note a writer killed right after the rename leaves a copy that
 * only mailbox_sync() finds (mailstore_once.c). */
static void note_pending(struct mail_user *mu, struct deliver_op *op, const struct mailbox_rec *f,
                         const char *base)
{
    struct ms_pending note = {.txnid = op->txnid, .uidvalidity = f->uidvalidity, .uid = op->uid,
                              .size = op->size, .vsize = op->vsize, .mailbox = op->mailbox,
                              .name = base, .key = op->once_key.data, .keylen = op->once_key.len};
    (void)ms_pending_note(mu, &note);
}

static int deliver_apply(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct deliver_op *op = arg;
    struct mailbox_rec f;
    struct msg_rec m;
    int rc = op->a->once ? once_check(mu, txn, op) : 0;
    if (rc == MS_RC_DUPLICATE)
        return 0;
    if (rc != 0 || (rc = quota_check(mu, txn, op->a->quota)) != 0 || (rc = prepare(mu, txn, op, &f, &m)) != 0)
        return rc;
    set_target(op, &m);
    const char *base = strrchr(op->target, '/') + 1;
    m.name = base;
    m.namelen = strcspn(base, ":");
    op->uid = op->a->keep_uid ? op->a->keep_uid : f.uidnext++;
    if (op->uid >= f.uidnext) /* a kept UID (import) */
        f.uidnext = op->uid + 1;
    m.modseq = ++f.highestmodseq;
    ms_mailbox_count(&f, &m, true);
    if ((rc = ms_msg_put(mu, txn, op->mailbox, op->uid, &m)) != 0 ||
        (rc = ms_mailbox_put(mu, txn, op->mailbox, &f)) != 0 ||
        (op->a->once && (rc = ms_once_put(mu, txn, op->once_key.data, op->once_key.len, op->uid,
                                          op->mailbox)) != 0))
        return rc;
    op->a->uidvalidity = f.uidvalidity;
    op->txnid = mdb_txn_id(txn);
    if (!op->a->append)
        note_pending(mu, op, &f, base);
    if ((rc = rename_target(op)) != 0)
        return rc;
    op->renamed = true;
    return 0;
}

static void deliver_undo(void *arg)
{
    struct deliver_op *op = arg;
    if (op->renamed && rename(op->target, op->tmp_path) == 0) {
        op->renamed = false;
        (void)fsync_dir(op->targetdir);
    }
}

/* Create tmp/UNIQUE exclusively; returns fd and sets op->tmp_path and op->unique, or -1.
 * The Maildir's directories are created only when tmp/ is missing (not on every
 * delivery). */
static int create_tmp(struct mail_user *mu, struct deliver_op *op)
{
    bool made = false;
    for (int i = 0; i < MS_NAME_TRIES; i++) {
        op->unique = ms_unique_name(mu, &op->sec);
        op->tmp_path = xasprintf("%s/tmp/%s", op->dir, op->unique);
        int fd = open(op->tmp_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0)
            return fd;
        int e = errno;
        free(op->tmp_path);
        free(op->unique);
        op->tmp_path = op->unique = NULL;
        if (e == ENOENT && !made) {
            made = true;
            if (ms_make_maildir(op->dir, strcmp(op->mailbox, "INBOX") != 0) < 0)
                return -1;
            continue;
        }
        if (e != EEXIST) {
            errno = e;
            return -1;
        }
    }
    errno = EEXIST;
    return -1;
}

/* APPEND: INTERNALDATE is the file's mtime (as Dovecot keeps it for Maildir). */
static int set_mtime(int fd, uint64_t t)
{
    if (t == 0)
        return 0;
    struct timespec ts[2] = {{.tv_sec = (time_t)t}, {.tv_sec = (time_t)t}};
    return futimens(fd, ts);
}

/* Write the message into tmp/ and measure it. 0, or an errno value / MS_RC_FILL. */
static int write_tmp(struct mail_user *mu, struct deliver_op *op, int (*fill)(void *ctx, int fd),
                     void *ctx)
{
    int fd = create_tmp(mu, op);
    if (fd < 0)
        return errno;
    errno = 0;
    int rc = 0;
    struct stat st;
    long long vsize = -1;
    if (fill(ctx, fd) < 0)
        rc = errno ? errno : MS_RC_FILL;
    else if (set_mtime(fd, op->a->internaldate) < 0 || fsync(fd) < 0 || fstat(fd, &st) < 0 ||
             (vsize = ms_vsize_fd(fd)) < 0)
        rc = errno ? errno : EIO;
    if (close(fd) < 0 && rc == 0)
        rc = errno ? errno : EIO;
    if (rc == 0) {
        op->size = (uint64_t)st.st_size;
        op->vsize = (uint64_t)vsize;
    }
    return rc;
}

/* Before writing anything: the quota, an earlier copy and (APPEND) the mailbox, in one
 * read snapshot. */
static int precheck(struct mail_user *mu, struct deliver_op *op)
{
    struct ms_deliver_args *a = op->a;
    if (a->quota <= 0 && !a->once && !a->append)
        return 0;
    MDB_txn *txn;
    int rc = ms_begin(mu, false, &txn);
    if (rc != 0)
        return rc;
    if (a->once)
        rc = ms_once_find(mu, txn, &op->once_key, &op->uid, &op->dup_path);
    if (rc == 0)
        rc = quota_check(mu, txn, a->quota);
    if (rc == 0 && a->append && strcmp(op->mailbox, "INBOX") != 0) {
        struct mailbox_rec f;
        rc = ms_mailbox_peek(mu, txn, op->mailbox, &f);
        rc = rc == MDB_NOTFOUND ? MS_RC_NONEXISTENT : rc;
    }
    mdb_txn_abort(txn);
    return rc;
}

/* The copy found by once_find may have been written by a process that has not finished
 * its syncs: make it durable before it is reported as delivered. */
static int sync_duplicate(struct mail_user *mu, struct deliver_op *op)
{
    if (fsync_parent(op->dup_path) < 0)
        return errno ? errno : EIO;
    return ms_sync(mu);
}

static bool once_ok(const struct delivery_once *o, char **err)
{
    size_t n = o->id ? strlen(o->id) : 0;
    if (n > 0 && n <= DELIVERY_ONCE_ID_MAX)
        return true;
    *err = xstrdup("invalid delivery identifier");
    return false;
}

/* Write, commit, then make it durable: the target directory and the index. */
static int run(struct mail_user *mu, struct deliver_op *op, int (*fill)(void *ctx, int fd), void *ctx)
{
    int rc = precheck(mu, op);
    if (rc == 0)
        rc = write_tmp(mu, op, fill, ctx);
    if (rc == 0) {
        rc = ms_write_nosync(mu, deliver_apply, deliver_undo, op);
        op->committed = rc == 0 && !op->duplicate;
        if (op->duplicate)
            rc = MS_RC_DUPLICATE;
    }
    if (rc == 0)
        rc = ms_durable_dirs(mu, op->txnid, &op->targetdir, 1);
    if (rc == MS_RC_DUPLICATE && (rc = sync_duplicate(mu, op)) == 0)
        op->a->duplicate = true;
    return rc;
}

static void cleanup(struct deliver_op *op, int rc)
{
    if (rc == 0 || op->committed)
        op->a->uid = op->uid; /* after a failed sync the copy is in the mailbox all the same */
    else if (op->renamed) /* could not be moved back: do not leave it without a UID */
        unlink(op->target);
    if (op->tmp_path && !op->renamed)
        unlink(op->tmp_path);
    free(op->tmp_path);
    free(op->unique);
    free(op->target);
    free(op->targetdir);
    free(op->dup_path);
    free(op->dir);
    buf_free(&op->once_key);
}

enum mailstore_result ms_deliver(struct mail_user *mu, struct ms_deliver_args *a,
                                 int (*fill)(void *ctx, int fd), void *ctx, char **err)
{
    a->duplicate = false;
    if (a->once && !once_ok(a->once, err))
        return MS_TEMPFAIL;
    char *name = ms_mailbox_name(a->mailbox, err);
    if (!name)
        return a->append ? MS_INVALID : MS_TEMPFAIL;
    struct deliver_op op = {.a = a, .mailbox = name, .once_key = BUF_INIT};
    if (a->once)
        ms_once_key(&op.once_key, a->once);
    op.dir = ms_mailbox_dir(mu, name);
    int rc = run(mu, &op, fill, ctx);
    cleanup(&op, rc);
    enum mailstore_result r = ms_result(rc, name, err);
    free(name);
    if (r != MS_OK && !a->append) { /* delivery's messages as they always were */
        free(*err);
        *err = xstrdup(rc > 0 ? strerror(rc) : ms_strerror(rc));
    }
    return r;
}

/* --- several APPENDs in one transaction (MULTIAPPEND) --- */

struct many_op {
    struct deliver_op *ops;
    size_t n;
    const struct ms_batch_hooks *hooks;
};

static int many_apply(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct many_op *m = arg;
    const struct ms_batch_hooks *h = m->hooks;
    int rc = h && h->before ? h->before(mu, txn, h->arg) : 0;
    for (size_t i = 0; rc == 0 && i < m->n; i++)
        rc = deliver_apply(mu, txn, &m->ops[i]);
    return rc == 0 && h && h->after ? h->after(mu, txn, h->arg) : rc;
}

static void many_undo(void *arg)
{
    struct many_op *m = arg;
    for (size_t i = 0; i < m->n; i++)
        deliver_undo(&m->ops[i]);
}

static int run_many(struct mail_user *mu, struct many_op *m, struct mailbox_append_msg *msgs)
{
    int rc = m->hooks && m->hooks->no_precheck ? 0 : precheck(mu, &m->ops[0]);
    for (size_t i = 0; rc == 0 && i < m->n; i++)
        rc = write_tmp(mu, &m->ops[i], msgs[i].fill, msgs[i].ctx);
    if (rc == 0) {
        rc = ms_write_nosync(mu, many_apply, many_undo, m);
        for (size_t i = 0; i < m->n; i++)
            m->ops[i].committed = rc == 0;
    }
    if (rc == 0) {
        char **dirs = xcalloc(m->n, sizeof *dirs);
        for (size_t i = 0; i < m->n; i++)
            dirs[i] = m->ops[i].targetdir;
        rc = ms_durable_dirs(mu, m->ops[m->n - 1].txnid, dirs, m->n);
        free(dirs);
    }
    return rc;
}

int ms_deliver_many(struct mail_user *mu, const char *name, struct ms_deliver_args *args,
                    struct mailbox_append_msg *msgs, size_t n, const struct ms_batch_hooks *hooks)
{
    struct many_op m = {.ops = xcalloc(n ? n : 1, sizeof *m.ops), .n = n, .hooks = hooks};
    for (size_t i = 0; i < n; i++)
        m.ops[i] = (struct deliver_op){.a = &args[i], .mailbox = name, .once_key = BUF_INIT,
                                       .dir = ms_mailbox_dir(mu, name)};
    int rc = n ? run_many(mu, &m, msgs) : 0;
    for (size_t i = 0; i < n; i++) {
        cleanup(&m.ops[i], rc);
        msgs[i].uid = args[i].uid;
    }
    free(m.ops);
    return rc;
}

struct recent_claim {
    const char *mailbox;
    struct mailbox_recent *recent;
};

/* Behind the messages: what no session has claimed yet, these included, is the
 * appending session's (see mailbox_claim_recent). */
static int claim_after(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct recent_claim *c = arg;
    struct mailbox_rec f;
    int rc = ms_mailbox_get(mu, txn, c->mailbox, &f);
    if (rc != 0)
        return rc;
    c->recent->from = f.first_recent;
    c->recent->to = f.first_recent = f.uidnext;
    return ms_mailbox_put(mu, txn, c->mailbox, &f);
}

enum mailstore_result mailbox_append_many_recent(struct mail_user *mu, const char *mailbox,
                                                 long long quota, struct mailbox_append_msg *msgs,
                                                 size_t n, uint32_t *uidvalidity,
                                                 struct mailbox_recent *recent, char **err)
{
    char *name = ms_mailbox_name(mailbox, err);
    if (!name)
        return MS_INVALID;
    struct ms_deliver_args *args = xcalloc(n ? n : 1, sizeof *args);
    for (size_t i = 0; i < n; i++)
        args[i] = (struct ms_deliver_args){.mailbox = mailbox, .quota = quota, .append = true,
                                           .flags = msgs[i].flags, .keywords = msgs[i].keywords,
                                           .internaldate = msgs[i].internaldate};
    struct recent_claim claim = {name, recent};
    struct ms_batch_hooks hooks = {.after = claim_after, .arg = &claim};
    if (recent)
        *recent = (struct mailbox_recent){0, 0};
    int rc = ms_deliver_many(mu, name, args, msgs, n, recent ? &hooks : NULL);
    if (rc != 0 && recent) /* claimed in a transaction that did not commit */
        *recent = (struct mailbox_recent){0, 0};
    if (rc == 0 && n && uidvalidity)
        *uidvalidity = args[0].uidvalidity;
    enum mailstore_result r = ms_result(rc, name, err);
    free(args);
    free(name);
    return r;
}

enum mailstore_result mailbox_append_many(struct mail_user *mu, const char *mailbox, long long quota,
                                          struct mailbox_append_msg *msgs, size_t n,
                                          uint32_t *uidvalidity, char **err)
{
    return mailbox_append_many_recent(mu, mailbox, quota, msgs, n, uidvalidity, NULL, err);
}

enum mailstore_result mailbox_deliver_once(struct mail_user *mu, const char *mailbox,
                                           long long quota, const struct delivery_once *once,
                                           int (*fill)(void *ctx, int fd), void *ctx,
                                           uint32_t *uid, bool *duplicate, char **err)
{
    struct ms_deliver_args a = {.mailbox = mailbox, .quota = quota, .once = once};
    enum mailstore_result r = ms_deliver(mu, &a, fill, ctx, err);
    if (r == MS_OK || a.uid)
        *uid = a.uid;
    if (duplicate)
        *duplicate = a.duplicate;
    return r;
}

enum mailstore_result mailbox_deliver(struct mail_user *mu, const char *mailbox,
                                      long long quota, int (*fill)(void *ctx, int fd),
                                      void *ctx, uint32_t *uid, char **err)
{
    return mailbox_deliver_once(mu, mailbox, quota, NULL, fill, ctx, uid, NULL, err);
}
