/* mailstore.c - opening a user's mail, the per-process environment registry, mailbox
 * names and directories, unique file names and write transactions (see mailstore.h,
 * mailstore_int.h, doc/mailstore.md). Records are in mailstore_rec.c. */
#include "fileio.h"
#include "mailstore_int.h"
#include "mem.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifndef MS_MIN_MAPSIZE
#define MS_MIN_MAPSIZE (16LL * 1024 * 1024)
#endif
#define MS_MAX_MAPSIZE (64LL * 1024 * 1024 * 1024)
#define MS_WRITE_TRIES 12

/* LMDB allows one open of a file per process: handles of one mailbox share its ms_env.
 * This list is the one piece of process-wide state of the mail store. */
static DLIST_HEAD(struct ms_env) ms_envs;

static bool component_ok(const char *s)
{
    if (!*s || s[0] == '.' || strlen(s) > 255)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < ' ' || *p == 0x7f || *p == '/')
            return false;
    return true;
}

/* The host name for Maildir names, with '/', ':' and ',' written as octal escapes. */
static char *safe_hostname(void)
{
    char h[256];
    if (gethostname(h, sizeof h) < 0 || !h[0])
        strcpy(h, "localhost");
    h[sizeof h - 1] = 0;
    struct buf b = BUF_INIT;
    for (const char *p = h; *p; p++) {
        if (*p == '/' || *p == ':' || *p == ',')
            buf_printf(&b, "\\%03o", (unsigned char)*p);
        else
            buf_putc(&b, *p);
    }
    return buf_steal(&b);
}

/* Open the named databases. Handles opened in a read-only transaction stay valid after
 * its commit, so an existing index is opened without taking the writer lock (which the
 * deliveries to this mailbox contend for); only a new or older index needs a write
 * transaction to create what is missing. */
static int open_dbis(struct ms_env *e, bool create)
{
    MDB_txn *txn = NULL;
    unsigned f = create ? MDB_CREATE : 0;
    int rc = mdb_txn_begin(e->le.env, NULL, create ? 0 : MDB_RDONLY, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "folders", f, &e->mailboxes);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "messages", f, &e->messages);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "delivered", f, &e->delivered);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "keywords", f, &e->keywords);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "expunged", f, &e->expunged);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "cache", f, &e->cache);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "meta", f, &e->meta);
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (txn)
        mdb_txn_abort(txn);
    return rc;
}

static int env_setup(struct ms_env *e, const char *index)
{
    struct stat st;
    long long mapsize = MS_MIN_MAPSIZE;
    if (stat(index, &st) == 0)
        while (mapsize < 2 * (long long)st.st_size && mapsize < MS_MAX_MAPSIZE)
            mapsize *= 2;
    /* MDB_NOMETASYNC: see mailstore_int.h (writers call ms_sync before relying on a commit) */
    const struct lmdb_env_options o = {.flags = MDB_NOMETASYNC, .mode = 0600, .maxdbs = 8,
                                       .mapsize = (size_t)mapsize, .check_readers = true};
    char *err = NULL;
    int rc = lmdb_env_open(&e->le, index, &o, &err);
    free(err); /* env_get words the message */
    if (rc == 0) {
        rc = open_dbis(e, false);
        if (rc == MDB_NOTFOUND)
            rc = open_dbis(e, true);
    }
    if (rc != 0) {
        lmdb_env_close(&e->le);
        return rc;
    }
    e->readers_checked = time(NULL);
    return 0;
}

static struct ms_env *env_get(const char *index, char **err)
{
    struct stat st;
    struct ms_env *e;
    if (stat(index, &st) == 0)
        DLIST_FOREACH(e, &ms_envs)
            if (e->le.dev == st.st_dev && e->le.ino == st.st_ino) {
                e->refs++;
                return e;
            }
    e = xcalloc(1, sizeof *e);
    int rc = env_setup(e, index);
    if (rc != 0) {
        *err = xasprintf("mailbox index %s: %s", index, mdb_strerror(rc));
        free(e);
        errno = rc > 0 ? rc : EIO;
        return NULL;
    }
    e->refs = 1;
    e->pending_fd = -1;
    e->journal_fd = -1;
    e->pid = getpid();
    e->counter = (unsigned)e->pid * 7919u;
    DLIST_INSERT_HEAD(&ms_envs, e);
    return e;
}

