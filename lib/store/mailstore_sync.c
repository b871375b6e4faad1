/* mailstore_sync.c - bring a mailbox's index in line with its Maildir (see mailstore.h).
 * Files in new/ or cur/ without an index entry (a crash between rename and commit, mail
 * copied in by hand, a restored back-up) get new UIDs in file name order, which is arrival
 * order for Maildir names, with the flags and keywords of their names and their mtime as
 * INTERNALDATE; entries whose file is gone are dropped (and logged as expunged for
 * QRESYNC); flags and keyword letters changed by hand in cur/ names are taken over. Every
 * change gets its own MODSEQ and keeps the counters (messages, sizes, unseen) right.
 * Keyword letters are read with the folder's dovecot-keywords file: names another program
 * added there are adopted into the index's table first, and the file is then rewritten
 * from the table (mailstore_keywords.c). tmp/ files older than 36 hours are removed, as
 * the Maildir convention says (and a DELETE's folder a crash left in the root's tmp/, after
 * an hour). Like every write transaction, a sync first completes or
 * undoes what a crashed writer left in the journal (mailstore_journal.c).
 *
 * new/ and cur/ are read before the write transaction, so that a large mailbox does not
 * hold the writer lock (and every delivery to the user) for its directory scan; imapd reads
 * them on a worker thread (mailbox_scan_read), so they may be older still. The list
 * can therefore be older than the index the transaction sees: between the scan and the
 * lock, another process may have committed an APPEND, COPY or MOVE (entry and file, but
 * the file was not there when we looked), a STORE (the file renamed to new letters), or
 * readdir() may have missed a file renamed while it ran; and the transaction's own
 * journal recovery can put files back. Taking such a difference for a change by another
 * program would drop a live message (logged as expunged, indexed again under a new UID
 * by the next sync) or put old flags back. So a difference is confirmed under the writer
 * lock (every store writer renames and links message files inside its write
 * transaction) before it is acted on (doc/mailstore.md, "Sync"): an entry is dropped
 * only when its file is not there now, and letters are taken over only from a name that
 * still exists. Only differences are looked at again, so a sync that finds none holds
 * the lock no longer than before. */
#include "mailstore_int.h"
#include "mem.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TMP_MAX_AGE (36 * 3600)
/* A DELETE's folder in the root's tmp/ whose removal an hour did not see through: the
 * process that was removing it died (mailstore_folders.c). */
#define TRASH_MAX_AGE 3600

struct sync_file {
    char *base;
    char *path;
    bool in_cur;
    uint32_t flags;
    uint32_t az;     /* keyword letters a..z */
    bool unindexed;  /* no index entry when mailbox_scan_unindexed looked */
    bool measured;   /* size, vsize and mtime read by mailbox_scan_measure */
    uint64_t size, vsize;
    time_t mtime;
};

struct sync_entry {
    uint32_t uid;
    char *base;
    struct msg_rec rec;
};

/* The files of a folder's new/ and cur/, read without the index (mailstore.h). */
struct mailbox_scan {
    char *mailbox; /* the store's name */
    char *dir;
    struct sync_file *files;
    size_t nfiles, cap;
    int error; /* errno of the read, 0 when it worked (-1: not read yet) */
    atomic_bool cancelled; /* mailbox_scan_cancel: the measuring stops */
};

struct sync_op {
    const char *mailbox;
    const char *dir;
    const struct sync_file *files;
    size_t nfiles;
    int changes;
    size_t add_max, added; /* files indexed per call (0: all), and so far in this one */
    bool more;             /* files were left for the next call */
    int letter[MS_LETTER_KEYWORDS]; /* keyword index of each letter a..z, -1 for none */
};

static int scan(struct mailbox_scan *sc, const char *sub)
{
    char *path = xasprintf("%s/%s", sc->dir, sub);
    DIR *d = opendir(path);
    if (!d) {
        int e = errno;
        free(path);
        errno = e;
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *file = xasprintf("%s/%s", path, de->d_name);
        struct stat st; /* d_type spares a stat per file where the file system gives it */
        if (de->d_type != DT_REG &&
            (de->d_type != DT_UNKNOWN || lstat(file, &st) < 0 || !S_ISREG(st.st_mode))) {
            free(file);
            continue;
        }
        const char *colon = strchr(de->d_name, ':');
        if (sc->nfiles == sc->cap)
            sc->files = xreallocarray(sc->files, sc->cap = sc->cap ? sc->cap * 2 : 64, sizeof *sc->files);
        struct sync_file *f = &sc->files[sc->nfiles++];
        *f = (struct sync_file){.path = file, .in_cur = strcmp(sub, "cur") == 0};
        f->base = colon ? xstrndup(de->d_name, (size_t)(colon - de->d_name)) : xstrdup(de->d_name);
        if (colon && strncmp(colon, ":2,", 3) == 0)
            ms_letters_parse(colon + 3, &f->flags, &f->az);
    }
    closedir(d);
    free(path);
    return 0;
}


