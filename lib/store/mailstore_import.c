/* mailstore_import.c - messages imported from another server's Maildir with their UIDs
 * (posthorn migrate, doc/migration.md; see mailstore.h). An import is a MULTIAPPEND
 * (mailstore_deliver.c: files written to tmp/ first, then one write transaction renames
 * them into place under the base names the other server gave them, with the UIDs it gave
 * them) plus what the other server's mailbox brings: its UIDVALIDITY, its UIDNEXT, a
 * HIGHESTMODSEQ above any it served, and its keyword table at the same indices, so the
 * file names keep their letters.
 *
 * Which messages are added is decided in a read snapshot before anything is written, from
 * the mailbox's record and its files: a message whose base name is already in the folder
 * is there (the same UID) or in conflict (another UID: reported, not added); a message
 * with a UID below the mailbox's UIDNEXT that is not there was imported before and
 * expunged since (not added again: a UID is never reused); the rest are added. So running
 * an import again adds only what is new, and a batch interrupted by a crash (all or
 * nothing, as any write transaction) is simply imported by the next run. The write
 * transaction checks that the record is still what the snapshot saw, else nothing happens
 * and the caller is told to run again (EAGAIN). A mailbox that exists with another
 * UIDVALIDITY is taken over only when it never held a message (UIDNEXT 1: a default
 * mailbox made for the user); otherwise the result is MS_EXISTS and nothing changes. */
#include "mailstore_int.h"
#include "mem.h"
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct import_op {
    const char *mailbox;
    char *dir;
    const struct mailbox_import *im;
    struct mailbox_import_msg *msgs;
    size_t n;
    struct ms_deliver_args *args; /* the added messages, in msgs order */
    size_t *which;                /* args[i] is msgs[which[i]] */
    size_t nargs;
    /* the record as the snapshot saw it */
    bool exists;
    uint32_t uidvalidity, uidnext;
    char **names;            /* base names in new/ and cur/ (sorted) */
    size_t nnames;
};

static bool valid_base(const char *name)
{
    return name && *name && name[0] != '.' && !strpbrk(name, "/:") && strlen(name) <= 255;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The base names of the files in new/ and cur/ (a folder not made yet has none). One read
 * of each directory instead of a look for every message. 0 or errno. */
static int scan_names(struct import_op *op)
{
    static const char *const sub[] = {"new", "cur"};
    for (size_t i = 0; i < 2; i++) {
        char *path = xasprintf("%s/%s", op->dir, sub[i]);
        DIR *d = opendir(path);
        free(path);
        if (!d) {
            if (errno == ENOENT)
                continue;
            return errno ? errno : EIO;
        }
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            op->names = xreallocarray(op->names, op->nnames + 1, sizeof *op->names);
            op->names[op->nnames++] = xstrndup(de->d_name, strcspn(de->d_name, ":"));
        }
        closedir(d);
    }
    if (op->nnames > 1)
        qsort(op->names, op->nnames, sizeof *op->names, cmp_str);
    return 0;
}

/* Is there a message with this base name in the folder, and under which UID? 1 yes (with
 * *uid, 0 when it is not msg's UID), 0 no, or a (negative) LMDB or MS_RC_ code. */
static int present(struct mail_user *mu, MDB_txn *txn, struct import_op *op,
                   const struct mailbox_import_msg *msg, uint32_t *uid)
{
    const char *key = msg->name;
    if (!op->nnames || !bsearch(&key, op->names, op->nnames, sizeof *op->names, cmp_str))
        return 0;
    *uid = 0;
    if (msg->uid) {
        struct msg_rec m;
        int rc = ms_msg_get(mu, txn, op->mailbox, msg->uid, &m);
        if (rc == 0 && m.namelen == strlen(msg->name) && memcmp(m.name, msg->name, m.namelen) == 0)
            *uid = msg->uid;
        else if (rc != 0 && rc != MDB_NOTFOUND)
            return rc; /* an LMDB code or MS_RC_CORRUPT: negative */
    }
    return 1;
}