static void env_put(struct ms_env *e)
{
    if (--e->refs > 0)
        return;
    DLIST_REMOVE(&ms_envs, e);
    lmdb_env_close(&e->le);
    if (e->pending_fd >= 0)
        close(e->pending_fd);
    if (e->journal_fd >= 0)
        close(e->journal_fd);
    free(e);
}

void ms_env_hold(struct ms_env *e) { e->refs++; }
void ms_env_release(struct ms_env *e) { env_put(e); }

/* The default mailboxes, once per user (mailstore_folders.c). Best effort: a failure here
 * must not stop delivery, and the next open tries again. */
static void create_defaults(struct mail_user *mu)
{
    MDB_txn *txn;
    uint64_t done = 0;
    if (ms_begin(mu, false, &txn) != 0)
        return;
    int rc = ms_meta_get(mu, txn, "defaults", &done);
    mdb_txn_abort(txn);
    char *err = NULL;
    if (rc == MDB_NOTFOUND)
        (void)mail_user_create_defaults(mu, &err);
    free(err);
}

struct mail_user *mail_user_open(const char *base, const char *domain, const char *localpart,
                             const char *index_name, bool create, char **err)
{
    if (!component_ok(domain) || !component_ok(localpart) || !component_ok(index_name)) {
        *err = xasprintf("unsafe mailbox name %s/%s/%s", domain, localpart, index_name);
        errno = EINVAL;
        return NULL;
    }
    char *path = xasprintf("%s/%s/%s", base, domain, localpart);
    struct stat st;
    if (create && (mkdir_p(path, 0700) < 0 || ms_make_maildir(path, false) < 0)) {
        *err = xasprintf("create mailbox %s: %s", path, strerror(errno));
        free(path);
        return NULL;
    }
    int e = stat(path, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    if (e != 0) {
        *err = xasprintf("mailbox %s: %s", path, strerror(e));
        free(path);
        errno = e;
        return NULL;
    }
    struct mail_user *mu = xcalloc(1, sizeof *mu);
    mu->path = path;
    mu->index = xasprintf("%s/%s", path, index_name);
    mu->e = env_get(mu->index, err);
    if (!mu->e) {
        e = errno;
        free(mu->index);
        free(mu->path);
        free(mu);
        errno = e;
        return NULL;
    }
    mu->host = safe_hostname();
    if (create)
        create_defaults(mu);
    return mu;
}

void mail_user_close(struct mail_user *mu)
{
    if (!mu)
        return;
    mailstore_syncs_free(mu->syncs); /* not taken: the caller did not want them */
    env_put(mu->e);
    free(mu->host);
    free(mu->index);
    free(mu->path);
    free(mu);
}

const char *mail_user_path(const struct mail_user *mu) { return mu->path; }

bool mail_user_current(const struct mail_user *mu)
{
    return !lmdb_env_replaced(&mu->e->le, mu->index, false);
}

/* --- mailboxes --- */

char *ms_mailbox_name(const char *mailbox, char **err)
{
    if (strcasecmp(mailbox, "INBOX") == 0)
        return xstrdup("INBOX");
    size_t n = strlen(mailbox);
    bool ok = n > 0 && n <= 200 && mailbox[0] != '.' && mailbox[n - 1] != '.' && !strstr(mailbox, "..");
    for (const unsigned char *p = (const unsigned char *)mailbox; ok && *p; p++)
        if (*p < ' ' || *p == 0x7f || *p == '/')
            ok = false;
    if (!ok) {
        *err = xasprintf("invalid mailbox name \"%s\"", mailbox);
        return NULL;
    }
    return xstrdup(mailbox);
}

char *ms_mailbox_dir(const struct mail_user *mu, const char *name)
{
    if (strcmp(name, "INBOX") == 0)
        return xstrdup(mu->path);
    return xasprintf("%s/.%s", mu->path, name);
}

char *ms_unique_name(struct mail_user *mu, uint64_t *sec)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (sec)
        *sec = (uint64_t)tv.tv_sec;
    return xasprintf("%lld.M%06ldP%ldQ%u.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
                     (long)mu->e->pid, mu->e->counter++, mu->host);
}

