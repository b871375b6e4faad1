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
#include "lmdb_env.h"
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
    struct lmdb_env le; /* le.checked: last time the file was stat()ed for replacement */
    MDB_dbi dbi;
};

/* Installed maps are never written: no lock file (see above), no read-ahead. */
static const struct lmdb_env_options map_env_options = {
    .flags = MDB_RDONLY | MDB_NOLOCK | MDB_NORDAHEAD,
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

static int open_dbi(MDB_env *env, MDB_dbi *dbi)
{
    MDB_txn *txn;
    int rc = lmdb_txn_begin(env, MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    rc = mdb_dbi_open(txn, NULL, 0, dbi);
    mdb_txn_abort(txn);
    return rc;
}

/* Open m->path read-only into le (m->le or a fresh one) with its database in *dbi; errno
 * is kept for the caller. */
static int env_open_ro(struct map *m, struct lmdb_env *le, MDB_dbi *dbi, char **err)
{
    char *why = NULL;
    int rc = lmdb_env_open(le, m->path, &map_env_options, &why);
    if (rc == 0) {
        rc = open_dbi(le->env, dbi);
        if (rc != 0) {
            lmdb_env_close(le);
            why = xasprintf("%s: %s", m->path, mdb_strerror(rc));
        }
    }
    if (rc == 0)
        return 0;
    *err = xasprintf("open %s", why);
    free(why);
    errno = rc > 0 ? rc : EIO;
    return -1;
}

struct map *map_open(const char *spec, char **err)
{
    char *path = lmdb_path(spec, err);
    if (!path)
        return NULL;
    struct map *m = xcalloc(1, sizeof *m);
    m->path = path;
    if (env_open_ro(m, &m->le, &m->dbi, err) < 0) {
        int e = errno;
        free(m->path);
        free(m);
        errno = e;
        return NULL;
    }
    m->le.checked = time(NULL);
    return m;
}

/* At most once a second: if PATH.lmdb was replaced (newer inode), switch to the new file.
 * When the new file cannot be opened the old snapshot stays in use. */
static void map_refresh(struct map *m)
{
    if (!lmdb_env_replaced(&m->le, m->path, true))
        return;
    struct lmdb_env fresh = {.checked = m->le.checked};
    MDB_dbi dbi;
    char *err = NULL;
    if (env_open_ro(m, &fresh, &dbi, &err) < 0) {
        free(err);
        return;
    }
    lmdb_env_close(&m->le);
    m->le = fresh;
    m->dbi = dbi;
}

void map_close(struct map *m)
{
    if (!m)
        return;
    lmdb_env_close(&m->le);
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
    int rc = lmdb_txn_begin(m->le.env, MDB_RDONLY, &txn);
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
    int rc = lmdb_txn_begin(m->le.env, MDB_RDONLY, &txn);
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

int map_file_owner(struct map *m, uid_t *uid, mode_t *mode)
{
    int fd; /* the snapshot the last lookup read: no refresh here */
    struct stat st;
    if (mdb_env_get_fd(m->le.env, &fd) != 0) {
        errno = EBADF;
        return -1;
    }
    if (fstat(fd, &st) < 0)
        return -1;
    *uid = st.st_uid;
    *mode = st.st_mode;
    return 0;
}
