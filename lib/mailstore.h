/* mailstore.h - the mail store (DESIGN section 5): virtual_mailbox_base/DOMAIN/LOCALPART/
 * is a Maildir++ (INBOX in cur/new/tmp, folders as .Name), with an LMDB index beside it
 * (mailbox_index_name) holding per folder UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, message count
 * and total size, and per message UID -> file name, flags, MODSEQ, size. Delivery writes
 * tmp/NAME, fsyncs it, and in one LMDB write transaction assigns the UID, renames the file
 * into new/, fsyncs new/, then commits, so UIDs exist from the first moment. A file found
 * in new/ or cur/ without an index entry (crash between rename and commit) is indexed by
 * mailbox_sync(). */
#ifndef POSTHORN_MAILSTORE_H
#define POSTHORN_MAILSTORE_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct mailbox;

enum mailstore_result {
    MS_OK = 0,
    MS_TEMPFAIL = -1, /* I/O error, disk full: defer */
    MS_OVERQUOTA = -2 /* temporary: defer until quota is raised or mail removed */
};

/* Open (create when create is true) the mailbox directory root
 * base/domain/localpart and its index. NULL with *err when it cannot. */
struct mailbox *mailbox_open(const char *base, const char *domain, const char *localpart,
                             const char *index_name, bool create, char **err);
void mailbox_close(struct mailbox *mb);
const char *mailbox_path(const struct mailbox *mb);

/* Deliver one message into folder ("INBOX" or a folder name). fill() writes the complete
 * message into fd (an open tmp file) and returns 0, or -1 on failure. quota is the limit in
 * bytes for the whole mailbox (0 = unlimited): when current usage is already at or above it
 * the result is MS_OVERQUOTA. On success *uid is the new UID. */
enum mailstore_result mailbox_deliver(struct mailbox *mb, const char *folder,
                                      long long quota, int (*fill)(void *ctx, int fd),
                                      void *ctx, uint32_t *uid, char **err);
/* Usage in bytes of the whole mailbox according to the index. */
long long mailbox_usage(struct mailbox *mb);
/* Index files present in the Maildir but missing from the index; drop index entries whose
 * file is gone. Returns number of changes or -1. */
int mailbox_sync(struct mailbox *mb, const char *folder, char **err);

#endif