int ms_make_maildir(const char *dir, bool mailbox)
{
    static const char *const sub[] = {"cur", "new", "tmp"};
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -1;
    for (size_t i = 0; i < 3; i++) {
        char *p = xasprintf("%s/%s", dir, sub[i]);
        int r = mkdir(p, 0700);
        int e = errno;
        free(p);
        if (r < 0 && e != EEXIST) {
            errno = e;
            return -1;
        }
    }
    if (mailbox) { /* Maildir++ marks mailboxes with an empty "maildirfolder" file */
        char *p = xasprintf("%s/maildirfolder", dir);
        int fd = open(p, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        int e = errno;
        free(p);
        if (fd < 0 || close(fd) < 0) {
            errno = e;
            return -1;
        }
    }
    return 0;
}

/* --- transactions --- */

void ms_note_synced(struct ms_env *e, size_t id)
{
    size_t cur = atomic_load(&e->synced);
    while (id > cur && !atomic_compare_exchange_weak(&e->synced, &cur, id))
        ;
}

int ms_begin(struct mail_user *mu, bool write, MDB_txn **txn)
{
    int rc = lmdb_txn_begin(mu->e->le.env, write ? 0 : MDB_RDONLY, txn);
    size_t last = rc == 0 ? mdb_txn_id(*txn) - (write ? 1 : 0) : 0; /* the last commit */
    if (last > 1)
        ms_note_synced(mu->e, last - 1);
    return rc;
}

bool mail_user_commit_in_flight(struct mail_user *mu)
{
    MDB_txn *txn;
    MDB_envinfo info;
    if (ms_begin(mu, false, &txn) != 0)
        return false;
    size_t seen = mdb_txn_id(txn); /* what readers are shown (the lock file's ID) */
    mdb_txn_abort(txn);
    return mdb_env_info(mu->e->le.env, &info) == 0 && info.me_last_txnid > seen; /* meta page */
}

static int grow(struct mail_user *mu)
{
    MDB_envinfo info;
    mdb_env_info(mu->e->le.env, &info);
    if ((long long)info.me_mapsize >= MS_MAX_MAPSIZE)
        return MDB_MAP_FULL;
    return mdb_env_set_mapsize(mu->e->le.env, info.me_mapsize * 2);
}

/* A reader killed inside a read transaction keeps its slot, and with it old pages from
 * reuse, until someone clears it. Environments now stay open in long-lived processes
 * (local-mda caches them), so the check that env_setup does at open is repeated by writers
 * once a minute. */
static void check_readers(struct ms_env *e)
{
    time_t now = time(NULL);
    if (now - e->readers_checked < 60 && now >= e->readers_checked)
        return;
    int dead;
    mdb_reader_check(e->le.env, &dead);
    e->readers_checked = now;
}

/* ms_write_nosync, telling the ID of the transaction that committed (or was empty). */
int ms_write_txn(struct mail_user *mu, int (*apply)(struct mail_user *mu, MDB_txn *txn, void *arg),
                     void (*undo)(void *arg), void *arg, size_t *txnid)
{
    int rc = MDB_MAP_FULL;
    check_readers(mu->e);
    for (int i = 0; i < MS_WRITE_TRIES && rc == MDB_MAP_FULL; i++) {
        MDB_txn *txn;
        rc = ms_begin(mu, true, &txn);
        if (rc != 0)
            return rc;
        *txnid = mdb_txn_id(txn);
        rc = ms_pending_recover(mu, txn); /* a writer killed before its commit */
        if (rc == 0)
            rc = ms_journal_recover(mu, txn);
        if (rc == 0)
            rc = apply(mu, txn, arg);
        if (rc == 0)
            rc = mdb_txn_commit(txn); /* (a failed commit frees the transaction too) */
        else
            mdb_txn_abort(txn);
        MDB_envinfo info;
        if (rc == 0 && mdb_env_info(mu->e->le.env, &info) == 0 && info.me_last_txnid < *txnid)
            *txnid = 0; /* it changed nothing: LMDB committed nothing, no sync is owed */
        else if (rc == 0 && *txnid > 1)
            ms_note_synced(mu->e, *txnid - 1); /* its data sync wrote the meta pages before */
        if (rc != 0 && undo)
            undo(arg);
        if (rc == MDB_MAP_FULL && grow(mu) != 0)
            break;
    }
    return rc;
}

int ms_write_nosync(struct mail_user *mu, int (*apply)(struct mail_user *mu, MDB_txn *txn, void *arg),
                    void (*undo)(void *arg), void *arg)
{
    size_t txnid;
    return ms_write_txn(mu, apply, undo, arg, &txnid);
}

int ms_sync(struct mail_user *mu) { return mdb_env_sync(mu->e->le.env, 1); }

/* LMDB commits in this order, under the writer lock: write the data pages, sync the file
 * (skipped only with MDB_NOSYNC, which no mail store environment uses), write the meta
 * page. MDB_NOMETASYNC leaves that meta page in the page cache; the next commit's sync
 * of the same file writes it out. So once a later transaction is visible as committed
 * (its meta page written, hence its sync finished after ours was written), txnid is
 * durable and the sync can be skipped: under concurrent deliveries to one mailbox that
 * saves most of these syncs. A transaction that changed nothing commits nothing (LMDB
 * writes no meta page, the last ID stays below txnid): nothing to sync either. */
int ms_sync_txn(struct mail_user *mu, size_t txnid)
{
    MDB_envinfo info;
    if (mdb_env_info(mu->e->le.env, &info) == 0 && info.me_last_txnid != txnid)
        return 0; /* a later commit synced it, or it changed nothing (nothing committed) */
    int rc = ms_sync(mu);
    if (rc == 0)
        ms_note_synced(mu->e, txnid);
    return rc;
}

int ms_write(struct mail_user *mu, int (*apply)(struct mail_user *mu, MDB_txn *txn, void *arg),
             void (*undo)(void *arg), void *arg)
{
    size_t txnid;
    int rc = ms_write_txn(mu, apply, undo, arg, &txnid);
    return rc == 0 ? ms_sync_txn(mu, txnid) : rc; /* e.g. a SELECT's sync that found nothing */
}

const char *ms_strerror(int rc)
{
    switch (rc) {
    case MS_RC_OVERQUOTA: return "mailbox full";
    case MS_RC_CORRUPT: return "mailbox index is corrupt (posthorn mailbox reindex --rebuild)";
    case MS_RC_FILL: return "cannot write message";
    case MS_RC_DUPLICATE: return "already delivered";
    case MS_RC_NONEXISTENT: return "no such mailbox";
    case MS_RC_EXISTS: return "mailbox exists already";
    case MS_RC_INVALID: return "invalid name";
    case MS_RC_LIMIT: return "too many keywords in this mailbox";
    case MS_RC_CANNOT: return "not allowed";
    default: return rc > 0 ? strerror(rc) : mdb_strerror(rc);
    }
}

enum mailstore_result ms_result(int rc, const char *what, char **err)
{
    if (rc == 0)
        return MS_OK;
    *err = xasprintf("%s: %s", what, ms_strerror(rc));
    switch (rc) {
    case MS_RC_OVERQUOTA: return MS_OVERQUOTA;
    case MS_RC_NONEXISTENT: return MS_NONEXISTENT;
    case MS_RC_EXISTS: return MS_EXISTS;
    case MS_RC_INVALID: return MS_INVALID;
    case MS_RC_LIMIT: return MS_LIMIT;
    case MS_RC_CANNOT: return MS_CANNOT;
    default: return MS_TEMPFAIL;
    }
}

int ms_read_begin(struct mail_user *mu, const char *mailbox, char **name, MDB_txn **txn, char **err)
{
    *name = ms_mailbox_name(mailbox, err);
    if (!*name)
        return -1;
    int rc = ms_begin(mu, false, txn);
    if (rc != 0) {
        *err = xasprintf("%s: %s", mail_user_path(mu), ms_strerror(rc));
        free(*name);
        return -1;
    }
    return 0;
}
