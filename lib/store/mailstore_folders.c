/* mailstore_folders.c - mailboxes: CREATE (RFC 3501 6.3.3), DELETE (6.3.4), SPECIAL-USE
 * attributes (RFC 6154) and the default mailboxes of a new user. RENAME is in
 * mailstore_rename.c.
 *
 * CREATE makes the Maildir++ folder .NAME (cur/ new/ tmp/, the maildirfolder marker),
 * fsyncs it and the root, and adds the index record with a new UIDVALIDITY in one write
 * transaction. A directory left without a record (a crash between the two, or a folder
 * made by another program) is taken over. Superior names are not created: Maildir++ keeps
 * every level in its own sibling directory and needs none, so imapd lists a missing
 * parent as \Noselect (or \NonExistent, RFC 5258).
 *
 * DELETE removes, in one write transaction, the mailbox's record, messages, keywords,
 * cache blobs and expunge log, and renames its directory to tmp/.deleted.* in the root
 * (journaled, mailstore_journal.c: a crash before the commit puts it back, one after it
 * completes the removal); the tree is removed after the commit, or, with
 * mailbox_delete_later, by the caller (imapd: on a worker thread), and a tree left there by
 * a crash meanwhile goes with the next sync's clean-up of the root's tmp/
 * (mailstore_sync.c). The children of a deleted
 * parent stay: they live in sibling directories, and RFC 3501 6.3.4 keeps a parent with
 * inferiors as a \Noselect name anyway. */
#include "fileio.h"
#include "mailstore_int.h"
#include "mem.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int ms_folder_make(struct mail_user *mu, MDB_txn *txn, const char *name, unsigned special_use)
{
    struct mailbox_rec f;
    int rc = ms_mailbox_peek(mu, txn, name, &f);
    if (rc != MDB_NOTFOUND)
        return rc == 0 ? MS_RC_EXISTS : rc;
    rc = 0;
    char *dir = ms_mailbox_dir(mu, name);
    bool inbox = strcmp(name, "INBOX") == 0;
    if (ms_make_maildir(dir, !inbox) < 0 || fsync_dir(dir) < 0 || (!inbox && fsync_dir(mu->path) < 0))
        rc = errno ? errno : EIO;
    free(dir);
    if (rc == 0 && (rc = ms_mailbox_new(mu, txn, &f)) == 0) {
        f.special_use = special_use & MS_USE_MASK;
        rc = ms_mailbox_put(mu, txn, name, &f);
    }
    return rc;
}

struct folder_op {
    const char *name;
    unsigned special_use;
    bool found;
    struct ms_fileops ops;
};

static int create_apply(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct folder_op *op = arg;
    return ms_folder_make(mu, txn, op->name, op->special_use);
}

/* The name for CREATE: a trailing separator dropped (RFC 3501 6.3.3). */
static char *create_name(const char *name, char **err)
{
    char *copy = xstrdup(name);
    size_t n = strlen(copy);
    if (n > 1 && copy[n - 1] == '.')
        copy[n - 1] = 0;
    char *r = ms_mailbox_name(copy, err);
    free(copy);
    return r;
}

enum mailstore_result mailbox_create(struct mail_user *mu, const char *name, unsigned special_use,
                                     char **err)
{
    char *n = create_name(name, err);
    if (!n)
        return MS_INVALID;
    struct folder_op op = {.name = n, .special_use = special_use};
    int rc = strcmp(n, "INBOX") == 0 ? MS_RC_EXISTS : ms_write(mu, create_apply, NULL, &op);
    enum mailstore_result r = ms_result(rc, n, err);
    free(n);
    return r;
}

/* --- DELETE --- */

static int delete_records(struct mail_user *mu, MDB_txn *txn, const char *name)
{
    size_t len = strlen(name) + 1; /* the prefix NAME "\0" of every per-message key */
    MDB_dbi dbis[] = {mu->e->messages, mu->e->keywords, mu->e->cache, mu->e->expunged};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof dbis / sizeof dbis[0]; i++)
        rc = ms_del_prefix(txn, dbis[i], name, len);
    MDB_val k = {len - 1, (void *)name};
    return rc ? rc : mdb_del(txn, mu->e->mailboxes, &k, NULL);
}

static int delete_apply(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct folder_op *op = arg;
    struct mailbox_rec f;
    ms_fileops_free(&op->ops);
    int rc = ms_mailbox_peek(mu, txn, op->name, &f);
    if (rc != 0)
        return rc == MDB_NOTFOUND ? MS_RC_NONEXISTENT : rc;
    if ((rc = delete_records(mu, txn, op->name)) != 0)
        return rc;
    char *dir = ms_mailbox_dir(mu, op->name);
    struct stat st;
    if (lstat(dir, &st) < 0) { /* no directory: the records were all there was */
        free(dir);
        return errno == ENOENT ? 0 : errno;
    }
    ms_fileops_add(&op->ops, MS_OP_DELETE, dir,
                   xasprintf("%s/tmp/.deleted.%u.%u", mu->path, f.uidvalidity, mu->e->counter++));
    if ((rc = ms_journal_write(mu, txn, &op->ops)) != 0)
        return rc;
    if ((rc = ms_fileops_run(&op->ops)) == ENOENT) { /* tmp/ missing in the root */
        (void)ms_make_maildir(mu->path, false);
        rc = ms_fileops_run(&op->ops);
    }
    return rc;
}

