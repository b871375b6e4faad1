/* mailstore.h - the mail store (doc/architecture.md, "Store"). Names follow IMAP: a user's
 * mail (struct mail_user) holds mailboxes (INBOX, Sent, A.B, ...), which hold messages.
 * virtual_mailbox_base/DOMAIN/LOCALPART/ is a Maildir++ (INBOX in cur/new/tmp, mailboxes
 * as .Name, Dovecot's dovecot-keywords and subscriptions files), with an LMDB index beside
 * it (mailbox_index_name) holding per mailbox UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ,
 * counters, SPECIAL-USE and a keyword table, and per message UID -> file name, flags,
 * keywords, MODSEQ, INTERNALDATE, size and CRLF size; also an expunge log, a per-message
 * cache and the exactly-once delivery records. The on-disk layout is documented in
 * doc/mailstore.md. Delivery writes tmp/NAME and fsyncs it; one LMDB write transaction
 * assigns the UID, renames the file into new/ and commits, so UIDs exist from the first
 * moment and follow rename order; then, outside the writer lock so that concurrent
 * deliveries overlap, new/ and the index are fsynced before mailbox_deliver returns MS_OK.
 * A file found in new/ or cur/ without an index entry (a crash between rename and commit)
 * is indexed by mailbox_sync(); an entry whose file did not survive a system crash is
 * dropped by it. The second half of this header is what imapd needs (IMAP4rev1, IMAP4rev2,
 * CONDSTORE/QRESYNC, UIDPLUS, MOVE, SPECIAL-USE). */
#ifndef POSTHORN_MAILSTORE_H
#define POSTHORN_MAILSTORE_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct mail_user;

enum mailstore_result {
    MS_OK = 0,
    MS_TEMPFAIL = -1,    /* I/O error, disk full: defer */
    MS_OVERQUOTA = -2,   /* temporary: defer until quota is raised or mail removed */
    MS_NONEXISTENT = -3, /* no such mailbox (IMAP: NO [TRYCREATE] or [NONEXISTENT]) */
    MS_EXISTS = -4,      /* the mailbox exists already (IMAP: NO [ALREADYEXISTS]) */
    MS_INVALID = -5,     /* invalid mailbox name or keyword (IMAP: NO [CANNOT] / BAD) */
    MS_LIMIT = -6,       /* the mailbox's keyword table is full (IMAP: NO [LIMIT]) */
    MS_CANNOT = -7       /* not allowed: delete INBOX, rename into itself (NO [CANNOT]) */
};

/* Open (create when create is true) a user's mail: the Maildir++ root
 * base/domain/localpart and its index. NULL with *err when it cannot. */
struct mail_user *mail_user_open(const char *base, const char *domain, const char *localpart,
                             const char *index_name, bool create, char **err);
void mail_user_close(struct mail_user *mu);
/* A commit of another process is between its last write to the index (its meta page, which
 * inotify reports) and the moment LMDB shows it to readers (the transaction ID in the lock
 * file's shared memory, a store with no event): a reader that looks now sees the state
 * before it, and no further event will come. imapd's IDLE looks again then (watch.c). */
bool mail_user_commit_in_flight(struct mail_user *mu);
const char *mail_user_path(const struct mail_user *mu);

/* Deliver one message into mailbox ("INBOX" or a mailbox name). fill() writes the complete
 * message into fd (an open tmp file) and returns 0, or -1 on failure. quota is the limit in
 * bytes for all of the user's mailboxes (0 = unlimited): when current usage is already at or above it
 * the result is MS_OVERQUOTA. On success *uid is the new UID. */
enum mailstore_result mailbox_deliver(struct mail_user *mu, const char *mailbox,
                                      long long quota, int (*fill)(void *ctx, int fd),
                                      void *ctx, uint32_t *uid, char **err);
/* --- additions for deliverers that keep handles open and deliver exactly once --- */

/* False when the user's index file was removed or replaced since mail_user_open (the
 * user's mail was deleted or recreated): a cached handle must then be closed and reopened. */
bool mail_user_current(const struct mail_user *mu);

/* Exactly-once delivery. A delivery request repeated after a crash or a lost reply must
 * not write a second copy. mailbox_deliver_once() records "id -> UID" in the index in the
 * same write transaction as the message. If id is already recorded and its message is
 * still in the mailbox (entry and file), nothing is written: the first copy is made
 * durable (its directory and the index fsynced), *uid is its UID, *duplicate is true and
 * the result is MS_OK. If that message is gone (expunged, or lost in a system crash) the
 * message is delivered again. Records are ordered by born and pruned (a few per delivery)
 * once born + keep lies in the past; keep must cover every repetition of the request.
 * once may be NULL (plain mailbox_deliver). duplicate may be NULL. */
