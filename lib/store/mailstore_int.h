/* mailstore_int.h - internals shared by mailstore.c (open, records, delivery),
 * mailstore_read.c (reader API), mailstore_update.c (expunge, flags) and mailstore_sync.c.
 * Not a public header.
 *
 * Index layout (doc/mailstore.md): one LMDB file per mailbox with three named databases,
 *   mailboxes:   NAME                   -> v1 record: uidvalidity, uidnext, highestmodseq,
 *                                        messages, size, vsize
 *   messages:  NAME "\0" UID(4, BE)   -> v1 record: flags, modseq, size, vsize, base name
 *   delivered: BORN(8, BE) ID         -> v1 record: UID, mailbox name (exactly-once delivery)
 * Integers are little-endian on disk (keys big-endian so they sort); the first byte of
 * every value is its version.
 *
 * Durability: environments are opened with MDB_NOMETASYNC, so a commit syncs the data
 * pages once (keeping LMDB's integrity) and leaves the meta page to the next commit or to
 * mdb_env_sync(). ms_write() calls mdb_env_sync() after its commit (every change is
 * durable when it returns, as with LMDB's default); delivery uses ms_write_nosync() and
 * syncs after it has released the writer lock, so the syncs of concurrent deliveries
 * overlap instead of queueing behind the lock (mailstore_deliver.c). */
#ifndef POSTHORN_MAILSTORE_INT_H
#define POSTHORN_MAILSTORE_INT_H
#include "buf.h"
#include "list.h"
#include "lmdb_env.h"
#include "mailstore.h"
#include <lmdb.h>
#include <time.h>

#define MS_REC_VERSION 1
/* apply() results besides 0, errno values (> 0) and LMDB codes (<= -30799). */
#define MS_RC_OVERQUOTA (-1)
#define MS_RC_CORRUPT (-2)
#define MS_RC_FILL (-3) /* the caller's fill() failed */
#define MS_RC_DUPLICATE (-4) /* exactly-once delivery: already delivered */

/* One LMDB environment per index file and process, shared by all handles. */
struct ms_env {
    struct lmdb_env le; /* the environment and the identity of its file */
    MDB_dbi mailboxes, messages, delivered;
    unsigned refs;
    unsigned counter; /* for unique file names */
    pid_t pid;        /* of the process that opened it (LMDB environments do not survive fork) */
    int pending_fd;   /* INDEX-pending (mailstore_once.c), -1 until first used */
    time_t readers_checked; /* last mdb_reader_check (stale slots of killed readers) */
    struct ms_env *prev, *next; /* in the registry (mailstore.c) */
};

struct mail_user {
    char *path;  /* base/domain/localpart */
    char *index; /* path/index_name */
    char *host;  /* hostname made safe for Maildir names */
    struct ms_env *e;
};

struct mailbox_rec {
    uint32_t uidvalidity, uidnext;
    uint64_t highestmodseq, messages, size, vsize;
};

struct msg_rec {
    uint32_t flags;
    uint64_t modseq, size, vsize;
    const char *name; /* not NUL-terminated when decoded: use namelen */
    size_t namelen;
};

/* mailstore_once.c: exactly-once delivery records and the pending note. */
void ms_once_key(struct buf *key, const struct delivery_once *o);
/* An earlier copy for key still in the mailbox: MS_RC_DUPLICATE with *uid and *path (its
 * file, malloc'ed); 0 when there is none (no record, or its message is gone); else an
 * errno value or LMDB code. */
int ms_once_find(struct mail_user *mu, MDB_txn *txn, const struct buf *key, uint32_t *uid,
                 char **path);
int ms_once_put(struct mail_user *mu, MDB_txn *txn, const void *key, size_t keylen, uint32_t uid,
                const char *mailbox);
