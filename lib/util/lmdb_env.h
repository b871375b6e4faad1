/* lmdb_env.h - opening an LMDB environment the one way Posthorn does (the account
 * database, the maps, the mailbox indexes; doc/mailstore.md): a single-file environment
 * whose identity (device and inode) is remembered, so a file replaced underneath
 * (posthorn map build renames a new file in; an account database deleted and rebuilt) is
 * noticed and the caller can open it again (into a fresh struct lmdb_env, keeping the old
 * one until that worked, or after closing it); and transactions that adopt a map another process
 * grew (MDB_MAP_RESIZED).
 *
 * LMDB allows one open of a file per process: a second lmdb_env_open of a file this
 * process has open (same device, inode and flags) shares the MDB_env of the first, and
 * lmdb_env_close closes it with its last user (thread-safe). A struct lmdb_env itself is
 * not thread-safe, and its users must not nest read transactions in one thread.
 * Functions return 0 or an LMDB code / errno value and, where they take err, set *err to
 * a malloc'ed message on failure; nothing is logged. */
#ifndef POSTHORN_LMDB_ENV_H
#define POSTHORN_LMDB_ENV_H
#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct lmdb_env_options {
    unsigned flags;      /* for mdb_env_open; MDB_NOSUBDIR is always added */
    mode_t mode;         /* of a file created */
    unsigned maxdbs;     /* named databases, 0 for none */
    unsigned maxreaders; /* 0: LMDB's default */
    size_t mapsize;      /* 0: LMDB's default */
    bool check_readers;  /* clear the slots of dead readers once opened (needs a lock file) */
};

struct lmdb_env {
    MDB_env *env; /* NULL when not open */
    dev_t dev;    /* identity of the file opened */
    ino_t ino;
    time_t checked; /* last time lmdb_env_replaced() looked (lmdb_env_open leaves it) */
};

/* Open path (a single file) into le (zeroed by the caller the first time). On failure
 * le->env is NULL and *err says why ("PATH: reason"). */
int lmdb_env_open(struct lmdb_env *le, const char *path, const struct lmdb_env_options *o,
                  char **err);
void lmdb_env_close(struct lmdb_env *le);
/* Whether path names another file than the one open (replaced or deleted). With
 * throttle, looks at most once a second and answers false in between. */
bool lmdb_env_replaced(struct lmdb_env *le, const char *path, bool throttle);
/* mdb_txn_begin, adopting a map grown by another process (MDB_MAP_RESIZED: take the size
 * from the file with mdb_env_set_mapsize(env, 0), then retry once). */
int lmdb_txn_begin(MDB_env *env, unsigned flags, MDB_txn **txn);

#endif