#define DELIVERY_ONCE_ID_MAX 400
struct delivery_once {
    const char *id;  /* 1..DELIVERY_ONCE_ID_MAX bytes, e.g. "QUEUEID:address" */
    long long born;  /* Unix seconds, e.g. the message's arrival */
    long long keep;  /* seconds after born the record is kept */
};
enum mailstore_result mailbox_deliver_once(struct mail_user *mu, const char *mailbox,
                                           long long quota, const struct delivery_once *once,
                                           int (*fill)(void *ctx, int fd), void *ctx,
                                           uint32_t *uid, bool *duplicate, char **err);

/* Usage in bytes of all of the user's mailboxes according to the index (-1 on error). */
long long mail_user_usage(struct mail_user *mu);
/* Index files present in the Maildir but missing from the index; drop index entries whose
 * file is gone. Returns number of changes or -1. Also takes flag changes made by hand to
 * cur/ names into the index and removes tmp/ files older than 36 hours. */
int mailbox_sync(struct mail_user *mu, const char *mailbox, char **err);
/* Would mailbox_sync change anything? A look at new/ and cur/ against the index without the
 * writer lock (cheap when nothing differs: no lock, no write). 1 yes (or maybe: a writer
 * between its rename and its commit also differs), 0 no, -1 error with *err. */
int mailbox_sync_needed(struct mail_user *mu, const char *mailbox, char **err);
/* The same in two halves, so that the directory reads of a big folder can run off the
 * event loop: mailbox_scan_new (the thread of mu) names the folder; mailbox_scan_read, on any
 * thread (it touches only sc and the file system; call it once), reads new/ and cur/ and
 * removes old tmp/ files; then mailbox_sync_scanned or mailbox_sync_needed_scanned (the
 * thread of mu again) compare those files with the index, as the one-call forms do. A scan
 * older than the index is no harm: every difference is looked at again under the writer
 * lock before it is acted on (doc/mailstore.md, "Sync"). A failed read makes them return
 * -1 with its error in *err. */
struct mailbox_scan;
struct mailbox_scan *mailbox_scan_new(struct mail_user *mu, const char *mailbox, char **err);
int mailbox_scan_read(struct mailbox_scan *sc); /* 0 or an errno value */
int mailbox_sync_scanned(struct mail_user *mu, const struct mailbox_scan *sc, char **err);
/* mailbox_sync_scanned in slices, so that the first sync of a big folder does not hold
 * the loop (nor the writer lock) for all of it: at most max_new files without an entry get
 * one per call (0: all), in name order; *more says that files were left for another call
 * with the same scan. Each call compares everything else in full; a message delivered
 * between two calls takes the next UID before the files left. */
int mailbox_sync_scanned_some(struct mail_user *mu, const struct mailbox_scan *sc, size_t max_new,
                              bool *more, char **err);
int mailbox_sync_needed_scanned(struct mail_user *mu, const struct mailbox_scan *sc, char **err);
void mailbox_scan_free(struct mailbox_scan *sc); /* NULL is a no-op */
/* (Only INBOX is made by a sync: another folder without an index record is MS_RC_NONEXISTENT
 * for mailbox_sync*, and nothing to do for mailbox_sync_needed*.) */
/* A folder with many files not yet indexed (copied in by hand): the sync reads each of
 * them (size, CRLF size, mtime), which can take seconds. To do that off the loop too:
 * mailbox_scan_unindexed (the thread of mu; a read transaction) marks the files of sc that
 * have no index entry and returns how many (-1 with *err); mailbox_scan_measure (any thread,
 * after it) reads them; the sync then only checks under the writer lock that each is still
 * there. mailbox_scan_files: the files read (0 after a failed read). */
size_t mailbox_scan_files(const struct mailbox_scan *sc);
int mailbox_scan_unindexed(struct mail_user *mu, struct mailbox_scan *sc, char **err);
void mailbox_scan_measure(struct mailbox_scan *sc);
/* Any thread: the measuring under way stops soon (its owner went away). */
void mailbox_scan_cancel(struct mailbox_scan *sc);

