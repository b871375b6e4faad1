/* mailstore_int.h - internals shared by the files of lib/store. Not a public header.
 *
 *   mailstore.c           open, the environment registry, transactions
 *   mailstore_rec.c       index records: encoding, v1 upgrade, key prefixes, counters
 *   mailstore_letters.c   Maildir info letters (flags and keyword letters), file lookup
 *   mailstore_keywords.c  keyword tables and the dovecot-keywords file
 *   mailstore_deliver.c   delivery and APPEND (mailstore_append.c)
 *   mailstore_once.c      exactly-once delivery records, the pending note
 *   mailstore_journal.c   the file-operation journal of COPY, MOVE, RENAME, DELETE
 *   mailstore_read.c      reader API
 *   mailstore_store.c     flag changes (STORE)
 *   mailstore_expunge.c   expunge and the expunge log
 *   mailstore_qresync.c   changed-since and expunged-since queries
 *   mailstore_copy.c      COPY and MOVE
 *   mailstore_folders.c   CREATE, DELETE, SPECIAL-USE, default mailboxes
 *   mailstore_rename.c    RENAME
 *   mailstore_subs.c      subscriptions
 *   mailstore_cache.c     the per-message cache
 *   mailstore_status.c    STATUS, \Recent, watch paths
 *   mailstore_sync.c      mailbox_sync
 *
 * Index layout (doc/mailstore.md): one LMDB file per user with these named databases,
 *   folders:   NAME                          -> v2 mailbox record (v1 still read)
 *   messages:  NAME "\0" UID(4, BE)          -> v2 message record (v1 still read)
 *   delivered: BORN(8, BE) ID                -> v1: UID, mailbox name (exactly-once delivery)
 *   keywords:  NAME "\0" INDEX(1)            -> v1: keyword name
 *   expunged:  NAME "\0" MODSEQ(8, BE) UID(4, BE) -> v1 (the expunge log, nothing else)
 *   cache:     NAME "\0" UID(4, BE) FIELD(1) -> v1: the blob
 *   meta:      "uidvalidity" -> u32 the last UIDVALIDITY given; "defaults" -> u8 1
 * Integers are little-endian in values, big-endian in keys (so they sort); the first byte
 * of every value is its version.
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
#include <stdatomic.h>
#include <time.h>

#define MS_REC_VERSION 1 /* delivered, keywords, expunged and cache values */
#define MS_MAILBOX_VERSION 2
#define MS_MSG_VERSION 2
/* apply() results besides 0, errno values (> 0) and LMDB codes (<= -30799). */
#define MS_RC_OVERQUOTA (-1)
#define MS_RC_CORRUPT (-2)
#define MS_RC_FILL (-3) /* the caller's fill() failed */
#define MS_RC_DUPLICATE (-4) /* exactly-once delivery: already delivered */
#define MS_RC_NONEXISTENT (-5)
#define MS_RC_EXISTS (-6)
#define MS_RC_INVALID (-7)
#define MS_RC_LIMIT (-8)
#define MS_RC_CANNOT (-9)

#define MS_LETTER_KEYWORDS 26 /* keywords 0..25 are the letters a..z in file names */
#define MS_LETTER_MASK ((UINT64_C(1) << MS_LETTER_KEYWORDS) - 1)

/* One LMDB environment per index file and process, shared by all handles. */
struct ms_env {
    struct lmdb_env le; /* the environment and the identity of its file */
    MDB_dbi mailboxes, messages, delivered, keywords, expunged, cache, meta;
    unsigned refs;
    unsigned counter; /* for unique file names */
    pid_t pid;        /* of the process that opened it (LMDB environments do not survive fork) */
    int pending_fd;   /* INDEX-pending (mailstore_once.c), -1 until first used */
    int journal_fd;   /* INDEX-journal (mailstore_journal.c), -1 until first used */
    size_t journal_txnid; /* of the last journal this process wrote */
    time_t readers_checked; /* last mdb_reader_check (stale slots of killed readers) */
    atomic_size_t synced; /* every commit up to this ID is on disk (ms_note_synced) */
    struct ms_env *prev, *next; /* in the registry (mailstore.c) */
};

