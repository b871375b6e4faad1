/* map.c - lookup tables "type:name" (see map.h). Only lmdb:PATH exists: PATH.lmdb is an
 * LMDB file (MDB_NOSUBDIR) compiled from the text file PATH by map_build().
 *
 * A compiled map is immutable: map_build() writes a new file under a temporary name in the
 * same directory and renames it over PATH.lmdb, so a reader keeps a consistent snapshot
 * (its mapping of the old inode) and notices the new inode on a later lookup. Because no
 * process ever writes an installed map, readers open it with MDB_RDONLY|MDB_NOLOCK: no lock
 * file, no write access anywhere. A shared lock file would even be harmful here: LMDB
 * readers take the current transaction id from the lock file, and a lock file that outlives
 * the data file it was initialised for makes readers of the new file pick the wrong meta
 * page. */
#include "map.h"
#include "buf.h"
#include "mem.h"
#include <ctype.h>
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAP_KEY_MAX 511 /* LMDB's default maximum key size */

struct map {
    char *path; /* PATH.lmdb */
    MDB_env *env;
    MDB_dbi dbi;
    dev_t dev;
    ino_t ino;
    time_t checked; /* last time the file was stat()ed for replacement */
};

/* --- opening --- */

static char *lmdb_path(const char *spec, char **err)
{
    if (strncmp(spec, "lmdb:", 5) != 0) {
        const char *colon = strchr(spec, ':');
        *err = colon ? xasprintf("unsupported map type \"%.*s\" in %s", (int)(colon - spec), spec, spec)
                     : xasprintf("map \"%s\" is not of the form type:name", spec);
        errno = EINVAL;
        return NULL;
    }
    if (spec[5] == 0) {
        *err = xasprintf("map %s: missing path", spec);
        errno = EINVAL;
        return NULL;
    }
    return xasprintf("%s.lmdb", spec + 5);
}

/* Open path read-only into a fresh environment; errno is kept for the caller. */
static int env_open_ro(const char *path, MDB_env **envp, MDB_dbi *dbi, struct stat *st, char **err)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    int rc = mdb_env_create(&env);
    if (rc == 0)
        rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOLOCK | MDB_NOSUBDIR | MDB_NORDAHEAD, 0);
    if (rc == 0 && stat(path, st) < 0)
        rc = errno;
    if (rc == 0)
        rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, NULL, 0, dbi);
    if (rc == 0) {
        mdb_txn_abort(txn);
        *envp = env;
        return 0;
    }
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    *err = xasprintf("open %s: %s", path, mdb_strerror(rc));
    errno = rc > 0 ? rc : EIO;
    return -1;
}

struct map *map_open(const char *spec, char **err)
{
    char *path = lmdb_path(spec, err);
    if (!path)
        return NULL;
    struct map *m = xcalloc(1, sizeof *m);
    struct stat st;
    m->path = path;
    if (env_open_ro(path, &m->env, &m->dbi, &st, err) < 0) {
        int e = errno;
        free(m->path);
        free(m);
        errno = e;
        return NULL;
    }
    m->dev = st.st_dev;
    m->ino = st.st_ino;
    m->checked = time(NULL);
    return m;
}

/* At most once a second: if PATH.lmdb was replaced (newer inode), switch to the new file.
 * When the new file cannot be opened the old snapshot stays in use. */
static void map_refresh(struct map *m)
{
    time_t now = time(NULL);
    if (now == m->checked)
        return;
    m->checked = now;
    struct stat st;
    if (stat(m->path, &st) < 0 || (st.st_dev == m->dev && st.st_ino == m->ino))
        return;
    MDB_env *env;
    MDB_dbi dbi;
    char *err = NULL;
    if (env_open_ro(m->path, &env, &dbi, &st, &err) < 0) {
        free(err);
        return;
    }
    mdb_env_close(m->env);
    m->env = env;
    m->dbi = dbi;
    m->dev = st.st_dev;
    m->ino = st.st_ino;
}

void map_close(struct map *m)
{
    if (!m)
        return;
    mdb_env_close(m->env);
    free(m->path);
    free(m);
}

/* --- reading --- */

static char *lower_key(const char *key)
{
    char *k = xstrdup(key);
    for (char *p = k; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return k;
}

int map_lookup(struct map *m, const char *key, char **value, char **err)
{
    *value = NULL;
    size_t klen = strlen(key);
    if (klen == 0 || klen > MAP_KEY_MAX)
        return 0;
    map_refresh(m);
    char *k = lower_key(key);
    MDB_txn *txn;
    MDB_val kv = {klen, k}, dv;
    int rc = mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
        rc = mdb_get(txn, m->dbi, &kv, &dv);
        if (rc == 0)
            *value = xstrndup(dv.mv_data, dv.mv_size);
        mdb_txn_abort(txn);
    }
    free(k);
    if (rc == 0)
        return 1;
    if (rc == MDB_NOTFOUND)
        return 0;
    *err = xasprintf("%s: %s", m->path, mdb_strerror(rc));
    return -1;
}

int map_iterate(struct map *m, int (*fn)(void *ctx, const char *key, const char *value), void *ctx)
{
    map_refresh(m);
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return -1;
    if (mdb_cursor_open(txn, m->dbi, &cur) != 0) {
        mdb_txn_abort(txn);
        return -1;
    }
    MDB_val k, v;
    int result = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char *ks = xstrndup(k.mv_data, k.mv_size), *vs = xstrndup(v.mv_data, v.mv_size);
        result = fn(ctx, ks, vs);
        free(ks);
        free(vs);
        if (result != 0)
            break;
    }
    if (result == 0 && rc != MDB_NOTFOUND)
        result = -1;
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return result;
}