/* posthorn mailbox reindex (mailstore_reindex.c, doc/mailstore.md "Reindex"): a record for
 * every Maildir++ folder on disk the index does not know, then mailbox_sync of INBOX and
 * every folder; report(ctx, mailbox, made, changes or -1, error or NULL) for each. The
 * number of folders, or -1 when one failed. */
typedef void (*mailbox_reindex_fn)(void *ctx, const char *mailbox, bool made, int changes,
                                   const char *err);
int mailbox_reindex(struct mail_user *mu, mailbox_reindex_fn report, void *ctx);

/* --- additions for readers (pop3d, imapd) and maintenance ---
 * Mailbox names: "INBOX" (any case) is the Maildir root; any other name N is the Maildir++
 * mailbox directory ".N" (hierarchy separator '.'); names with '/', a leading '.', "..",
 * or control characters are refused. mailbox_deliver creates a missing mailbox; a name may not end in the separator.
 * A user's mail may be opened several times in one process: its handles share one LMDB
 * environment (LMDB forbids opening a file twice in one process). Not thread-safe.
 * Transactions are short; readers never block the writer. */

/* Maildir flags: the letters after ":2," in a cur/ file name. */
enum {
    MS_FLAG_DRAFT = 1 << 0,   /* D */
    MS_FLAG_FLAGGED = 1 << 1, /* F */
    MS_FLAG_PASSED = 1 << 2,  /* P */
    MS_FLAG_REPLIED = 1 << 3, /* R */
    MS_FLAG_SEEN = 1 << 4,    /* S */
    MS_FLAG_TRASHED = 1 << 5, /* T */
    MS_FLAG_ALL = (1 << 6) - 1
};

struct mailbox_info {
    uint32_t uidvalidity;
    uint32_t uidnext;
    uint64_t highestmodseq;
    uint64_t messages;
    uint64_t size;  /* sum of message sizes as stored (LF line ends) */
    uint64_t vsize; /* the same counted with CRLF line ends */
};

struct mailbox_msg {
    uint32_t uid;
    uint32_t flags; /* MS_FLAG_* */
    uint64_t modseq;
    uint64_t size;    /* bytes as stored (LF line ends) */
    uint64_t vsize;   /* bytes with CRLF line ends: POP3 LIST/STAT, IMAP RFC822.SIZE */
    const char *name; /* Maildir base name, without ":2,FLAGS" */
    uint64_t keywords;     /* bit i: keyword i of the mailbox's table (mailbox_keywords) */
    uint64_t internaldate; /* Unix seconds (IMAP INTERNALDATE) */
};

/* 1 with *info filled, 0 when the mailbox has no index record yet, -1 on error. */
int mailbox_info(struct mail_user *mu, const char *mailbox, struct mailbox_info *info,
                        char **err);
/* Call fn for each mailbox known to the index, in name order. 0, -1 or fn's non-zero. */
int mail_user_mailboxes(struct mail_user *mu, int (*fn)(void *ctx, const char *mailbox), void *ctx);
/* Call fn for each message of mailbox with uid >= first_uid, in UID order, inside one
 * read-only snapshot; m->name is valid only during the call. 0, -1 or fn's non-zero. */
int mailbox_iterate(struct mail_user *mu, const char *mailbox, uint32_t first_uid,
                    int (*fn)(void *ctx, const struct mailbox_msg *m), void *ctx, char **err);
/* 1 found (free m with mailbox_msg_free), 0 no such UID, -1 error. */
int mailbox_lookup(struct mail_user *mu, const char *mailbox, uint32_t uid, struct mailbox_msg *m,
                   char **err);
void mailbox_msg_free(struct mailbox_msg *m);
/* Open a message file read-only (it is found in new/ or cur/ whatever its flags). fd or
 * -1 with *err; errno ENOENT when the file is gone (mailbox_sync will drop the entry). */
int mailbox_open_message(struct mail_user *mu, const char *mailbox, const struct mailbox_msg *m,
                         char **err);
/* Remove the file and its index entry in one write transaction (HIGHESTMODSEQ grows).
 * 1 expunged, 0 no such UID, -1 error (nothing changed). */
int mailbox_expunge(struct mail_user *mu, const char *mailbox, uint32_t uid, char **err);
/* Replace a message's flags: the file moves to cur/NAME:2,FLAGS and the index entry gets a
 * new MODSEQ (*modseq, may be NULL). 1 done, 0 no such UID, -1 error. */