/* Decide, in a read snapshot, what each message is; 0, MS_RC_EXISTS or an error. */
static int decide(struct mail_user *mu, struct import_op *op)
{
    MDB_txn *txn;
    int rc = scan_names(op);
    if (rc == 0)
        rc = ms_begin(mu, false, &txn);
    if (rc != 0)
        return rc;
    struct mailbox_rec f;
    rc = ms_mailbox_peek(mu, txn, op->mailbox, &f);
    op->exists = rc == 0;
    if (rc == MDB_NOTFOUND)
        rc = 0;
    op->uidvalidity = op->exists ? f.uidvalidity : 0;
    op->uidnext = op->exists ? f.uidnext : 1;
    /* another mailbox of this name that has held mail: not ours to change */
    if (rc == 0 && op->exists && op->im->uidvalidity && f.uidvalidity != op->im->uidvalidity &&
        (f.uidnext > 1 || f.messages > 0))
        rc = MS_RC_EXISTS;
    bool same = op->exists && (!op->im->uidvalidity || f.uidvalidity == op->im->uidvalidity);
    for (size_t i = 0; rc == 0 && i < op->n; i++) {
        struct mailbox_import_msg *msg = &op->msgs[i];
        uint32_t uid = 0;
        int p = present(mu, txn, op, msg, &uid);
        if (p < 0)
            rc = p;
        else if (p == 1)
            msg->result = uid == msg->uid ? MS_IMPORT_PRESENT : MS_IMPORT_CONFLICT;
        else if (same && msg->uid && msg->uid < f.uidnext)
            msg->result = MS_IMPORT_EXPUNGED;
        else
            msg->result = MS_IMPORT_ADDED;
    }
    mdb_txn_abort(txn);
    return rc;
}

/* The keyword table gets the other server's names at their own indices where it can, so
 * that the letters of the file names keep their meaning; the messages' bits are mapped. */
static int import_keywords(struct mail_user *mu, MDB_txn *txn, struct import_op *op)
{
    const struct mailbox_import *im = op->im;
    if (im->nkeywords == 0)
        return 0;
    struct ms_keywords k;
    int rc = ms_keywords_load(mu, txn, op->mailbox, &k);
    int map[MS_KEYWORDS_MAX];
    for (size_t i = 0; rc == 0 && i < im->nkeywords && i < MS_KEYWORDS_MAX; i++) {
        map[i] = -1;
        if (!im->keywords[i] || !mailbox_keyword_valid(im->keywords[i]))
            continue;
        int j = ms_keyword_find(&k, im->keywords[i]);
        unsigned idx;
        if (j < 0 && (rc = ms_keyword_put(mu, txn, op->mailbox, &k, im->keywords[i],
                                          k.name[i] ? -1 : (int)i, &idx)) == 0)
            j = (int)idx;
        map[i] = j;
    }
    for (size_t a = 0; rc == 0 && a < op->nargs; a++) {
        uint64_t from = op->msgs[op->which[a]].keywords, to = 0;
        for (size_t i = 0; i < im->nkeywords && i < MS_KEYWORDS_MAX; i++)
            if ((from & (UINT64_C(1) << i)) && map[i] >= 0)
                to |= UINT64_C(1) << map[i];
        op->args[a].keywords = to;
    }
    if (rc == 0)
        rc = ms_keywords_write_file(op->dir, &k);
    ms_keywords_free(&k);
    return rc;
}

/* Inside the write transaction, before the messages: the record as the other server had
 * it (made, or taken over), the user's last UIDVALIDITY, the keyword table. */
static int import_before(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct import_op *op = arg;
    const struct mailbox_import *im = op->im;
    struct mailbox_rec f;
    int rc = ms_mailbox_get(mu, txn, op->mailbox, &f);
    bool made = rc == MDB_NOTFOUND;
    if (made != !op->exists || (!made && (f.uidvalidity != op->uidvalidity || f.uidnext != op->uidnext)))
        return rc == 0 || made ? EAGAIN : rc; /* changed since the snapshot */
    if (made && (rc = ms_folder_make(mu, txn, op->mailbox, im->special_use)) == 0)
        rc = ms_mailbox_get(mu, txn, op->mailbox, &f);
    if (rc != 0)
        return rc;
    bool fresh = made || (im->uidvalidity && f.uidvalidity != im->uidvalidity);
    if (im->uidvalidity)
        f.uidvalidity = im->uidvalidity;
    if (f.uidnext < im->uidnext)
        f.uidnext = im->uidnext;
    for (size_t a = 0; a < op->nargs; a++)
        if (op->args[a].keep_uid >= f.uidnext)
            f.uidnext = op->args[a].keep_uid + 1; /* UID-less messages come after all */
    if (f.highestmodseq < im->modseq) {
        f.highestmodseq = im->modseq;
        if (fresh) /* QRESYNC from the other server's MODSEQs: the log does not reach back */
            f.expunge_floor = im->modseq;
    }
    if (!f.special_use)
        f.special_use = im->special_use & MS_USE_MASK;
    uint64_t last = 0;
    if ((rc = ms_mailbox_put(mu, txn, op->mailbox, &f)) != 0 ||
        ((rc = ms_meta_get(mu, txn, "uidvalidity", &last)) != 0 && rc != MDB_NOTFOUND))
        return rc;
    if (last < f.uidvalidity && (rc = ms_meta_put(mu, txn, "uidvalidity", f.uidvalidity)) != 0)
        return rc;
    return import_keywords(mu, txn, op);
}

