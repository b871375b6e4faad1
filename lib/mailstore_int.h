/* mailstore_int.h - internals shared by mailstore.c (open, records, delivery),
 * mailstore_read.c (reader API, expunge, flags) and mailstore_sync.c. Not a public header.
 *
 * Index layout (doc/mailstore.md): one LMDB file per mailbox with two named databases,
 *   folders:  NAME                   -> v1 record: uidvalidity, uidnext, highestmodseq,
 *                                       messages, size, vsize
 *   messages: NAME "\0" UID(4, BE)   -> v1 record: flags, modseq, size, vsize, base name
 * Integers are little-endian on disk; the first byte of every value is its version. */
#ifndef POSTHORN_MAILSTORE_INT_H
#define POSTHORN_MAILSTORE_INT_H
#include "buf.h"
#include "mailstore.h"
#include <lmdb.h>

#define MS_REC_VERSION 1
/* apply() results besides 0, errno values (> 0) and LMDB codes (<= -30799). */
#define MS_RC_OVERQUOTA (-1)
#define MS_RC_CORRUPT (-2)
#define MS_RC_FILL (-3) /* the caller's fill() failed */

/* One LMDB environment per index file and process, shared by all handles. */
struct ms_env {
    dev_t dev;
    ino_t ino;
    MDB_env *env;
    MDB_dbi folders, messages;
    unsigned refs;
    unsigned counter; /* for unique file names */
    struct ms_env *next;
};

struct mailbox {
    char *path;  /* base/domain/localpart */
    char *index; /* path/index_name */
    char *host;  /* hostname made safe for Maildir names */
    struct ms_env *e;
};

struct folder_rec {
    uint32_t uidvalidity, uidnext;
    uint64_t highestmodseq, messages, size, vsize;
};

struct msg_rec {
    uint32_t flags;
    uint64_t modseq, size, vsize;
    const char *name; /* not NUL-terminated when decoded: use namelen */
    size_t namelen;
};

/* Normalise and check a folder name ("inbox" -> "INBOX"); malloc'ed, or NULL with *err. */
char *ms_folder_name(const char *folder, char **err);
/* Directory of a (normalised) folder: the root for INBOX, else path/.NAME; malloc'ed. */
char *ms_folder_dir(const struct mailbox *mb, const char *name);

int ms_folder_get(struct mailbox *mb, MDB_txn *txn, const char *name, struct folder_rec *f);
int ms_folder_put(struct mailbox *mb, MDB_txn *txn, const char *name, const struct folder_rec *f);
void ms_folder_new(struct folder_rec *f);
void ms_msg_key(struct buf *key, const char *folder, uint32_t uid);
/* The UID of a message key of folder, or 0 when the key belongs to another folder. */
uint32_t ms_msg_key_uid(const MDB_val *key, const char *folder);
int ms_msg_get(struct mailbox *mb, MDB_txn *txn, const char *folder, uint32_t uid, struct msg_rec *m);
int ms_msg_decode(const MDB_val *v, struct msg_rec *m);
int ms_msg_put(struct mailbox *mb, MDB_txn *txn, const char *folder, uint32_t uid, const struct msg_rec *m);

/* Begin a transaction (adopting a map grown by another process). */
int ms_begin(struct mailbox *mb, bool write, MDB_txn **txn);
/* Run apply() in a write transaction and commit; on failure (or a failed commit) call
 * undo() to revert file system changes apply() made. Grows the map and retries on
 * MDB_MAP_FULL. Returns 0, an errno value, an LMDB code or an MS_RC_ value. */
int ms_write(struct mailbox *mb, int (*apply)(struct mailbox *mb, MDB_txn *txn, void *arg),
             void (*undo)(void *arg), void *arg);
const char *ms_strerror(int rc);

/* "DFPRST" letters of flags into out (at least 8 bytes). */
const char *ms_flags_str(uint32_t flags, char *out);
uint32_t ms_flags_parse(const char *letters);
/* Path of a message file in dir (new/NAME, cur/NAME:2,FLAGS or any cur/NAME:...), malloc'ed,
 * or NULL with errno. */
char *ms_locate(const char *dir, const char *name, size_t namelen, uint32_t flags);
/* Bytes of the file at fd counted with CRLF line ends; -1 on a read error. */
long long ms_vsize_fd(int fd);
/* Create dir/{cur,new,tmp} (mode 0700); folders also get the maildirfolder marker. */
int ms_make_maildir(const char *dir, bool folder);

#endif