int mailbox_set_flags(struct mail_user *mu, const char *mailbox, uint32_t uid, uint32_t flags,
                      uint64_t *modseq, char **err);

/* ======================= IMAP: the store API of imapd =======================
 * Every function below takes the mailbox name as described above, returns -1 or a
 * negative enum mailstore_result on failure with *err set (malloc'ed), and leaves the
 * index and the Maildir as they were when it fails. A change is durable (files,
 * directories and index synced) before the function returns success. */

/* --- keywords (RFC 3501 2.3.2, RFC 9051 2.3.2) ---
 * Each mailbox has a table of up to MS_KEYWORDS_MAX keyword names; a message's keywords
 * are a bitmask of table indices (bit i = keyword i). Names compare case-insensitively and
 * keep the spelling first given. Keywords 0..25 also appear in cur/ file names as the
 * letters a..z, listed in the folder's Dovecot-compatible "dovecot-keywords" file. */
#define MS_KEYWORDS_MAX 64
#define MS_KEYWORD_LEN_MAX 128
/* A keyword must be an IMAP atom: 1..MS_KEYWORD_LEN_MAX printable ASCII characters,
 * none of SP ( ) { % * " \ ] , (so no system flag "\Seen" either). */
bool mailbox_keyword_valid(const char *name);
/* Look names up in mailbox's table, adding those that are missing, in one write
 * transaction; *mask gets their bits. MS_LIMIT when the table cannot take them all
 * (nothing added then), MS_INVALID for a name that is no atom, MS_NONEXISTENT. */
enum mailstore_result mailbox_keywords_add(struct mail_user *mu, const char *mailbox,
                                           const char *const *names, size_t n,
                                           uint64_t *mask, char **err);
/* The bits of those names already in the table (unknown names are left out). 0 or -1. */
int mailbox_keywords_lookup(struct mail_user *mu, const char *mailbox, const char *const *names,
                            size_t n, uint64_t *mask, char **err);
/* Call fn for each keyword of mailbox's table in index order. 0, -1 or fn's non-zero. */
int mailbox_keywords(struct mail_user *mu, const char *mailbox,
                     int (*fn)(void *ctx, unsigned index, const char *name), void *ctx,
                     char **err);

/* --- STORE with CONDSTORE (RFC 7162 3.1.3) --- */
enum mailbox_store_op { MS_STORE_ADD, MS_STORE_REMOVE, MS_STORE_REPLACE };
enum {
    MS_STORE_NOUID = 0,     /* no such UID */
    MS_STORE_CHANGED = 1,   /* flags changed: new MODSEQ */
    MS_STORE_UNCHANGED = 2, /* nothing to change: no new MODSEQ (RFC 7162 3.1.3) */
    MS_STORE_MODIFIED = 3   /* refused: MODSEQ > unchangedsince (the MODIFIED response code) */
};
struct mailbox_store_result {
    uint32_t uid;
    int result;        /* MS_STORE_* */
    uint64_t modseq;   /* the message's MODSEQ after the call */
    uint32_t flags;    /* its flags and keywords after the call */
    uint64_t keywords;
};
/* Change one message's flags and keywords: MS_STORE_* (>= 0) or -1. unchangedsince 0 means
 * no condition. new_modseq, result_flags and result_keywords may be NULL. */
int mailbox_store(struct mail_user *mu, const char *mailbox, uint32_t uid, enum mailbox_store_op op,
                  uint32_t flags, uint64_t keywords, uint64_t unchangedsince,
                  uint64_t *new_modseq, uint32_t *result_flags, uint64_t *result_keywords,
                  char **err);
/* The same for n UIDs in one write transaction (each changed message gets its own MODSEQ);
 * fn is called for every UID, in the order given, after the change is durable (only
 * committed, with deferred syncs). 0 or -1 (nothing changed). */
int mailbox_store_many(struct mail_user *mu, const char *mailbox, const uint32_t *uids, size_t n,
                       enum mailbox_store_op op, uint32_t flags, uint64_t keywords,
                       uint64_t unchangedsince,
                       void (*fn)(void *ctx, const struct mailbox_store_result *r), void *ctx,
                       char **err);

/* --- deferred syncs (doc/mailstore.md, "Deferred syncs") ---
 * A process that serves many sessions on one event loop (imapd-mailbox) need not wait on
 * its loop for the syncs that make a change durable. With deferral on, mailbox_store_many
 * and mailbox_expunge_many return once their transaction is committed and their files
 * renamed (expunged files also removed); the syncs they still owe
 * (the directories of the renames, the index's meta page) are noted on the handle, and fn
 * is called before they are done. The caller takes them with mail_user_take_syncs, runs
 * them on another thread with mailstore_syncs_run and acknowledges the change only after
 * that returned 0. Other calls sync as always. */
