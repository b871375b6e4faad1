/* mailstore_rename.c - RENAME (RFC 3501 6.3.5, RFC 9051 6.3.6).
 *
 * A mailbox and every mailbox below it (OLD.X -> NEW.X) are renamed in one write
 * transaction: their records, messages, keywords, cache blobs and expunge logs are keyed
 * again under the new names, and their folder directories renamed (journaled,
 * mailstore_journal.c: a crash before the commit turns the renames back, one after it
 * completes them). UIDVALIDITY, UIDs, MODSEQs and flags stay: a UIDVALIDITY is unique
 * among all of a user's mailboxes (mailstore_rec.c), so a client that knew another
 * mailbox under the new name cannot mistake this one for it. Subscriptions are not
 * changed (RFC 3501 6.3.6).
 *
 * RENAME INBOX is special (RFC 3501 6.3.5): the new mailbox is created and all of INBOX's
 * messages are moved into it (mailbox_move: new UIDs there, expunged from INBOX); INBOX
 * stays, empty, with its UIDVALIDITY and UIDNEXT, and its inferiors are not renamed. */
#include "mailstore_int.h"
#include "mem.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct rename_op {
    const char *from, *to;
    char **names; /* from and the mailboxes below it */
    size_t n;
    struct ms_fileops ops;
};

static void names_free(struct rename_op *op)
{
    for (size_t i = 0; i < op->n; i++)
        free(op->names[i]);
    free(op->names);
    op->names = NULL;
    op->n = 0;
}

/* from itself and from.X..., in key order. */
static int collect(struct mail_user *mu, MDB_txn *txn, struct rename_op *op)
{
    MDB_cursor *cur;
    size_t len = strlen(op->from);
    int rc = mdb_cursor_open(txn, mu->e->mailboxes, &cur);
    if (rc != 0)
        return rc;
    MDB_val k = {len, (void *)op->from}, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size >= len && memcmp(k.mv_data, op->from, len) == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const char *rest = (const char *)k.mv_data + len;
        if (k.mv_size != len && rest[0] != '.')
            continue; /* "fromX": another mailbox */
        op->names = xreallocarray(op->names, op->n + 1, sizeof *op->names);
        op->names[op->n++] = xstrndup(k.mv_data, k.mv_size);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    return op->n > 0 && strcmp(op->names[0], op->from) == 0 ? 0 : MS_RC_NONEXISTENT;
}

static char *new_name(const struct rename_op *op, const char *old)
{
    return xasprintf("%s%s", op->to, old + strlen(op->from));
}

/* Re-key one mailbox's records; its directory rename is added to op->ops. */
static int move_one(struct mail_user *mu, MDB_txn *txn, struct rename_op *op, const char *old,
                    const char *nu)
{
    struct mailbox_rec f;
    int rc = ms_mailbox_get(mu, txn, old, &f);
    MDB_dbi dbis[] = {mu->e->messages, mu->e->keywords, mu->e->cache, mu->e->expunged};
    for (size_t i = 0; rc == 0 && i < sizeof dbis / sizeof dbis[0]; i++)
        rc = ms_move_prefix(txn, dbis[i], old, nu);
    MDB_val k = {strlen(old), (void *)old};
    if (rc != 0 || (rc = mdb_del(txn, mu->e->mailboxes, &k, NULL)) != 0 ||
        (rc = ms_mailbox_put(mu, txn, nu, &f)) != 0)
        return rc;
    char *from = ms_mailbox_dir(mu, old), *to = ms_mailbox_dir(mu, nu);
    struct stat st;
    if (lstat(from, &st) == 0)
        ms_fileops_add(&op->ops, MS_OP_RENAME, from, to);
    else {
        free(from);
        free(to);
    }
    return 0;
}

static int rename_apply(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct rename_op *op = arg;
    names_free(op);
    ms_fileops_free(&op->ops);
    int rc = collect(mu, txn, op);
    for (size_t i = 0; rc == 0 && i < op->n; i++) { /* no target may exist */
        char *nu = new_name(op, op->names[i]);
        struct mailbox_rec f;
        rc = ms_mailbox_peek(mu, txn, nu, &f);
        rc = rc == 0 ? MS_RC_EXISTS : rc == MDB_NOTFOUND ? 0 : rc;
        free(nu);
    }
    for (size_t i = 0; rc == 0 && i < op->n; i++) {
        char *nu = new_name(op, op->names[i]);
        rc = move_one(mu, txn, op, op->names[i], nu);
        free(nu);
    }
    if (rc == 0 && op->ops.n && (rc = ms_journal_write(mu, txn, &op->ops)) == 0)
        rc = ms_fileops_run(&op->ops);
    return rc == EEXIST || rc == ENOTEMPTY ? MS_RC_EXISTS : rc;
}

static void rename_undo(void *arg) { ms_fileops_undo(&((struct rename_op *)arg)->ops); }

static int collect_uid(void *ctx, const struct mailbox_msg *m)
{
    struct buf *b = ctx;
    buf_append(b, &m->uid, sizeof m->uid);
    return 0;
}

static enum mailstore_result rename_inbox(struct mail_user *mu, const char *to, char **err)
{
    enum mailstore_result r = mailbox_create(mu, to, 0, err);
    if (r != MS_OK)
        return r;
    struct buf uids = BUF_INIT;
    if (mailbox_iterate(mu, "INBOX", 1, collect_uid, &uids, err) != 0) {
        buf_free(&uids);
        return MS_TEMPFAIL;
    }
    size_t n = uids.len / sizeof(uint32_t);
    uint32_t *dst = xcalloc(n ? n : 1, sizeof *dst), uidvalidity;
    r = n ? mailbox_move(mu, "INBOX", (const uint32_t *)uids.data, n, to, dst, &uidvalidity, err) : MS_OK;
    free(dst);
    buf_free(&uids);
    return r;
}

static int check_names(const char *from, const char *to)
{
    size_t n = strlen(from);
    if (strcmp(to, "INBOX") == 0 || strcmp(from, to) == 0)
        return MS_RC_EXISTS;
    if (strncmp(to, from, n) == 0 && to[n] == '.')
        return MS_RC_CANNOT; /* into itself */
    return 0;
}

enum mailstore_result mailbox_rename(struct mail_user *mu, const char *oldname, const char *newname,
                                     char **err)
{
    char *from = ms_mailbox_name(oldname, err), *to = from ? ms_mailbox_name(newname, err) : NULL;
    enum mailstore_result r = MS_INVALID;
    if (to && strcmp(from, "INBOX") == 0 && strcmp(to, "INBOX") != 0) {
        r = rename_inbox(mu, to, err);
    } else if (to) {
        struct rename_op op = {.from = from, .to = to};
        int rc = check_names(from, to);
        if (rc == 0)
            rc = ms_write(mu, rename_apply, rename_undo, &op);
        if (rc == 0)
            rc = ms_fileops_finish(&op.ops);
        if (op.ops.n)
            ms_journal_clear(mu);
        r = ms_result(rc, from, err);
        ms_fileops_free(&op.ops);
        names_free(&op);
    }
    free(from);
    free(to);
    return r;
}