static void clean_tmp(const char *dir)
{
    char *path = xasprintf("%s/tmp", dir);
    DIR *d = opendir(path);
    struct dirent *de;
    time_t limit = time(NULL) - TMP_MAX_AGE, trash_limit = time(NULL) - TRASH_MAX_AGE;
    while (d && (de = readdir(d)) != NULL) {
        struct stat st;
        if ((de->d_name[0] == '.' && strncmp(de->d_name, ".deleted.", 9) != 0) ||
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        /* ctime, not mtime: APPEND sets the mtime of its tmp/ file to the INTERNALDATE,
         * which may be years ago, before the rename into new/ or cur/ (and expunge parks
         * files here under their old mtime); ctime is the time of the last change of any
         * kind, which no one can set back. With mtime, a sync run during another
         * process's APPEND deleted the file under it and the APPEND failed. */
        if (S_ISREG(st.st_mode) && st.st_ctime < limit)
            (void)unlinkat(dirfd(d), de->d_name, 0);
        else if (S_ISDIR(st.st_mode) && st.st_ctime < trash_limit &&
                 strncmp(de->d_name, ".deleted.", 9) == 0) { /* a DELETE's, left by a crash */
            char *trash = xasprintf("%s/%s", path, de->d_name);
            (void)ms_remove_tree(trash);
            free(trash);
        }
    }
    if (d)
        closedir(d);
    free(path);
}

static int file_cmp(const void *a, const void *b)
{
    const struct sync_file *x = a, *y = b;
    int c = strcmp(x->base, y->base);
    return c ? c : (int)y->in_cur - (int)x->in_cur; /* cur/ first */
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct sync_entry *)a)->base, ((const struct sync_entry *)b)->base);
}

struct entries {
    struct sync_entry *v;
    size_t n, cap;
};

static int add_entry(void *ctx, uint32_t uid, const struct msg_rec *r)
{
    struct entries *es = ctx;
    if (es->n == es->cap)
        es->v = xreallocarray(es->v, es->cap = es->cap ? es->cap * 2 : 64, sizeof *es->v);
    struct sync_entry *e = &es->v[es->n++];
    e->uid = uid;
    e->rec = *r;
    e->base = xstrndup(r->name, r->namelen);
    e->rec.name = e->base;
    return 0;
}

/* The index entries of the mailbox, copied out of the transaction, sorted by name. */
static int load_entries(struct mail_user *mu, MDB_txn *txn, const char *mailbox,
                        struct sync_entry **out, size_t *n)
{
    struct entries es = {NULL, 0, 0};
    int rc = ms_msg_each(mu, txn, mailbox, 1, add_entry, &es);
    *out = es.v;
    *n = es.n;
    size_t i = 1; /* in UID order, which is mostly name order already (Maildir names start
                   * with the time): no sort then */
    while (i < es.n && entry_cmp(&es.v[i - 1], &es.v[i]) <= 0)
        i++;
    if (i < es.n)
        qsort(*out, *n, sizeof **out, entry_cmp);
    return rc;
}

static int drop_entry(struct mail_user *mu, MDB_txn *txn, struct sync_op *op, struct mailbox_rec *f,
                      const struct sync_entry *e)
{
    /* Not in the scan, but the scan is older than this transaction (top of the file): the
     * file may have arrived or been renamed since. It is gone only if it is not there now,
     * under the writer lock. */
    char *now = ms_locate(op->dir, e->base, strlen(e->base), e->rec.flags, e->rec.keywords);
    if (now) {
        free(now);
        return 0;
    }
    if (errno != ENOENT)
        return errno ? errno : EIO;
    ms_mailbox_count(f, &e->rec, false);
    op->changes++;
    int rc = ms_msg_del(mu, txn, op->mailbox, e->uid);
    return rc ? rc : ms_log_expunge(mu, txn, op->mailbox, ++f->highestmodseq, e->uid);
}

static uint64_t letters_keywords(const struct sync_op *op, uint32_t az)
{
    uint64_t kw = 0;
    for (int i = 0; i < MS_LETTER_KEYWORDS; i++)
        if ((az & (1u << i)) && op->letter[i] >= 0)
            kw |= UINT64_C(1) << op->letter[i];
    return kw;
}