struct mail_user {
    char *path;  /* base/domain/localpart */
    char *index; /* path/index_name */
    char *host;  /* hostname made safe for Maildir names */
    struct ms_env *e;
    bool defer_syncs;              /* mail_user_defer_syncs */
    struct mailstore_syncs *syncs; /* noted and not yet taken */
};

struct mailbox_rec {
    uint32_t uidvalidity, uidnext;
    uint64_t highestmodseq, messages, size, vsize;
    uint64_t unseen;        /* messages without \Seen */
    uint32_t first_recent;  /* \Recent: UIDs from here on have not been claimed */
    uint32_t special_use;   /* MS_USE_* */
    uint64_t expunge_floor; /* the expunge log holds every expunge with MODSEQ > this */
    bool v1;                /* read from a version 1 record (not stored) */
};

struct msg_rec {
    uint32_t flags;
    uint64_t modseq, size, vsize;
    uint64_t keywords, internaldate;
    const char *name; /* not NUL-terminated when decoded: use namelen */
    size_t namelen;
};

/* One more holder of e (a handle, or deferred syncs), and one less (the last closes it).
 * The thread that opens handles only. */
void ms_env_hold(struct ms_env *e);
void ms_env_release(struct ms_env *e);

/* --- mailstore_syncs.c: deferred syncs --- */
struct ms_fileops;
/* Sync after a commit (txnid, see ms_sync_txn) and the directories of ops' done operations
 * (as ms_fileops_finish does): now, or noted on mu when its syncs are deferred. ops may be
 * NULL; a MS_OP_DELETE among them is never deferred (its tree is removed now). */
int ms_durable(struct mail_user *mu, size_t txnid, struct ms_fileops *ops);
/* ms_durable for a commit whose ops were journaled (COPY, MOVE): the journal is cleared
 * once the syncs are done, now or, deferred, when the set that ran them is freed (a set
 * that failed or never ran leaves it to the next writer, which completes it). */
int ms_durable_journaled(struct mail_user *mu, size_t txnid, struct ms_fileops *ops);
/* The same for a commit whose files went into dirs[0..n) (new/ or cur/ of an APPEND):
 * fsync each directory (once), then ms_sync_txn; or note them when syncs are deferred. */
int ms_durable_dirs(struct mail_user *mu, size_t txnid, char *const *dirs, size_t n);
/* Every commit up to ID id is on disk (any thread). A commit syncs the file's data before
 * it writes its meta page, which MDB_NOMETASYNC leaves unsynced; so the data sync of
 * commit T writes out the meta pages of every commit before it: once T's commit returned,
 * or once a transaction sees T as the last commit (a reader sees T, a writer is T + 1),
 * everything up to T - 1 is durable (ms_begin and ms_write_txn note it). The deferred
 * syncs skip an index sync such a later commit did already (mailstore_syncs.c). */
void ms_note_synced(struct ms_env *e, size_t id);
/* ms_write's transaction without its sync: the ID of the transaction in *txnid (0 when it
 * changed nothing: LMDB then commits nothing and gives the ID to the next writer). */
int ms_write_txn(struct mail_user *mu, int (*apply)(struct mail_user *mu, MDB_txn *txn, void *arg),
                 void (*undo)(void *arg), void *arg, size_t *txnid);

/* --- mailstore_once.c: exactly-once delivery records and the pending note --- */
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