struct mailstore_syncs;
void mail_user_defer_syncs(struct mail_user *mu, bool on);
/* The syncs noted since the last take (NULL when none); they hold the index open until
 * mailstore_syncs_free, so the handle may be closed first. */
struct mailstore_syncs *mail_user_take_syncs(struct mail_user *mu);
/* Any thread: fsync the directories, then the index. 0 or an errno value. */
int mailstore_syncs_run(struct mailstore_syncs *s);
/* The same for n sets at once (one thread): each directory and each index is synced once
 * for all of them; rcs[i] is set i's result. */
void mailstore_syncs_run_batch(struct mailstore_syncs *const *sets, size_t n, int *rcs);
/* The thread that opened the handle, after mailstore_syncs_run has returned. NULL is a
 * no-op. */
void mailstore_syncs_free(struct mailstore_syncs *s);

/* --- expunge and QRESYNC (RFC 7162 3.2) ---
 * Every expunge (mailbox_expunge*, mailbox_move's sources, entries mailbox_sync drops)
 * takes a MODSEQ and is logged as (mailbox, MODSEQ, UID). */
/* Expunge n UIDs in one write transaction (missing UIDs are skipped). Returns the number
 * expunged or -1; *modseq (may be NULL) is HIGHESTMODSEQ afterwards. */
int mailbox_expunge_many(struct mail_user *mu, const char *mailbox, const uint32_t *uids, size_t n,
                         uint64_t *modseq, char **err);
/* UIDs expunged with MODSEQ > modseq, as ranges first..last in UID order. 1 complete,
 * 0 when the log does not reach back to modseq (the mailbox's index predates the log):
 * fn is not called and the caller must treat every UID below UIDNEXT that is not in the
 * mailbox as expunged (RFC 7162 3.2.5.2 allows that); -1 error, or fn's non-zero. */
int mailbox_expunged_since(struct mail_user *mu, const char *mailbox, uint64_t modseq,
                           int (*fn)(void *ctx, uint32_t first, uint32_t last), void *ctx,
                           char **err);
/* Messages whose MODSEQ > modseq, in UID order (FETCH CHANGEDSINCE, resync). This scans
 * the mailbox's entries (no MODSEQ index yet). 0, -1 or fn's non-zero. */
int mailbox_changed_since(struct mail_user *mu, const char *mailbox, uint64_t modseq,
                          int (*fn)(void *ctx, const struct mailbox_msg *m), void *ctx,
                          char **err);

/* --- \Recent (IMAP4rev1 only, RFC 3501 2.3.2) ---
 * Each mailbox keeps its first recent UID. SELECT claims: *first_recent gets the old value
 * and the mailbox's value moves to UIDNEXT, so the session owns UIDs >= *first_recent as
 * \Recent (and later arrivals it is the first to see). EXAMINE reads mailbox_status. 1, 0
 * no such mailbox, -1 error. */
int mailbox_claim_recent(struct mail_user *mu, const char *mailbox, uint32_t *first_recent,
                         char **err);

/* --- STATUS (RFC 3501 6.3.10, RFC 9051 6.3.11) from the index alone --- */
struct mailbox_status {
    uint32_t uidvalidity, uidnext;
    uint64_t highestmodseq;
    uint64_t messages;
    uint64_t unseen; /* messages without \Seen (a counter kept with every change) */
    uint64_t size;   /* LF bytes */
    uint64_t vsize;  /* CRLF bytes: STATUS SIZE (RFC 8438) */
    uint64_t recent; /* messages with UID >= first_recent */
    uint32_t first_recent;
    unsigned special_use; /* MS_USE_* */
};
/* 1 filled, 0 no such mailbox, -1 error. */
int mailbox_status(struct mail_user *mu, const char *mailbox, struct mailbox_status *st, char **err);

/* --- APPEND (RFC 3501 6.3.11, UIDPLUS RFC 4315) ---
 * Like mailbox_deliver (tmp/, fsync, rename inside the write transaction, new/ or cur/
 * synced, durable commit) but the message gets flags, keywords (bits of the table; unknown
 * bits are dropped) and internaldate (0 = now; the file's mtime is set to it, which is
 * where Dovecot keeps INTERNALDATE of Maildir messages). A missing mailbox is not created
 * (MS_NONEXISTENT: NO [TRYCREATE]), except INBOX. MS_OVERQUOTA as for delivery. */
