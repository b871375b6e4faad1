/* mailstore_sync.c - bring a mailbox's index in line with its Maildir (see mailstore.h).
 * Files in new/ or cur/ without an index entry (a crash between rename and commit, mail
 * copied in by hand, a restored back-up) get new UIDs in file name order, which is arrival
 * order for Maildir names; entries whose file is gone are dropped; flags changed by hand
 * in cur/ names are taken over. Every change gets its own MODSEQ. tmp/ files older than
 * 36 hours are removed, as the Maildir convention says. */
#include "mailstore_int.h"
#include "mem.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TMP_MAX_AGE (36 * 3600)

struct sync_file {
    char *base;
    char *path;
    bool in_cur;
    uint32_t flags;
};

struct sync_entry {
    uint32_t uid;
    char *base;
    struct msg_rec rec;
};

struct sync_op {
    const char *mailbox;
    struct sync_file *files;
    size_t nfiles;
    int changes;
};

static int scan(const char *dir, const char *sub, struct sync_op *op)
{
    char *path = xasprintf("%s/%s", dir, sub);
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
        struct stat st;
        if (lstat(file, &st) < 0 || !S_ISREG(st.st_mode)) {
            free(file);
            continue;
        }
        const char *colon = strchr(de->d_name, ':');
        op->files = xreallocarray(op->files, op->nfiles + 1, sizeof *op->files);
        struct sync_file *f = &op->files[op->nfiles++];
        f->base = colon ? xstrndup(de->d_name, (size_t)(colon - de->d_name)) : xstrdup(de->d_name);
        f->path = file;
        f->in_cur = strcmp(sub, "cur") == 0;
        f->flags = colon && strncmp(colon, ":2,", 3) == 0 ? ms_flags_parse(colon + 3) : 0;
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
    time_t limit = time(NULL) - TMP_MAX_AGE;
    while (d && (de = readdir(d)) != NULL) {
        struct stat st;
        if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISREG(st.st_mode) && st.st_mtime < limit)
            (void)unlinkat(dirfd(d), de->d_name, 0);
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

/* The index entries of the mailbox, copied out of the transaction. */
static int load_entries(struct mail_user *mu, MDB_txn *txn, const char *mailbox,
                        struct sync_entry **out, size_t *n)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, mu->e->messages, &cur);
    if (rc != 0)
        return rc;
    struct buf key = BUF_INIT;
    ms_msg_key(&key, mailbox, 0);
    MDB_val k = {key.len, key.data}, v;
    uint32_t uid;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && (uid = ms_msg_key_uid(&k, mailbox));
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct msg_rec r;
        if ((rc = ms_msg_decode(&v, &r)) != 0)
            break;
        *out = xreallocarray(*out, *n + 1, sizeof **out);
        struct sync_entry *e = &(*out)[(*n)++];
        e->uid = uid;
        e->rec = r;
        e->base = xstrndup(r.name, r.namelen);
        e->rec.name = e->base;
    }
    mdb_cursor_close(cur);
    buf_free(&key);
    if (*n > 1)
        qsort(*out, *n, sizeof **out, entry_cmp);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int drop_entry(struct mail_user *mu, MDB_txn *txn, struct sync_op *op, struct mailbox_rec *f,
                      const struct sync_entry *e)
{
    struct buf key = BUF_INIT;
    ms_msg_key(&key, op->mailbox, e->uid);
    MDB_val k = {key.len, key.data};
    int rc = mdb_del(txn, mu->e->messages, &k, NULL);
    buf_free(&key);
    f->highestmodseq++;
    f->messages -= f->messages > 0;
    f->size -= f->size >= e->rec.size ? e->rec.size : f->size;
    f->vsize -= f->vsize >= e->rec.vsize ? e->rec.vsize : f->vsize;
    op->changes++;
    return rc;
}

