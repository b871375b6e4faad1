/* mailstore_status.c - STATUS from the index alone (RFC 3501 6.3.10, RFC 9051 6.3.11),
 * the \Recent claim of SELECT (IMAP4rev1, RFC 3501 2.3.2) and the paths to watch for
 * changes (IDLE, RFC 2177).
 *
 * \Recent: each mailbox record holds first_recent, the lowest UID no session has claimed.
 * A SELECT claims in a write transaction (atomic between processes: LMDB serialises
 * writers): it gets the old value, and the record's moves to UIDNEXT, so exactly one
 * session sees each message as \Recent. EXAMINE and STATUS only read it: recent is the
 * number of messages with UID >= first_recent. A claim that finds everything claimed
 * already (a read transaction first) takes no writer lock. An APPEND into the mailbox the
 * appending session has selected claims in its own transaction (mailbox_append_many_recent),
 * so the most common new message needs no claim of its own. The claim changes no MODSEQ
 * (\Recent is not a stored flag) and is not synced by itself: a claim lost in a system
 * crash makes messages \Recent once more, which does no harm. */
#include "mailstore_int.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

static int count_one(void *ctx, uint32_t uid, const struct msg_rec *m)
{
    (*(uint64_t *)ctx)++;
    return 0;
}

int mailbox_status(struct mail_user *mu, const char *mailbox, struct mailbox_status *st, char **err)
{
    char *name;
    MDB_txn *txn;
    if (ms_read_begin(mu, mailbox, &name, &txn, err) < 0)
        return -1;
    struct mailbox_rec f;
    uint64_t recent = 0;
    int rc = ms_mailbox_get(mu, txn, name, &f);
    if (rc == 0 && f.first_recent < f.uidnext)
        rc = ms_msg_each(mu, txn, name, f.first_recent, count_one, &recent);
    mdb_txn_abort(txn);
    if (rc != 0 && rc != MDB_NOTFOUND)
        *err = xasprintf("%s: %s", name, ms_strerror(rc));
    free(name);
    if (rc != 0)
        return rc == MDB_NOTFOUND ? 0 : -1;
    *st = (struct mailbox_status){.uidvalidity = f.uidvalidity, .uidnext = f.uidnext,
                                  .highestmodseq = f.highestmodseq, .messages = f.messages,
                                  .unseen = f.unseen, .size = f.size, .vsize = f.vsize,
                                  .recent = recent, .first_recent = f.first_recent,
                                  .special_use = f.special_use};
    return 1;
}

struct claim_op {
    const char *mailbox;
    uint32_t first_recent;
    bool found;
};

static int claim_apply(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct claim_op *op = arg;
    struct mailbox_rec f;
    int rc = ms_mailbox_get(mu, txn, op->mailbox, &f);
    op->found = rc == 0;
    if (rc != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    op->first_recent = f.first_recent;
    if (f.first_recent == f.uidnext && !f.v1)
        return 0; /* nothing new: no write */
    f.first_recent = f.uidnext;
    return ms_mailbox_put(mu, txn, op->mailbox, &f);
}

/* Is everything claimed already? A look in a read transaction: then no writer lock is
 * needed (the sessions that learn of a new message after the one that claimed it would
 * otherwise each wait for the lock behind other writers' commits). */
static bool all_claimed(struct mail_user *mu, const char *name, uint32_t *first_recent)
{
    MDB_txn *txn;
    if (ms_begin(mu, false, &txn) != 0)
        return false;
    struct mailbox_rec f;
    bool all = ms_mailbox_get(mu, txn, name, &f) == 0 && f.first_recent == f.uidnext && !f.v1;
    if (all)
        *first_recent = f.first_recent;
    mdb_txn_abort(txn);
    return all;
}

int mailbox_claim_recent(struct mail_user *mu, const char *mailbox, uint32_t *first_recent,
                         char **err)
{
    char *name = ms_mailbox_name(mailbox, err);
    if (!name)
        return -1;
    if (all_claimed(mu, name, first_recent)) {
        free(name);
        return 1;
    }
    struct claim_op op = {.mailbox = name};
    int rc = ms_write_nosync(mu, claim_apply, NULL, &op);
    if (rc != 0)
        *err = xasprintf("%s: %s", name, ms_strerror(rc));
    else if (op.found)
        *first_recent = op.first_recent;
    free(name);
    return rc ? -1 : op.found;
}

int mailbox_watch_paths(struct mail_user *mu, const char *mailbox, char *paths[3], char **err)
{
    char *name = ms_mailbox_name(mailbox, err);
    if (!name)
        return -1;
    char *dir = ms_mailbox_dir(mu, name);
    paths[0] = xstrdup(mu->index);
    paths[1] = xasprintf("%s/new", dir);
    paths[2] = xasprintf("%s/cur", dir);
    free(dir);
    free(name);
    return 3;
}