/* Remove a few records born more than keep seconds ago. */
int ms_once_prune(struct mail_user *mu, MDB_txn *txn, long long keep);
struct ms_pending {
    size_t txnid; /* of the transaction that will add the message */
    uint32_t uidvalidity, uid;
    uint64_t size, vsize;
    const char *mailbox, *name; /* name: the base name in new/ */
    const void *key;           /* delivery record key, keylen 0 for none */
    size_t keylen;
};
/* Note the message a transaction is about to rename into new/ (no sync). 0 or errno. */
int ms_pending_note(struct mail_user *mu, const struct ms_pending *p);
/* At the start of a write transaction: index the noted message if its writer died
 * between rename and commit. 0, an errno value or an LMDB code. */
int ms_pending_recover(struct mail_user *mu, MDB_txn *txn);

/* Normalise and check a mailbox name ("inbox" -> "INBOX"); malloc'ed, or NULL with *err. */
char *ms_mailbox_name(const char *mailbox, char **err);
/* Directory of a (normalised) mailbox: the root for INBOX, else path/.NAME; malloc'ed. */
char *ms_mailbox_dir(const struct mail_user *mu, const char *name);

int ms_mailbox_get(struct mail_user *mu, MDB_txn *txn, const char *name, struct mailbox_rec *f);
int ms_mailbox_put(struct mail_user *mu, MDB_txn *txn, const char *name, const struct mailbox_rec *f);
void ms_mailbox_new(struct mailbox_rec *f);
void ms_msg_key(struct buf *key, const char *mailbox, uint32_t uid);
/* The UID of a message key of mailbox, or 0 when the key belongs to another mailbox. */
uint32_t ms_msg_key_uid(const MDB_val *key, const char *mailbox);
int ms_msg_get(struct mail_user *mu, MDB_txn *txn, const char *mailbox, uint32_t uid, struct msg_rec *m);
int ms_msg_decode(const MDB_val *v, struct msg_rec *m);
int ms_msg_put(struct mail_user *mu, MDB_txn *txn, const char *mailbox, uint32_t uid, const struct msg_rec *m);

/* Begin a transaction (adopting a map grown by another process). */
int ms_begin(struct mail_user *mu, bool write, MDB_txn **txn);
/* Run apply() in a write transaction, commit and make the commit durable; on failure (or a
 * failed commit) call undo() to revert file system changes apply() made. Grows the map and
 * retries on MDB_MAP_FULL. Returns 0, an errno value, an LMDB code or an MS_RC_ value. */
int ms_write(struct mail_user *mu, int (*apply)(struct mail_user *mu, MDB_txn *txn, void *arg),
             void (*undo)(void *arg), void *arg);
/* The same without the final mdb_env_sync(): the caller syncs (ms_sync) before it relies
 * on the change surviving a system crash. */
int ms_write_nosync(struct mail_user *mu, int (*apply)(struct mail_user *mu, MDB_txn *txn, void *arg),
                    void (*undo)(void *arg), void *arg);
/* Make every commit so far durable (the meta page MDB_NOMETASYNC left unsynced). */
int ms_sync(struct mail_user *mu);
/* Make the commit of transaction txnid durable; skips the sync when a later commit has
 * already done it (see mailstore.c). */
int ms_sync_txn(struct mail_user *mu, size_t txnid);
const char *ms_strerror(int rc);

/* "DFPRST" letters of flags into out (at least 8 bytes). */
const char *ms_flags_str(uint32_t flags, char *out);
uint32_t ms_flags_parse(const char *letters);
/* Path of a message file in dir (new/NAME, cur/NAME:2,FLAGS or any cur/NAME:...), malloc'ed,
 * or NULL with errno. */
char *ms_locate(const char *dir, const char *name, size_t namelen, uint32_t flags);
/* Bytes of the file at fd counted with CRLF line ends; -1 on a read error. */
long long ms_vsize_fd(int fd);
/* Create dir/{cur,new,tmp} (mode 0700); mailboxes also get the maildirfolder marker. */
int ms_make_maildir(const char *dir, bool mailbox);

#endif