static void folder_undo(void *arg) { ms_fileops_undo(&((struct folder_op *)arg)->ops); }

enum mailstore_result mailbox_delete_later(struct mail_user *mu, const char *name, char **trash,
                                           char **err)
{
    *trash = NULL;
    char *n = ms_mailbox_name(name, err);
    if (!n)
        return MS_INVALID;
    struct folder_op op = {.name = n};
    int rc = strcmp(n, "INBOX") == 0 ? MS_RC_CANNOT : ms_write(mu, delete_apply, folder_undo, &op);
    if (rc == 0 && op.ops.n == 1 && op.ops.v[0].done) { /* the rename durable; the tree later */
        *trash = op.ops.v[0].to;
        op.ops.v[0].to = xstrdup(*trash);
        op.ops.v[0].type = MS_OP_RENAME;
    }
    if (rc == 0)
        rc = ms_fileops_finish(&op.ops); /* (remove the tree); fsync the root and tmp/ */
    if (op.ops.n)
        ms_journal_clear(mu);
    if (rc != 0) {
        free(*trash);
        *trash = NULL;
    }
    enum mailstore_result r = ms_result(rc, n, err);
    ms_fileops_free(&op.ops);
    free(n);
    return r;
}

enum mailstore_result mailbox_delete(struct mail_user *mu, const char *name, char **err)
{
    char *trash;
    enum mailstore_result r = mailbox_delete_later(mu, name, &trash, err);
    if (trash)
        (void)mailbox_remove_trash(trash);
    free(trash);
    return r;
}

int mailbox_remove_trash(const char *trash) { return ms_remove_tree(trash); }

/* --- SPECIAL-USE --- */

static int special_apply(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct folder_op *op = arg;
    struct mailbox_rec f;
    int rc = ms_mailbox_get(mu, txn, op->name, &f);
    op->found = rc == 0;
    if (rc != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    f.special_use = op->special_use & MS_USE_MASK;
    return ms_mailbox_put(mu, txn, op->name, &f);
}

int mailbox_set_special_use(struct mail_user *mu, const char *mailbox, unsigned special_use,
                            char **err)
{
    char *n = ms_mailbox_name(mailbox, err);
    if (!n)
        return -1;
    struct folder_op op = {.name = n, .special_use = special_use};
    int rc = ms_write(mu, special_apply, NULL, &op);
    if (rc != 0)
        *err = xasprintf("%s: %s", n, ms_strerror(rc));
    free(n);
    return rc ? -1 : op.found;
}

/* --- the default mailboxes of a new user --- */

static const struct {
    const char *name;
    unsigned use;
} defaults[] = {
    {"INBOX", 0},
    {"Sent", MS_USE_SENT},
    {"Drafts", MS_USE_DRAFTS},
    {"Trash", MS_USE_TRASH},
    {"Junk", MS_USE_JUNK},
    {"Archive", MS_USE_ARCHIVE},
};
#define NDEFAULTS (sizeof defaults / sizeof defaults[0])

/* One default mailbox: made when missing; an existing one without attributes gets its
 * attribute (a "Sent" made by an older version). */
static int default_one(struct mail_user *mu, MDB_txn *txn, const char *name, unsigned use)
{
    struct mailbox_rec f;
    int rc = ms_mailbox_get(mu, txn, name, &f);
    if (rc == MDB_NOTFOUND)
        return ms_folder_make(mu, txn, name, use);
    if (rc != 0 || f.special_use || !use)
        return rc;
    f.special_use = use;
    return ms_mailbox_put(mu, txn, name, &f);
}

static int defaults_apply(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    uint64_t done = 0;
    int rc = ms_meta_get(mu, txn, "defaults", &done);
    if (rc != MDB_NOTFOUND)
        return rc; /* done before (a user's deleted Trash is not made again) */
    const char *names[NDEFAULTS];
    rc = 0;
    for (size_t i = 0; rc == 0 && i < NDEFAULTS; i++) {
        names[i] = defaults[i].name;
        rc = default_one(mu, txn, defaults[i].name, defaults[i].use);
    }
    if (rc == 0)
        rc = ms_subs_update(mu, names, NDEFAULTS, true);
    return rc ? rc : ms_meta_put(mu, txn, "defaults", 1);
}

unsigned mailbox_default_special_use(const char *name)
{
    for (size_t i = 0; i < NDEFAULTS; i++)
        if (strcmp(defaults[i].name, name) == 0)
            return defaults[i].use;
    return 0;
}

static int skip_defaults_apply(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    (void)arg;
    return ms_meta_put(mu, txn, "defaults", 1);
}

enum mailstore_result mail_user_skip_defaults(struct mail_user *mu, char **err)
{
    return ms_result(ms_write(mu, skip_defaults_apply, NULL, NULL), mu->path, err);
}

enum mailstore_result mail_user_create_defaults(struct mail_user *mu, char **err)
{
    return ms_result(ms_write(mu, defaults_apply, NULL, NULL), mu->path, err);
}