enum mailstore_result mailbox_append(struct mail_user *mu, const char *mailbox, long long quota,
                                     int (*fill)(void *ctx, int fd), void *ctx, uint32_t flags,
                                     uint64_t keywords, uint64_t internaldate, uint32_t *uid,
                                     uint32_t *uidvalidity, char **err);
/* MULTIAPPEND (RFC 3502): msgs[0..n) (n > 0) appended as mailbox_append does, all in one
 * write transaction, so either all of them are in the mailbox or none: the files are
 * written first, then one transaction gives them consecutive UIDs (msgs[i].uid) and renames
 * them into place (renamed back when it fails). The quota is checked for each message in
 * turn, counting the ones before it. A system crash during the commit can leave some of
 * the renamed files for mailbox_sync to index, as for a single APPEND. */
struct mailbox_append_msg {
    int (*fill)(void *ctx, int fd);
    void *ctx;
    uint32_t flags;
    uint64_t keywords;
    uint64_t internaldate; /* 0 = now */
    uint32_t uid;          /* result */
};
enum mailstore_result mailbox_append_many(struct mail_user *mu, const char *mailbox, long long quota,
                                          struct mailbox_append_msg *msgs, size_t n,
                                          uint32_t *uidvalidity, char **err);
/* The same by a session that has mailbox selected read-write: it is the first session told
 * of the new messages (RFC 3501 sec 2.3.2), so they are claimed as \Recent for it in the
 * append's own transaction, with any others no session had claimed yet (no claim of its
 * own later, see mailbox_claim_recent): UIDs in [recent->from, recent->to) are its \Recent. */
struct mailbox_recent {
    uint32_t from, to;
};
enum mailstore_result mailbox_append_many_recent(struct mail_user *mu, const char *mailbox,
                                                 long long quota, struct mailbox_append_msg *msgs,
                                                 size_t n, uint32_t *uidvalidity,
                                                 struct mailbox_recent *recent, char **err);

/* --- COPY and MOVE (UIDPLUS RFC 4315 COPYUID, MOVE RFC 6851) ---
 * Each message of src with a UID in uids[0..n) gets a new UID in dst (dst_uids[i], 0 for
 * a UID that src does not have) keeping its flags, keywords (mapped into dst's table by
 * name: MS_LIMIT when they do not fit) and INTERNALDATE. COPY hard-links each file under a
 * new base name into dst/cur/; MOVE renames it there and expunges the sources, in the same
 * write transaction. A journal makes every file step undoable, so a crash never leaves a
 * moved message in both mailboxes or in neither (doc/mailstore.md, "Crash windows").
 * MS_NONEXISTENT when src or dst does not exist; quota as for delivery (COPY only). */
enum mailstore_result mailbox_copy(struct mail_user *mu, const char *src, const uint32_t *uids,
                                   size_t n, const char *dst, long long quota, uint32_t *dst_uids,
                                   uint32_t *dst_uidvalidity, char **err);
enum mailstore_result mailbox_move(struct mail_user *mu, const char *src, const uint32_t *uids,
                                   size_t n, const char *dst, uint32_t *dst_uids,
                                   uint32_t *dst_uidvalidity, char **err);

/* --- mailboxes: CREATE, DELETE, RENAME, SPECIAL-USE (RFC 6154) --- */
enum {
    MS_USE_ALL = 1 << 0,     /* \All */
    MS_USE_ARCHIVE = 1 << 1, /* \Archive */
    MS_USE_DRAFTS = 1 << 2,  /* \Drafts */
    MS_USE_FLAGGED = 1 << 3, /* \Flagged */
    MS_USE_JUNK = 1 << 4,    /* \Junk */
    MS_USE_SENT = 1 << 5,    /* \Sent */
    MS_USE_TRASH = 1 << 6,   /* \Trash */
    MS_USE_MASK = (1 << 7) - 1
};
/* Create the Maildir++ folder .NAME (cur/ new/ tmp/ maildirfolder) and its index record
 * with a new UIDVALIDITY (unique among the user's mailboxes, RFC 3501 2.3.1.1). A trailing
 * '.' is dropped (RFC 3501 6.3.3); superiors are not created (Maildir++ needs none: imapd
 * lists a missing parent as \Noselect). MS_EXISTS, MS_INVALID. */