/* --- mailstore_journal.c: file operations that can be undone and are journaled --- */
enum ms_fileop_type {
    MS_OP_RENAME = 'R', /* rename from -> to (never replacing) */
    MS_OP_LINK = 'L',   /* hard link (or copy) from -> to */
    MS_OP_DELETE = 'D'  /* rename a directory from -> to, remove to after the commit */
};
struct ms_fileop {
    char type;
    char *from, *to;
    bool done;
};
struct ms_fileops {
    struct ms_fileop *v;
    size_t n;
};
/* Append an operation (from and to are taken over). */
void ms_fileops_add(struct ms_fileops *ops, char type, char *from, char *to);
/* Do the operations not done yet, in order; 0 or the errno of the first that failed. */
int ms_fileops_run(struct ms_fileops *ops);
/* Undo those done, last first (best effort). */
void ms_fileops_undo(struct ms_fileops *ops);
/* After the commit: remove the trees of MS_OP_DELETE targets; fsync the directories the
 * operations changed. 0 or errno. */
int ms_fileops_finish(struct ms_fileops *ops);
void ms_fileops_free(struct ms_fileops *ops);
/* Record ops for the transaction txn in INDEX-journal and fdatasync it, before any of them
 * is done. 0 or errno. */
int ms_journal_write(struct mail_user *mu, MDB_txn *txn, const struct ms_fileops *ops);
/* Forget the journal this process wrote last (after the commit and the syncs, or after
 * undo), unless another writer has replaced it meanwhile. */
void ms_journal_clear(struct mail_user *mu);
/* The same for the journal of transaction txnid (a deferred set, once its syncs are done). */
void ms_journal_clear_txn(struct ms_env *e, size_t txnid);
/* At the start of a write transaction: a journal whose transaction never committed is
 * undone, one whose transaction committed is completed; then it is cleared. */
int ms_journal_recover(struct mail_user *mu, MDB_txn *txn);
/* rm -rf of a directory tree (no symlinks followed). 0 or errno. */
int ms_remove_tree(const char *dir);

/* --- mailstore.c: names, directories, transactions --- */
/* Normalise and check a mailbox name ("inbox" -> "INBOX"); malloc'ed, or NULL with *err. */
char *ms_mailbox_name(const char *mailbox, char **err);
/* Directory of a (normalised) mailbox: the root for INBOX, else path/.NAME; malloc'ed. */
char *ms_mailbox_dir(const struct mail_user *mu, const char *name);
/* A new unique Maildir base name "SECONDS.M<usec>P<pid>Q<n>.HOST"; *sec gets SECONDS. */
char *ms_unique_name(struct mail_user *mu, uint64_t *sec);
/* Create dir/{cur,new,tmp} (mode 0700); mailboxes also get the maildirfolder marker. */
int ms_make_maildir(const char *dir, bool mailbox);

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
 * already done it, or when txnid changed nothing (see mailstore.c). */
int ms_sync_txn(struct mail_user *mu, size_t txnid);
const char *ms_strerror(int rc);
/* An apply() result as a mailstore_result, with *err worded (prefixed by what) unless 0. */
enum mailstore_result ms_result(int rc, const char *what, char **err);
/* Begin a read transaction on a normalised mailbox name: 0, or -1 with *err. */
int ms_read_begin(struct mail_user *mu, const char *mailbox, char **name, MDB_txn **txn, char **err);

/* --- mailstore_rec.c: records --- */
void ms_put_le(struct buf *b, uint64_t v, int bytes);
uint64_t ms_get_le(const unsigned char *p, int bytes);
void ms_put_be(struct buf *b, uint64_t v, int bytes);
uint64_t ms_get_be(const unsigned char *p, int bytes);
/* A fresh mailbox record with a UIDVALIDITY unique for the user (meta "uidvalidity"). */
int ms_mailbox_new(struct mail_user *mu, MDB_txn *txn, struct mailbox_rec *f);
/* Decode a mailbox record without the v1 upgrade (unseen is then UINT64_MAX). */
int ms_mailbox_decode(const MDB_val *v, struct mailbox_rec *f);
/* Read a mailbox record without the v1 upgrade (when the counters it adds are not used). */
int ms_mailbox_peek(struct mail_user *mu, MDB_txn *txn, const char *name, struct mailbox_rec *f);
/* Read a mailbox record; a v1 record is completed (unseen counted, expunge log floor at
 * HIGHESTMODSEQ, first recent UID 1) and written as v2 with the next put. */
