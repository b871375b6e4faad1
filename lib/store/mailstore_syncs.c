/* mailstore_syncs.c - the syncs that make a committed change durable, done at once or
 * deferred to another thread (see mailstore.h, "Deferred syncs", and doc/mailstore.md).
 * A COPY or MOVE also leaves its journal until its set is synced: should the syncs fail
 * or never run, the next writer finds the journal and completes what it lists.
 *
 * What a deferred set holds is what ms_sync_txn and ms_fileops_finish would have done: the
 * directories of the renames and the ID of the transaction. Running it needs nothing of
 * the handle but the LMDB environment's file (an fdatasync of it is safe beside other
 * threads' transactions), which the set keeps open with a reference of its own;
 * references are taken and dropped on the thread that opens handles. */
#include "fileio.h"
#include "mailstore_int.h"
#include "mem.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct mailstore_syncs {
    struct ms_env *e; /* held (ms_env_hold) */
    size_t txnid;     /* the last commit noted, 0 for none */
    size_t journal;   /* the transaction whose journal to clear once synced, 0 for none */
    bool synced;      /* mailstore_syncs_run succeeded */
    char **dirs;
    size_t ndirs;
};

/* Note the directory dir[0..len) once. */
static void note(struct mailstore_syncs *s, const char *dir, size_t len)
{
    for (size_t i = 0; i < s->ndirs; i++)
        if (strlen(s->dirs[i]) == len && memcmp(s->dirs[i], dir, len) == 0)
            return;
    s->dirs = xreallocarray(s->dirs, s->ndirs + 1, sizeof *s->dirs);
    s->dirs[s->ndirs++] = xstrndup(dir, len);
}

/* Note the directory a file path is in. */
static void note_dir(struct mailstore_syncs *s, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash)
        note(s, path, (size_t)(slash - path));
}

static bool deferrable(const struct ms_fileops *ops)
{
    for (size_t i = 0; ops && i < ops->n; i++)
        if (ops->v[i].type == MS_OP_DELETE)
            return false;
    return true;
}

/* The user's set of deferred syncs, with txnid noted. */
static struct mailstore_syncs *deferred(struct mail_user *mu, size_t txnid)
{
    if (!mu->syncs) {
        mu->syncs = xcalloc(1, sizeof *mu->syncs);
        mu->syncs->e = mu->e;
        ms_env_hold(mu->e);
    }
    struct mailstore_syncs *s = mu->syncs;
    if (txnid > s->txnid)
        s->txnid = txnid;
    return s;
}

int ms_durable(struct mail_user *mu, size_t txnid, struct ms_fileops *ops)
{
    if (!mu->defer_syncs || !deferrable(ops)) {
        int rc = ms_sync_txn(mu, txnid);
        return rc == 0 && ops ? ms_fileops_finish(ops) : rc;
    }
    struct mailstore_syncs *s = deferred(mu, txnid);
    for (size_t i = 0; ops && i < ops->n; i++) {
        note_dir(s, ops->v[i].to);
        if (ops->v[i].type != MS_OP_LINK)
            note_dir(s, ops->v[i].from);
    }
    return 0;
}

int ms_durable_journaled(struct mail_user *mu, size_t txnid, struct ms_fileops *ops)
{
    bool defer = mu->defer_syncs && deferrable(ops);
    int rc = ms_durable(mu, txnid, ops);
    if (defer && rc == 0)
        deferred(mu, txnid)->journal = mu->e->journal_txnid;
    else
        ms_journal_clear(mu);
    return rc;
}

int ms_durable_dirs(struct mail_user *mu, size_t txnid, char *const *dirs, size_t n)
{
    if (mu->defer_syncs) {
        struct mailstore_syncs *s = deferred(mu, txnid);
        for (size_t i = 0; i < n; i++)
            note(s, dirs[i], strlen(dirs[i]));
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        bool done = false; /* each directory once */
        for (size_t k = 0; k < i && !done; k++)
            done = strcmp(dirs[k], dirs[i]) == 0;
        if (!done && fsync_dir_moved(dirs[i]) < 0)
            return errno ? errno : EIO;
    }
    return ms_sync_txn(mu, txnid);
}

void mail_user_defer_syncs(struct mail_user *mu, bool on) { mu->defer_syncs = on; }

struct mailstore_syncs *mail_user_take_syncs(struct mail_user *mu)
{
    struct mailstore_syncs *s = mu->syncs;
    mu->syncs = NULL;
    return s;
}