enum mailstore_result mailbox_create(struct mail_user *mu, const char *name, unsigned special_use,
                                     char **err);
/* Remove a mailbox: its messages, folder directory and index records. Its children stay
 * (Maildir++ keeps them in sibling directories; RFC 3501 6.3.4 lets the parent's name
 * live on as a \Noselect level). Subscriptions are left alone (RFC 3501 6.3.6).
 * MS_CANNOT for INBOX, MS_NONEXISTENT. */
enum mailstore_result mailbox_delete(struct mail_user *mu, const char *name, char **err);
/* mailbox_delete without the removal of the folder's files (the time of a big folder's
 * unlinks): once the index and the rename out of the way are durable, *trash (NULL when
 * there is nothing to remove) names the directory for mailbox_remove_trash, which any
 * thread may call, later. */
enum mailstore_result mailbox_delete_later(struct mail_user *mu, const char *name, char **trash,
                                           char **err);
int mailbox_remove_trash(const char *trash); /* 0 or an errno value */
/* Rename old and every mailbox below it (old.X -> new.X, RFC 3501 6.3.5), keeping their
 * UIDVALIDITY, UIDs and flags. Renaming INBOX creates new and moves INBOX's messages into
 * it; INBOX stays, empty, and its inferiors are not renamed. MS_NONEXISTENT, MS_EXISTS
 * (new or one of its would-be children exists), MS_CANNOT (new is below old), MS_INVALID. */
enum mailstore_result mailbox_rename(struct mail_user *mu, const char *oldname, const char *newname,
                                     char **err);
/* Set a mailbox's SPECIAL-USE attributes (MS_USE_*). 1, 0 no such mailbox, -1. */
int mailbox_set_special_use(struct mail_user *mu, const char *mailbox, unsigned special_use,
                            char **err);
/* Create INBOX and the default set Sent, Drafts, Trash, Junk, Archive (with their
 * attributes) and subscribe them, once per user: mail_user_open(create=true) calls it.
 * Mailboxes that exist are left alone; once done, a mailbox the user deleted is not made
 * again. */
enum mailstore_result mail_user_create_defaults(struct mail_user *mu, char **err);

/* --- subscriptions (LSUB/LIST (SUBSCRIBED)): the Maildir++ root's "subscriptions" file
 * in Dovecot's format (one name per line, or after a "V<TAB>2" header the hierarchy levels
 * separated by TABs; a file's format is kept when it is rewritten) --- */
/* Subscribe (on) or unsubscribe a name (which need not exist). MS_OK, MS_INVALID. */
enum mailstore_result mailbox_subscribe(struct mail_user *mu, const char *name, bool on, char **err);
/* Call fn for each subscribed name in file order. 0, -1 or fn's non-zero. */
int mail_user_subscriptions(struct mail_user *mu, int (*fn)(void *ctx, const char *name), void *ctx,
                            char **err);

/* --- per-message cache (ENVELOPE, BODYSTRUCTURE, ...): blobs in the index, removed with
 * the message. field is a small number chosen by the caller (MS_CACHE_*). --- */
enum { MS_CACHE_ENVELOPE = 1, MS_CACHE_BODYSTRUCTURE = 2, MS_CACHE_BODY = 3 };
#define MS_CACHE_FIELD_MAX 255
#define MS_CACHE_SIZE_MAX (1024 * 1024)
/* 1 stored, 0 no such UID, -1 error. Not synced: a cache entry lost in a system crash is
 * computed again. */
int mailbox_cache_put(struct mail_user *mu, const char *mailbox, uint32_t uid, unsigned field,
                      const void *data, size_t len, char **err);
/* The same for n entries in one write transaction (a FETCH of many messages stores what it
 * computed at once). Entries of UIDs that no longer exist are skipped. 1 when any was
 * stored, 0 when none of the UIDs exists, -1 on error. */
struct mailbox_cache_entry {
    uint32_t uid;
    unsigned field;
    const void *data;
    size_t len;
};
int mailbox_cache_put_many(struct mail_user *mu, const char *mailbox,
                           const struct mailbox_cache_entry *e, size_t n, char **err);
/* 1 with *data (malloc'ed, NUL added) and *len, 0 not cached, -1 error. */
int mailbox_cache_get(struct mail_user *mu, const char *mailbox, uint32_t uid, unsigned field,
                      void **data, size_t *len, char **err);