static int add_file(struct mail_user *mu, MDB_txn *txn, struct sync_op *op, struct mailbox_rec *f,
                    const struct sync_file *sf)
{
    int fd = open(sf->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : errno; /* moved away meanwhile: the next sync sees it */
    struct stat st;
    const char *w = strstr(sf->base, ",W=");
    long long vsize = w ? strtoll(w + 3, NULL, 10) : -1;
    int rc = fstat(fd, &st) < 0 ? errno : 0;
    if (rc == 0 && vsize <= 0)
        vsize = ms_vsize_fd(fd);
    if (rc == 0 && vsize < 0)
        rc = errno ? errno : EIO;
    close(fd);
    if (rc != 0)
        return rc;
    struct msg_rec m = {.flags = sf->flags, .modseq = ++f->highestmodseq, .size = (uint64_t)st.st_size,
                        .vsize = (uint64_t)vsize, .name = sf->base, .namelen = strlen(sf->base)};
    rc = ms_msg_put(mu, txn, op->mailbox, f->uidnext++, &m);
    f->messages++;
    f->size += m.size;
    f->vsize += m.vsize;
    op->changes++;
    return rc;
}

static int sync_apply(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct sync_op *op = arg;
    struct mailbox_rec f;
    struct sync_entry *ents = NULL;
    size_t nents = 0, i = 0, j = 0;
    op->changes = 0;
    int rc = ms_mailbox_get(mu, txn, op->mailbox, &f);
    bool fresh = rc == MDB_NOTFOUND;
    if (fresh)
        ms_mailbox_new(&f);
    else if (rc != 0)
        return rc;
    rc = load_entries(mu, txn, op->mailbox, &ents, &nents);
    while (rc == 0 && (i < nents || j < op->nfiles)) {
        int c = i == nents ? 1 : j == op->nfiles ? -1 : strcmp(ents[i].base, op->files[j].base);
        if (c < 0) {
            rc = drop_entry(mu, txn, op, &f, &ents[i++]);
        } else if (c > 0) {
            rc = add_file(mu, txn, op, &f, &op->files[j++]);
        } else {
            if (op->files[j].in_cur && op->files[j].flags != ents[i].rec.flags) {
                ents[i].rec.flags = op->files[j].flags;
                ents[i].rec.modseq = ++f.highestmodseq;
                rc = ms_msg_put(mu, txn, op->mailbox, ents[i].uid, &ents[i].rec);
                op->changes++;
            }
            i++;
            j++;
        }
        while (j > 0 && j < op->nfiles && strcmp(op->files[j].base, op->files[j - 1].base) == 0)
            j++; /* the same message in new/ and cur/: the cur/ one (sorted first) counts */
    }
    if (rc == 0 && (op->changes || fresh))
        rc = ms_mailbox_put(mu, txn, op->mailbox, &f);
    for (size_t k = 0; k < nents; k++)
        free(ents[k].base);
    free(ents);
    return rc;
}

int mailbox_sync(struct mail_user *mu, const char *mailbox, char **err)
{
    char *name = ms_mailbox_name(mailbox, err);
    if (!name)
        return -1;
    char *dir = ms_mailbox_dir(mu, name);
    struct sync_op op = {.mailbox = name};
    int rc = 0;
    if (scan(dir, "new", &op) < 0 || scan(dir, "cur", &op) < 0)
        rc = errno;
    else {
        clean_tmp(dir);
        if (op.nfiles > 1)
            qsort(op.files, op.nfiles, sizeof *op.files, file_cmp);
        rc = ms_write(mu, sync_apply, NULL, &op);
    }
    if (rc != 0)
        *err = xasprintf("%s: %s", dir, rc > 0 ? strerror(rc) : ms_strerror(rc));
    for (size_t i = 0; i < op.nfiles; i++) {
        free(op.files[i].base);
        free(op.files[i].path);
    }
    free(op.files);
    free(dir);
    free(name);
    return rc ? -1 : op.changes;
}