/* Size, CRLF size and mtime of a message file: 0 or an errno value (ENOENT: gone). */
static int measure(struct sync_file *sf)
{
    int fd = open(sf->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno;
    struct stat st;
    const char *w = strstr(sf->base, ",W=");
    long long vsize = w ? strtoll(w + 3, NULL, 10) : -1;
    int rc = fstat(fd, &st) < 0 ? errno : 0;
    if (rc == 0 && vsize <= 0)
        vsize = ms_vsize_fd(fd);
    if (rc == 0 && vsize < 0)
        rc = errno ? errno : EIO;
    close(fd);
    if (rc == 0) {
        sf->measured = true;
        sf->size = (uint64_t)st.st_size;
        sf->vsize = (uint64_t)vsize;
        sf->mtime = st.st_mtime;
    }
    return rc;
}

static int add_file(struct mail_user *mu, MDB_txn *txn, struct sync_op *op, struct mailbox_rec *f,
                    const struct sync_file *file)
{
    if (op->add_max && op->added == op->add_max) {
        op->more = true; /* the next slice, in name order still */
        return 0;
    }
    struct sync_file sf = *file;
    struct stat st; /* measured on another thread: is it still there, under the writer lock? */
    int rc = sf.measured ? (lstat(sf.path, &st) < 0 ? errno : 0) : measure(&sf);
    if (rc != 0)
        return rc == ENOENT ? 0 : rc; /* moved away meanwhile: the next sync sees it */
    struct msg_rec m = {.flags = sf.flags, .modseq = ++f->highestmodseq, .size = sf.size,
                        .vsize = sf.vsize, .keywords = letters_keywords(op, sf.az),
                        .internaldate = (uint64_t)sf.mtime, .name = sf.base,
                        .namelen = strlen(sf.base)};
    rc = ms_msg_put(mu, txn, op->mailbox, f->uidnext++, &m);
    ms_mailbox_count(f, &m, true);
    op->changes++;
    op->added++; /* (a file gone since the scan uses up none of the slice: it is met again) */
    return rc;
}

/* Letters changed by another program in a cur/ name: taken over (keywords 26.. stay). */
static int retag(struct mail_user *mu, MDB_txn *txn, struct sync_op *op, struct mailbox_rec *f,
                 struct sync_entry *e, const struct sync_file *sf)
{
    uint64_t kw = (e->rec.keywords & ~MS_LETTER_MASK) | letters_keywords(op, sf->az);
    if (!sf->in_cur || (sf->flags == e->rec.flags && kw == e->rec.keywords))
        return 0;
    /* A name that is gone was renamed after the scan, by a STORE that has committed (the
     * entry has its letters) or by a program the next sync will see: nothing to take. */
    struct stat st;
    if (lstat(sf->path, &st) < 0)
        return errno == ENOENT ? 0 : errno;
    ms_mailbox_count(f, &e->rec, false);
    e->rec.flags = sf->flags;
    e->rec.keywords = kw;
    e->rec.modseq = ++f->highestmodseq;
    ms_mailbox_count(f, &e->rec, true);
    op->changes++;
    return ms_msg_put(mu, txn, op->mailbox, e->uid, &e->rec);
}

/* Adopt the names of the folder's dovecot-keywords file (another program's keywords),
 * note which keyword each letter stands for, and write the file from the table. */
static int reconcile_keywords(struct mail_user *mu, MDB_txn *txn, struct sync_op *op)
{
    struct ms_keywords k, file;
    int rc = ms_keywords_load(mu, txn, op->mailbox, &k);
    if (rc != 0)
        return rc;
    rc = ms_keywords_read_file(op->dir, &file);
    for (int i = 0; rc == 0 && i < MS_LETTER_KEYWORDS; i++) {
        int j = file.name[i] ? ms_keyword_find(&k, file.name[i]) : k.name[i] ? i : -1;
        unsigned idx;
        if (j < 0 && file.name[i]) {
            rc = ms_keyword_put(mu, txn, op->mailbox, &k, file.name[i], k.name[i] ? -1 : i, &idx);
            j = rc == 0 ? (int)idx : -1;
            rc = rc == MS_RC_LIMIT ? 0 : rc; /* a table that is full: the letter is dropped */
        }
        op->letter[i] = j;
    }
    if (rc == 0)
        rc = ms_keywords_write_file(op->dir, &k);
    ms_keywords_free(&k);
    ms_keywords_free(&file);
    return rc;
}

static int sync_apply(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct sync_op *op = arg;
    struct mailbox_rec f;
    struct sync_entry *ents = NULL;
    size_t nents = 0, i = 0, j = 0;
    op->changes = 0;
    op->added = 0;
    op->more = false;
    int rc = ms_mailbox_get(mu, txn, op->mailbox, &f);
    /* Only INBOX is made by a sync: another folder without a record was deleted or renamed
     * (perhaps after the scan, which may be old: mailbox_scan_read) and must not come back. */
    bool fresh = rc == MDB_NOTFOUND && strcmp(op->mailbox, "INBOX") == 0;
    if (fresh)
        rc = ms_mailbox_new(mu, txn, &f);
    else if (rc == MDB_NOTFOUND)
        rc = MS_RC_NONEXISTENT;
    if (rc == 0)
        rc = reconcile_keywords(mu, txn, op);
    if (rc == 0)
        rc = load_entries(mu, txn, op->mailbox, &ents, &nents);
    while (rc == 0 && (i < nents || j < op->nfiles)) {
        int c = i == nents ? 1 : j == op->nfiles ? -1 : strcmp(ents[i].base, op->files[j].base);
        if (c < 0)
            rc = drop_entry(mu, txn, op, &f, &ents[i++]);
        else if (c > 0)
            rc = add_file(mu, txn, op, &f, &op->files[j++]);
        else
            rc = retag(mu, txn, op, &f, &ents[i++], &op->files[j++]);
        while (j > 0 && j < op->nfiles && strcmp(op->files[j].base, op->files[j - 1].base) == 0)
            j++; /* the same message in new/ and cur/: the cur/ one (sorted first) counts */
    }
    if (rc == 0 && (op->changes || fresh || f.v1))
        rc = ms_mailbox_put(mu, txn, op->mailbox, &f);
    for (size_t k = 0; k < nents; k++)
        free(ents[k].base);
    free(ents);
    return rc;
}

struct mailbox_scan *mailbox_scan_new(struct mail_user *mu, const char *mailbox, char **err)
{
    char *name = ms_mailbox_name(mailbox, err);
    if (!name)
        return NULL;
    struct mailbox_scan *sc = xcalloc(1, sizeof *sc);
    sc->mailbox = name;
    sc->dir = ms_mailbox_dir(mu, name);
    sc->error = -1;
    return sc;
}

int mailbox_scan_read(struct mailbox_scan *sc)
{
    if (scan(sc, "new") < 0 || scan(sc, "cur") < 0)
        return sc->error = errno ? errno : EIO;
    clean_tmp(sc->dir);
    if (sc->nfiles > 1)
        qsort(sc->files, sc->nfiles, sizeof *sc->files, file_cmp);
    return sc->error = 0;
}

void mailbox_scan_free(struct mailbox_scan *sc)
{
    if (!sc)
        return;
    for (size_t i = 0; i < sc->nfiles; i++) {
        free(sc->files[i].base);
        free(sc->files[i].path);
    }
    free(sc->files);
    free(sc->dir);
    free(sc->mailbox);
    free(sc);
}

static void op_init(struct sync_op *op, const struct mailbox_scan *sc)
{
    *op = (struct sync_op){.mailbox = sc->mailbox, .dir = sc->dir, .files = sc->files,
                           .nfiles = sc->nfiles};
}

static bool scan_failed(const struct mailbox_scan *sc, char **err)
{
    if (sc->error == 0)
        return false;
    *err = xasprintf("%s: %s", sc->dir, sc->error > 0 ? strerror(sc->error) : "not read");
    return true;
}

int mailbox_sync_scanned_some(struct mail_user *mu, const struct mailbox_scan *sc, size_t max_new,
                              bool *more, char **err)
{
    *more = false;
    if (scan_failed(sc, err))
        return -1;
    struct sync_op op;
    op_init(&op, sc);
    op.add_max = max_new;
    int rc = ms_write(mu, sync_apply, NULL, &op);
    if (rc != 0) {
        *err = xasprintf("%s: %s", sc->dir, rc > 0 ? strerror(rc) : ms_strerror(rc));
        return -1;
    }
    *more = op.more;
    return op.changes;
}

int mailbox_sync_scanned(struct mail_user *mu, const struct mailbox_scan *sc, char **err)
{
    bool more;
    return mailbox_sync_scanned_some(mu, sc, 0, &more, err);
}

/* The one-call forms: read the folder here, then fn. */
static int scan_then(struct mail_user *mu, const char *mailbox, char **err,
                     int (*fn)(struct mail_user *mu, const struct mailbox_scan *sc, char **err))
{
    struct mailbox_scan *sc = mailbox_scan_new(mu, mailbox, err);
    if (!sc)
        return -1;
    mailbox_scan_read(sc);
    int r = fn(mu, sc, err);
    mailbox_scan_free(sc);
    return r;
}

int mailbox_sync(struct mail_user *mu, const char *mailbox, char **err)
{
    return scan_then(mu, mailbox, err, mailbox_sync_scanned);
}

/* Does the scan (sorted) differ from the entries (sorted): a file without an entry, an entry
 * without a file, or other letters in a cur/ name? */
static bool differs(const struct sync_op *op, const struct sync_entry *ents, size_t nents)
{
    size_t i = 0, j = 0;
    while (i < nents || j < op->nfiles) {
        int c = i == nents ? 1 : j == op->nfiles ? -1 : strcmp(ents[i].base, op->files[j].base);
        if (c != 0)
            return true;
        const struct sync_file *sf = &op->files[j];
        if (sf->in_cur && (sf->flags != ents[i].rec.flags ||
                           sf->az != (uint32_t)(ents[i].rec.keywords & MS_LETTER_MASK)))
            return true; /* maybe: a letter may stand for another keyword (dovecot-keywords) */
        i++;
        j++;
        while (j > 0 && j < op->nfiles && strcmp(op->files[j].base, op->files[j - 1].base) == 0)
            j++;
    }
    return false;
}

int mailbox_sync_needed_scanned(struct mail_user *mu, const struct mailbox_scan *sc, char **err)
{
    if (scan_failed(sc, err))
        return -1;
    char *name = NULL;
    MDB_txn *txn;
    if (ms_read_begin(mu, sc->mailbox, &name, &txn, err) < 0)
        return -1;
    struct sync_op op;
    op_init(&op, sc);
    struct sync_entry *ents = NULL;
    size_t nents = 0;
    int r = -1;
    struct mailbox_rec f;
    int rc = ms_mailbox_get(mu, txn, name, &f);
    if (rc == MDB_NOTFOUND && strcmp(name, "INBOX") != 0)
        r = 0; /* deleted or renamed: nothing a sync would do (see sync_apply) */
    else if ((rc = load_entries(mu, txn, name, &ents, &nents)) != 0 && rc != MDB_NOTFOUND)
        *err = xasprintf("%s: %s", name, ms_strerror(rc));
    else
        r = differs(&op, ents, nents);
    mdb_txn_abort(txn);
    for (size_t k = 0; k < nents; k++)
        free(ents[k].base);
    free(ents);
    free(name);
    return r;
}

int mailbox_sync_needed(struct mail_user *mu, const char *mailbox, char **err)
{
    return scan_then(mu, mailbox, err, mailbox_sync_needed_scanned);
}

size_t mailbox_scan_files(const struct mailbox_scan *sc) { return sc->error == 0 ? sc->nfiles : 0; }

int mailbox_scan_unindexed(struct mail_user *mu, struct mailbox_scan *sc, char **err)
{
    if (scan_failed(sc, err))
        return -1;
    MDB_txn *txn;
    int rc = ms_begin(mu, false, &txn);
    struct sync_entry *ents = NULL;
    size_t nents = 0, i = 0, j = 0;
    int n = 0;
    if (rc == 0) {
        rc = load_entries(mu, txn, sc->mailbox, &ents, &nents);
        mdb_txn_abort(txn);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        *err = xasprintf("%s: %s", sc->mailbox, ms_strerror(rc));
        n = -1;
    }
    while (n >= 0 && j < sc->nfiles) { /* the walk of sync_apply */
        int c = i == nents ? 1 : strcmp(ents[i].base, sc->files[j].base);
        if (c < 0) {
            i++;
            continue;
        }
        if (c > 0) {
            sc->files[j].unindexed = true;
            n++;
        }
        i += c == 0;
        j++;
        while (j < sc->nfiles && strcmp(sc->files[j].base, sc->files[j - 1].base) == 0)
            j++;
    }
    for (size_t k = 0; k < nents; k++)
        free(ents[k].base);
    free(ents);
    return n;
}

void mailbox_scan_cancel(struct mailbox_scan *sc) { atomic_store(&sc->cancelled, true); }

void mailbox_scan_measure(struct mailbox_scan *sc)
{
    for (size_t j = 0; sc->error == 0 && j < sc->nfiles && !atomic_load(&sc->cancelled); j++)
        if (sc->files[j].unindexed && !sc->files[j].measured)
            (void)measure(&sc->files[j]); /* a failure is met again by the sync */
}