/* --- import from another server's Maildir (posthorn migrate, doc/migration.md) ---
 * Messages keep the base names and UIDs the other server gave them, the mailbox its
 * UIDVALIDITY and UIDNEXT, so IMAP and POP3 clients see the same mailbox. msgs must be in
 * UID order, messages without a UID (uid 0: files the other server had not numbered yet)
 * last; each gets its result:
 *   MS_IMPORT_ADDED    copied in (fill() wrote it to tmp/, then one write transaction
 *                      renamed all of them into place): uid is its UID
 *   MS_IMPORT_PRESENT  a file of that base name is in the folder under that UID (or, for
 *                      uid 0, at all): imported before
 *   MS_IMPORT_EXPUNGED not there, but its UID is below the mailbox's UIDNEXT: imported
 *                      before and expunged since, so not added again
 *   MS_IMPORT_CONFLICT the base name is there under another UID: not added
 * Running an import again therefore adds only what is new. The mailbox is made when
 * missing; one that exists with another UIDVALIDITY is taken over only when it never held
 * mail (UIDNEXT 1), else MS_EXISTS. Its HIGHESTMODSEQ becomes at least modseq (and a
 * mailbox made or taken over logs no expunges below it, so QRESYNC clients that bring the
 * other server's MODSEQs resync their flags); UIDNEXT at least uidnext (0 keeps it: give
 * it with the last batch of a large mailbox); keyword i of keywords[] takes index i of the
 * table where it is free, so the letters of the file names keep their meaning. None of the
 * added messages is \Recent. dry_run fills in the results and changes nothing. */
enum { MS_IMPORT_ADDED = 1, MS_IMPORT_PRESENT, MS_IMPORT_EXPUNGED, MS_IMPORT_CONFLICT };
struct mailbox_import_msg {
    uint32_t uid;           /* the UID to keep, 0 for the next one; the result for ADDED */
    const char *name;       /* base name to keep (before ":2,"): no '/', no ':' */
    bool in_cur;            /* in cur/ (with ":2,LETTERS"), else new/ when it has no letters */
    uint32_t flags;         /* MS_FLAG_* */
    uint64_t keywords;      /* bit i: keywords[i] of struct mailbox_import */
    uint64_t internaldate;  /* the file's mtime */
    int (*fill)(void *ctx, int fd);
    void *ctx;
    int result;             /* MS_IMPORT_* */
};
struct mailbox_import {
    uint32_t uidvalidity;   /* 0: the mailbox's own (a new one when it is made) */
    uint32_t uidnext;       /* 0: as the messages leave it */
    uint64_t modseq;        /* HIGHESTMODSEQ at least this */
    unsigned special_use;   /* MS_USE_* for a mailbox that has none */
    const char *const *keywords; /* the other server's keyword table (NULL where unused) */
    size_t nkeywords;
    bool dry_run;
};
enum mailstore_result mailbox_import(struct mail_user *mu, const char *mailbox,
                                     const struct mailbox_import *im,
                                     struct mailbox_import_msg *msgs, size_t n, char **err);
/* The SPECIAL-USE attributes (MS_USE_*) of a default mailbox name (Sent, Drafts, Trash,
 * Junk, Archive), 0 for other names. */
unsigned mailbox_default_special_use(const char *name);
/* Note that the default mailboxes are made (so mail_user_open never adds them): an
 * imported user keeps the set of mailboxes it had. MS_OK or MS_TEMPFAIL. */
enum mailstore_result mail_user_skip_defaults(struct mail_user *mu, char **err);
/* Call fn for each name in a Dovecot-format subscriptions file dir/subscriptions (a
 * missing file has none). 0, -1 with *err, or fn's non-zero. */
int mail_subscriptions_read(const char *dir, int (*fn)(void *ctx, const char *name), void *ctx,
                            char **err);

/* --- change notification (IDLE, NOTIFY) ---
 * The paths to watch with inotify to learn about any change to mailbox: paths[0] the
 * index file (IN_MODIFY: every change made through the store), paths[1] and paths[2] the
 * folder's new/ and cur/ (IN_CREATE, IN_MOVED_TO, IN_MOVED_FROM, IN_DELETE: changes made
 * by other programs; call mailbox_sync then). Returns 3 with malloc'ed strings, or -1. */
int mailbox_watch_paths(struct mail_user *mu, const char *mailbox, char *paths[3], char **err);

#endif