/* What one batch has synced already: each directory and each index once (every fsync
 * also flushes the disk's cache, done or not), with the result for the sets after. */
struct batch_done {
    char **dirs;
    int *dir_rc;
    size_t ndirs;
    struct ms_env **envs;
    size_t *env_txnid; /* the newest commit of the batch's sets on each */
    int *env_rc;       /* -1: not synced yet */
    size_t nenvs;
};

static int batch_dir(struct batch_done *b, const char *dir)
{
    for (size_t i = 0; i < b->ndirs; i++)
        if (strcmp(b->dirs[i], dir) == 0)
            return b->dir_rc[i];
    int rc = fsync_dir_moved(dir) < 0 ? (errno ? errno : EIO) : 0;
    b->dirs = xreallocarray(b->dirs, b->ndirs + 1, sizeof *b->dirs);
    b->dir_rc = xreallocarray(b->dir_rc, b->ndirs + 1, sizeof *b->dir_rc);
    b->dirs[b->ndirs] = (char *)dir;
    b->dir_rc[b->ndirs++] = rc;
    return rc;
}

static size_t batch_env(struct batch_done *b, struct ms_env *e)
{
    for (size_t i = 0; i < b->nenvs; i++)
        if (b->envs[i] == e)
            return i;
    b->envs = xreallocarray(b->envs, b->nenvs + 1, sizeof *b->envs);
    b->env_txnid = xreallocarray(b->env_txnid, b->nenvs + 1, sizeof *b->env_txnid);
    b->env_rc = xreallocarray(b->env_rc, b->nenvs + 1, sizeof *b->env_rc);
    b->envs[b->nenvs] = e;
    b->env_txnid[b->nenvs] = 0;
    b->env_rc[b->nenvs] = -1;
    return b->nenvs++;
}

/* The index sync of the batch's newest commit on e, which covers the older ones (all were
 * committed before the batch started): nothing to do when a later commit's own data sync
 * has written its meta page already (ms_note_synced); else what mdb_env_sync does without
 * MDB_WRITEMAP (which the store never uses), an fdatasync of the file. Not mdb_env_sync
 * itself, nor mdb_env_info: both read the meta pages through the map, which the opening
 * thread may remap meanwhile (a map that grows). */
static int batch_index(struct batch_done *b, struct ms_env *e)
{
    size_t i = batch_env(b, e);
    if (b->env_rc[i] >= 0)
        return b->env_rc[i];
    mdb_filehandle_t fd;
    int rc = 0;
    if (atomic_load(&e->synced) < b->env_txnid[i] && (rc = mdb_env_get_fd(e->le.env, &fd)) == 0 &&
        fdatasync(fd) < 0)
        rc = errno ? errno : EIO;
    if (rc == 0)
        ms_note_synced(e, b->env_txnid[i]);
    return b->env_rc[i] = rc;
}

static int run_one(struct batch_done *b, struct mailstore_syncs *s)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < s->ndirs; i++)
        rc = batch_dir(b, s->dirs[i]);
    if (rc == 0 && s->txnid)
        rc = batch_index(b, s->e);
    s->synced = rc == 0;
    return rc;
}

void mailstore_syncs_run_batch(struct mailstore_syncs *const *sets, size_t n, int *rcs)
{
    struct batch_done b = {0};
    for (size_t i = 0; i < n; i++) {
        size_t k = batch_env(&b, sets[i]->e);
        if (sets[i]->txnid > b.env_txnid[k])
            b.env_txnid[k] = sets[i]->txnid;
    }
    for (size_t i = 0; i < n; i++)
        rcs[i] = run_one(&b, sets[i]);
    free(b.dirs); /* the names belong to the sets */
    free(b.dir_rc);
    free(b.envs);
    free(b.env_txnid);
    free(b.env_rc);
}

int mailstore_syncs_run(struct mailstore_syncs *s)
{
    int rc;
    mailstore_syncs_run_batch(&s, 1, &rc);
    return rc;
}

void mailstore_syncs_free(struct mailstore_syncs *s)
{
    if (!s)
        return;
    if (s->synced && s->journal)
        ms_journal_clear_txn(s->e, s->journal);
    for (size_t i = 0; i < s->ndirs; i++)
        free(s->dirs[i]);
    free(s->dirs);
    ms_env_release(s->e);
    free(s);
}