int ms_mailbox_get(struct mail_user *mu, MDB_txn *txn, const char *name, struct mailbox_rec *f);
int ms_mailbox_put(struct mail_user *mu, MDB_txn *txn, const char *name, const struct mailbox_rec *f);
/* ms_mailbox_get for a mailbox that must exist: MS_RC_NONEXISTENT when it does not, except
 * INBOX, which always exists (its record is made). */
int ms_mailbox_need(struct mail_user *mu, MDB_txn *txn, const char *name, struct mailbox_rec *f);
/* Add (add true) or remove a message from the counters of f. */
void ms_mailbox_count(struct mailbox_rec *f, const struct msg_rec *m, bool add);
void ms_msg_key(struct buf *key, const char *mailbox, uint32_t uid);
/* The UID of a message key of mailbox, or 0 when the key belongs to another mailbox. */
uint32_t ms_msg_key_uid(const MDB_val *key, const char *mailbox);
int ms_msg_get(struct mail_user *mu, MDB_txn *txn, const char *mailbox, uint32_t uid, struct msg_rec *m);
int ms_msg_decode(const MDB_val *v, struct msg_rec *m);
int ms_msg_put(struct mail_user *mu, MDB_txn *txn, const char *mailbox, uint32_t uid, const struct msg_rec *m);
/* Remove a message's entry and its cache blobs. */
int ms_msg_del(struct mail_user *mu, MDB_txn *txn, const char *mailbox, uint32_t uid);
/* Call fn for each message of mailbox with UID >= first, in UID order; m->name points into
 * the map. 0, an LMDB code, MS_RC_CORRUPT or fn's non-zero. */
int ms_msg_each(struct mail_user *mu, MDB_txn *txn, const char *mailbox, uint32_t first,
                int (*fn)(void *ctx, uint32_t uid, const struct msg_rec *m), void *ctx);
/* Delete every key of dbi that starts with prefix (len bytes). */
int ms_del_prefix(MDB_txn *txn, MDB_dbi dbi, const void *prefix, size_t len);
/* Re-key every entry of dbi whose key starts with "from\0" to start with "to\0". */
int ms_move_prefix(MDB_txn *txn, MDB_dbi dbi, const char *from, const char *to);
/* meta database */
int ms_meta_get(struct mail_user *mu, MDB_txn *txn, const char *key, uint64_t *v);
int ms_meta_put(struct mail_user *mu, MDB_txn *txn, const char *key, uint64_t v);
/* Sum of the mailboxes' sizes in txn; -1 with *rc on error. */
long long ms_usage_txn(struct mail_user *mu, MDB_txn *txn, int *rc);

/* --- mailstore_letters.c: Maildir info letters --- */
#define MS_LETTERS_MAX 40
/* "DFPRST" letters of flags then a..z of keywords 0..25 into out (MS_LETTERS_MAX bytes). */
const char *ms_letters(uint32_t flags, uint64_t keywords, char *out);
/* Parse the letters after ":2,": flags and the bitmask of letters a..z (bit 0 = a). */
void ms_letters_parse(const char *letters, uint32_t *flags, uint32_t *az);
/* Path of a message file in dir (new/NAME, cur/NAME:2,LETTERS or any cur/NAME:...),
 * malloc'ed, or NULL with errno. */
char *ms_locate(const char *dir, const char *name, size_t namelen, uint32_t flags, uint64_t keywords);
/* Where a message with these flags and keywords lives: dir/cur/NAME:2,LETTERS. */
char *ms_cur_path(const char *dir, const char *name, size_t namelen, uint32_t flags, uint64_t keywords);
/* The Unix time a Maildir base name starts with, 0 when it does not. */
uint64_t ms_name_time(const char *name, size_t namelen);

