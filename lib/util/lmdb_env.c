/* lmdb_env.c - opening LMDB environments, noticing replaced files, adopting grown maps
 * (see lmdb_env.h). The file's identity is taken from the descriptor LMDB opened, so it
 * is the file actually mapped even if the path was replaced while it was being opened.
 *
 * LMDB must not have one file open twice in a process: the second mdb_env_open takes the
 * process's own lock on the lock file for proof that nobody else uses it and resets the
 * reader table under the other handle's readers. So environments are shared: a registry
 * (by device, inode and open flags, under a mutex) hands a second opener of the same file
 * the MDB_env already open, counting its users; the last close closes it. */
#include "lmdb_env.h"
#include "mem.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* What LMDB's lock file needs at least: its default reader table is far smaller. */
#define LOCK_FILE_BYTES (64 * 1024)

static int configure(MDB_env *env, const struct lmdb_env_options *o)
{
    int rc = 0;
    if (o->maxdbs)
        rc = mdb_env_set_maxdbs(env, o->maxdbs);
    if (rc == 0 && o->maxreaders)
        rc = mdb_env_set_maxreaders(env, o->maxreaders);
    if (rc == 0 && o->mapsize)
        rc = mdb_env_set_mapsize(env, o->mapsize);
    return rc;
}

static int identify(MDB_env *env, dev_t *dev, ino_t *ino)
{
    mdb_filehandle_t fd;
    struct stat st;
    int rc = mdb_env_get_fd(env, &fd);
    if (rc != 0)
        return rc;
    if (fstat(fd, &st) < 0)
        return errno;
    *dev = st.st_dev;
    *ino = st.st_ino;
    return 0;
}

/* LMDB writes its lock file through a shared mapping: on a full file system a page without
 * a block behind it raises SIGBUS in mdb_env_open. Giving the pages their blocks first turns
 * a full disk into ENOSPC (a delivery then defers, doc/mailstore.md) instead of a crash. */
static int reserve_lock_file(const char *path, const struct lmdb_env_options *o)
{
    if (o->flags & MDB_NOLOCK)
        return 0;
    char *lock = xasprintf("%s-lock", path);
    int fd = open(lock, O_RDWR | O_CLOEXEC | ((o->flags & MDB_RDONLY) ? 0 : O_CREAT), o->mode);
    free(lock);
    if (fd < 0)
        return 0; /* LMDB says what is wrong when it opens the file itself */
    struct stat st;
    off_t len = fstat(fd, &st) == 0 && st.st_size > LOCK_FILE_BYTES ? st.st_size : LOCK_FILE_BYTES;
    int rc = posix_fallocate(fd, 0, len);
    close(fd);
    return rc == EOPNOTSUPP || rc == EINVAL ? 0 : rc;
}

static int open_new(struct lmdb_env *le, const char *path, const struct lmdb_env_options *o,
                    char **err);

struct shared_env {
    MDB_env *env;
    pid_t pid;  /* the process that opened it: a forked child never shares its parent's */
    dev_t dev;
    ino_t ino;
    unsigned flags;
    unsigned users;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shared_env *registry;
static size_t nregistry;

/* An environment of this process on the file path names now, opened with flags: taken
 * (one more user) into le; false when there is none. Caller holds registry_lock. */
static bool take_shared(struct lmdb_env *le, const char *path, unsigned flags)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return false;
    for (size_t i = 0; i < nregistry; i++) {
        struct shared_env *e = &registry[i];
        if (e->pid == getpid() && e->dev == st.st_dev && e->ino == st.st_ino && e->flags == flags) {
            e->users++;
            le->env = e->env, le->dev = e->dev, le->ino = e->ino;
            return true;
        }
    }
    return false;
}

static void register_env(const struct lmdb_env *le, unsigned flags)
{
    registry = xreallocarray(registry, nregistry + 1, sizeof *registry);
    registry[nregistry++] = (struct shared_env){le->env, getpid(), le->dev, le->ino, flags, 1};
}

int lmdb_env_open(struct lmdb_env *le, const char *path, const struct lmdb_env_options *o,
                  char **err)
{
    le->env = NULL;
    pthread_mutex_lock(&registry_lock);
    if (take_shared(le, path, o->flags)) {
        pthread_mutex_unlock(&registry_lock);
        return 0;
    }
    int rc = open_new(le, path, o, err);
    if (rc == 0)
        register_env(le, o->flags);
    pthread_mutex_unlock(&registry_lock);
    return rc;
}

/* One attempt; a failed mdb_env_open leaves a handle that can only be closed. */
static int try_open(MDB_env **envp, struct lmdb_env *le, const char *path,
                    const struct lmdb_env_options *o)
{
    MDB_env *env = NULL;
    int rc = mdb_env_create(&env);
    if (rc == 0)
        rc = configure(env, o);
    if (rc == 0)
        rc = reserve_lock_file(path, o);
    if (rc == 0)
        rc = mdb_env_open(env, path, o->flags | MDB_NOSUBDIR, o->mode);
    if (rc == 0)
        rc = identify(env, &le->dev, &le->ino);
    if (rc != 0 && env) {
        mdb_env_close(env);
        env = NULL;
    }
    *envp = env;
    return rc;
}

static int open_new(struct lmdb_env *le, const char *path, const struct lmdb_env_options *o,
                    char **err)
{
    MDB_env *env;
    int rc;
    /* mdb_env_open waits for the lock file's lock while other processes set it up; a
     * signal then (the SIGTERM of a stop during startup) makes it, or posix_fallocate of
     * the lock file, fail with EINTR: the whole attempt is made again. */
    for (int tries = 0; (rc = try_open(&env, le, path, o)) == EINTR && tries < 100; tries++) {
    }
    if (rc != 0) {
        *err = xasprintf("%s: %s", path, mdb_strerror(rc));
        return rc;
    }
    if (o->check_readers) {
        int dead;
        mdb_reader_check(env, &dead);
    }
    le->env = env;
    return 0;
}

void lmdb_env_close(struct lmdb_env *le)
{
    if (!le->env)
        return;
    pthread_mutex_lock(&registry_lock);
    bool last = true;
    for (size_t i = 0; i < nregistry; i++)
        if (registry[i].env == le->env && registry[i].pid == getpid()) {
            last = --registry[i].users == 0;
            if (last)
                registry[i] = registry[--nregistry];
            break;
        }
    if (last)
        mdb_env_close(le->env);
    pthread_mutex_unlock(&registry_lock);
    le->env = NULL;
}

bool lmdb_env_replaced(struct lmdb_env *le, const char *path, bool throttle)
{
    if (throttle) {
        time_t now = time(NULL);
        if (now == le->checked)
            return false;
        le->checked = now;
    }
    struct stat st;
    return stat(path, &st) < 0 || st.st_dev != le->dev || st.st_ino != le->ino;
}

int lmdb_txn_begin(MDB_env *env, unsigned flags, MDB_txn **txn)
{
    int rc = mdb_txn_begin(env, NULL, flags, txn);
    if (rc == MDB_MAP_RESIZED) { /* another process grew the map: adopt its size */
        mdb_env_set_mapsize(env, 0);
        rc = mdb_txn_begin(env, NULL, flags, txn);
    }
    return rc;
}