/* After the messages: none of them is \Recent (clients have seen them on the other
 * server), unless messages the mailbox had before them still are (first recent UID below
 * the UIDNEXT it had). */
static int import_after(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct import_op *op = arg;
    struct mailbox_rec f;
    int rc = ms_mailbox_get(mu, txn, op->mailbox, &f);
    if (rc == 0 && f.first_recent >= op->uidnext && f.first_recent != f.uidnext) {
        f.first_recent = f.uidnext;
        rc = ms_mailbox_put(mu, txn, op->mailbox, &f);
    }
    return rc;
}

static int check_msgs(const struct mailbox_import_msg *msgs, size_t n, char **err)
{
    uint32_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        if (!valid_base(msgs[i].name)) {
            *err = xasprintf("invalid message file name \"%s\"", msgs[i].name ? msgs[i].name : "");
            return -1;
        }
        if (msgs[i].uid && msgs[i].uid <= prev) {
            *err = xasprintf("%s: UIDs out of order (%u after %u)", msgs[i].name, msgs[i].uid, prev);
            return -1;
        }
        if (msgs[i].uid)
            prev = msgs[i].uid;
    }
    return 0;
}

static void build_args(struct import_op *op)
{
    op->args = xcalloc(op->n ? op->n : 1, sizeof *op->args);
    op->which = xcalloc(op->n ? op->n : 1, sizeof *op->which);
    for (size_t i = 0; i < op->n; i++) {
        const struct mailbox_import_msg *m = &op->msgs[i];
        if (m->result != MS_IMPORT_ADDED)
            continue;
        op->which[op->nargs] = i;
        op->args[op->nargs++] = (struct ms_deliver_args){
            .mailbox = op->mailbox, .append = true, .flags = m->flags & MS_FLAG_ALL,
            .internaldate = m->internaldate, .keep_name = m->name, .keep_uid = m->uid,
            .keep_cur = m->in_cur};
    }
}

static int import_run(struct mail_user *mu, struct import_op *op)
{
    build_args(op);
    struct mailbox_append_msg *am = xcalloc(op->nargs ? op->nargs : 1, sizeof *am);
    for (size_t a = 0; a < op->nargs; a++)
        am[a] = (struct mailbox_append_msg){.fill = op->msgs[op->which[a]].fill,
                                            .ctx = op->msgs[op->which[a]].ctx};
    const struct ms_batch_hooks hooks = {import_before, import_after, op, true};
    int rc;
    if (op->nargs)
        rc = ms_deliver_many(mu, op->mailbox, op->args, am, op->nargs, &hooks);
    else /* nothing to add: the record, its UIDNEXT and keyword table all the same */
        rc = ms_write(mu, import_before, NULL, op);
    for (size_t a = 0; a < op->nargs; a++)
        op->msgs[op->which[a]].uid = am[a].uid;
    free(am);
    return rc;
}

enum mailstore_result mailbox_import(struct mail_user *mu, const char *mailbox,
                                     const struct mailbox_import *im,
                                     struct mailbox_import_msg *msgs, size_t n, char **err)
{
    char *name = ms_mailbox_name(mailbox, err);
    if (!name)
        return MS_INVALID;
    if (check_msgs(msgs, n, err) < 0) {
        free(name);
        return MS_INVALID;
    }
    struct import_op op = {.mailbox = name, .dir = ms_mailbox_dir(mu, name), .im = im,
                           .msgs = msgs, .n = n};
    int rc = decide(mu, &op);
    if (rc == 0 && !im->dry_run)
        rc = import_run(mu, &op);
    enum mailstore_result r = ms_result(rc, name, err);
    if (rc == EAGAIN || rc == MS_RC_EXISTS) {
        free(*err);
        *err = rc == EAGAIN ? xasprintf("%s: changed while it was imported: run the import again", name)
                            : xasprintf("%s exists with another UIDVALIDITY and has held mail", name);
    }
    for (size_t i = 0; i < op.nnames; i++)
        free(op.names[i]);
    free(op.names);
    free(op.args);
    free(op.which);
    free(op.dir);
    free(name);
    return r;
}