/* --- mailstore_keywords.c --- */
struct ms_keywords {
    char *name[MS_KEYWORDS_MAX]; /* NULL where unused */
};
int ms_keywords_load(struct mail_user *mu, MDB_txn *txn, const char *mailbox, struct ms_keywords *k);
void ms_keywords_free(struct ms_keywords *k);
/* Index of name (case-insensitive), or -1. */
int ms_keyword_find(const struct ms_keywords *k, const char *name);
/* Bits of the keywords the table has. */
uint64_t ms_keywords_mask(const struct ms_keywords *k);
/* Add name at index at (or the first free index when at < 0); *idx gets it. The caller
 * rewrites the folder's dovecot-keywords file (ms_keywords_write_file) before its commit.
 * 0, MS_RC_LIMIT or an LMDB code. */
int ms_keyword_put(struct mail_user *mu, MDB_txn *txn, const char *mailbox, struct ms_keywords *k,
                   const char *name, int at, unsigned *idx);
/* Read a dovecot-keywords file into k (missing: empty). 0 or errno. */
int ms_keywords_read_file(const char *dir, struct ms_keywords *k);
/* Write dir/dovecot-keywords from k's first 26 entries (durable, atomic) unless it says
 * that already. 0 or errno. */
int ms_keywords_write_file(const char *dir, const struct ms_keywords *k);
/* Map the keywords in mask from one table to dst's table to (adding the names it lacks):
 * *out gets the bits in to. 0, MS_RC_LIMIT or an LMDB code. */
int ms_keywords_map(struct mail_user *mu, MDB_txn *txn, const char *dst, const struct ms_keywords *from,
                    struct ms_keywords *to, uint64_t mask, uint64_t *out);

/* --- mailstore_expunge.c --- */
/* Log the expunge of uid at modseq (QRESYNC). */
int ms_log_expunge(struct mail_user *mu, MDB_txn *txn, const char *mailbox, uint64_t modseq,
                   uint32_t uid);

/* --- mailstore_subs.c --- */
/* Inside a write transaction (the writer lock serialises the file's updates): subscribe
 * (on) or unsubscribe the names. 0 or errno. */
int ms_subs_update(struct mail_user *mu, const char *const *names, size_t n, bool on);

/* --- mailstore_folders.c --- */
/* Create the directories and the index record of a mailbox inside txn. */
int ms_folder_make(struct mail_user *mu, MDB_txn *txn, const char *name, unsigned special_use);

/* --- mailstore_deliver.c: delivery and APPEND --- */
struct ms_deliver_args {
    const char *mailbox;
    long long quota;
    const struct delivery_once *once; /* exactly-once delivery, or NULL */
    bool append;                      /* APPEND: flags, keywords, internaldate; no creation */
    uint32_t flags;
    uint64_t keywords;
    uint64_t internaldate; /* 0: now */
    /* import (mailstore_import.c): keep another server's base name and UID, and cur/ */
    const char *keep_name; /* NULL: a new unique name with ,S= and ,W= */
    uint32_t keep_uid;     /* 0: UIDNEXT */
    bool keep_cur;         /* cur/NAME:2,LETTERS even without letters */
    uint32_t uid, uidvalidity; /* results */
    bool duplicate;
};
enum mailstore_result ms_deliver(struct mail_user *mu, struct ms_deliver_args *a,
                                 int (*fill)(void *ctx, int fd), void *ctx, char **err);
/* Several APPENDs in one write transaction (MULTIAPPEND, import): args[i] (append set)
 * with the content from msgs[i].fill; msgs[i].uid gets the UID. before() runs inside the
 * transaction ahead of the messages, after() behind them (either may be NULL); precheck
 * false skips APPEND's look for the mailbox (before() makes it). 0 or an apply() result;
 * nothing is left behind when it fails. */
struct ms_batch_hooks {
    int (*before)(struct mail_user *mu, MDB_txn *txn, void *arg);
    int (*after)(struct mail_user *mu, MDB_txn *txn, void *arg);
    void *arg;
    bool no_precheck;
};
int ms_deliver_many(struct mail_user *mu, const char *name, struct ms_deliver_args *args,
                    struct mailbox_append_msg *msgs, size_t n, const struct ms_batch_hooks *hooks);
long long ms_vsize_fd(int fd);

#endif
