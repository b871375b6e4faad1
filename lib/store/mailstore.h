/* mailstore.h - the mail store (doc/architecture.md, "Store"). Names follow IMAP: a user's
 * mail (struct mail_user) holds mailboxes (INBOX, Sent, A.B, ...), which hold messages.
 * virtual_mailbox_base/DOMAIN/LOCALPART/ is a Maildir++ (INBOX in cur/new/tmp, mailboxes
 * as .Name), with an LMDB index beside it (mailbox_index_name) holding per mailbox UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, message count
 * and total size, and per message UID -> file name, flags, MODSEQ, size and CRLF size.
 * The on-disk layout is documented in doc/mailstore.md. Delivery writes
 * tmp/NAME and fsyncs it; one LMDB write transaction assigns the UID, renames the file
 * into new/ and commits, so UIDs exist from the first moment and follow rename order; then,
 * outside the writer lock so that concurrent deliveries overlap, new/ and the index are
 * fsynced before mailbox_deliver returns MS_OK. A file found in new/ or cur/ without an
 * index entry (a crash between rename and commit) is indexed by mailbox_sync(); an entry
 * whose file did not survive a system crash is dropped by it. */
#ifndef POSTHORN_MAILSTORE_H
#define POSTHORN_MAILSTORE_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct mail_user;

enum mailstore_result {
    MS_OK = 0,
    MS_TEMPFAIL = -1, /* I/O error, disk full: defer */
    MS_OVERQUOTA = -2 /* temporary: defer until quota is raised or mail removed */
};

/* Open (create when create is true) a user's mail: the Maildir++ root
 * base/domain/localpart and its index. NULL with *err when it cannot. */
struct mail_user *mail_user_open(const char *base, const char *domain, const char *localpart,
                             const char *index_name, bool create, char **err);
void mail_user_close(struct mail_user *mu);
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

/* --- additions for readers (pop3d, imapd) and maintenance ---
 * Mailbox names: "INBOX" (any case) is the Maildir root; any other name N is the Maildir++
 * mailbox directory ".N" (hierarchy separator '.'); names with '/', a leading '.', "..",
 * or control characters are refused. mailbox_deliver creates a missing mailbox.
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

#endif
