/* mailstore_read.c - the mail store API for readers (pop3d, imapd): mailbox info, iteration
 * in UID order, lookup by UID, opening a message file, and the Maildir flag letters and
 * file lookup shared with the writers (see mailstore.h). Changes to single messages
 * (expunge, flags) are in mailstore_update.c. */
#include "mailstore_int.h"
#include "mem.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char flag_letters[] = "DFPRST"; /* bit i of the flags is letter i (sorted) */

const char *ms_flags_str(uint32_t flags, char *out)
{
    size_t n = 0;
    for (int i = 0; flag_letters[i]; i++)
        if (flags & (1u << i))
            out[n++] = flag_letters[i];
    out[n] = 0;
    return out;
}

uint32_t ms_flags_parse(const char *letters)
{
    uint32_t f = 0;
    for (; *letters; letters++) {
        const char *p = strchr(flag_letters, *letters);
        if (p && *letters)
            f |= 1u << (p - flag_letters);
    }
    return f;
}

static bool is_file(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *ms_locate(const char *dir, const char *name, size_t namelen, uint32_t flags)
{
    char letters[8];
    char *p = xasprintf("%s/new/%.*s", dir, (int)namelen, name);
    if (is_file(p))
        return p;
    free(p);
    p = xasprintf("%s/cur/%.*s:2,%s", dir, (int)namelen, name, ms_flags_str(flags, letters));
    if (is_file(p))
        return p;
    free(p);
    char *cur = xasprintf("%s/cur", dir);
    DIR *d = opendir(cur);
    struct dirent *de;
    p = NULL;
    while (d && (de = readdir(d)) != NULL)
        if (strncmp(de->d_name, name, namelen) == 0 &&
            (de->d_name[namelen] == ':' || de->d_name[namelen] == 0)) {
            p = xasprintf("%s/%s", cur, de->d_name);
            break;
        }
    if (d)
        closedir(d);
    free(cur);
    if (!p)
        errno = ENOENT;
    return p;
}

static int read_begin(struct mail_user *mu, const char *mailbox, char **name, MDB_txn **txn, char **err)
{
    *name = ms_mailbox_name(mailbox, err);
    if (!*name)
        return -1;
    int rc = ms_begin(mu, false, txn);
    if (rc != 0) {
        *err = xasprintf("%s: %s", mail_user_path(mu), ms_strerror(rc));
        free(*name);
        return -1;
    }
    return 0;
}

int mailbox_info(struct mail_user *mu, const char *mailbox, struct mailbox_info *info,
                        char **err)
{
    char *name;
    MDB_txn *txn;
    if (read_begin(mu, mailbox, &name, &txn, err) < 0)
        return -1;
    struct mailbox_rec f;
    int rc = ms_mailbox_get(mu, txn, name, &f);
    mdb_txn_abort(txn);
    free(name);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0) {
        *err = xasprintf("%s: %s", mail_user_path(mu), ms_strerror(rc));
        return -1;
    }
    *info = (struct mailbox_info){f.uidvalidity, f.uidnext, f.highestmodseq,
                                         f.messages, f.size, f.vsize};
    return 1;
}

int mail_user_mailboxes(struct mail_user *mu, int (*fn)(void *ctx, const char *mailbox), void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    if (ms_begin(mu, false, &txn) != 0)
        return -1;
    if (mdb_cursor_open(txn, mu->e->mailboxes, &cur) != 0) {
        mdb_txn_abort(txn);
        return -1;
    }
    MDB_val k, v;
    int result = 0, rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && result == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char *name = xstrndup(k.mv_data, k.mv_size);
        result = fn(ctx, name);
        free(name);
    }
    if (result == 0 && rc != MDB_NOTFOUND)
        result = -1;
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return result;
}

int mailbox_iterate(struct mail_user *mu, const char *mailbox, uint32_t first_uid,
                    int (*fn)(void *ctx, const struct mailbox_msg *m), void *ctx, char **err)
{
    char *name;
    MDB_txn *txn;
    MDB_cursor *cur;
    if (read_begin(mu, mailbox, &name, &txn, err) < 0)
        return -1;
    int rc = mdb_cursor_open(txn, mu->e->messages, &cur), result = 0;
    struct buf key = BUF_INIT, nm = BUF_INIT;
    ms_msg_key(&key, name, first_uid);
    MDB_val k = {key.len, key.data}, v;
    uint32_t uid;
    for (rc = rc ? rc : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         rc == 0 && result == 0 && (uid = ms_msg_key_uid(&k, name)) != 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct msg_rec r;
        if ((rc = ms_msg_decode(&v, &r)) != 0)
            break;
        buf_reset(&nm);
        buf_append(&nm, r.name, r.namelen);
        struct mailbox_msg m = {uid, r.flags, r.modseq, r.size, r.vsize, buf_cstr(&nm)};
        result = fn(ctx, &m);
    }
    if (result == 0 && rc != 0 && rc != MDB_NOTFOUND) {
        *err = xasprintf("%s: %s", mail_user_path(mu), ms_strerror(rc));
        result = -1;
    }
    if (cur)
        mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    buf_free(&key);
    buf_free(&nm);
    free(name);
    return result;
}

int mailbox_lookup(struct mail_user *mu, const char *mailbox, uint32_t uid, struct mailbox_msg *m,
                   char **err)
{
    char *name;
    MDB_txn *txn;
    memset(m, 0, sizeof *m);
    if (read_begin(mu, mailbox, &name, &txn, err) < 0)
        return -1;
    struct msg_rec r;
    int rc = ms_msg_get(mu, txn, name, uid, &r);
    if (rc == 0)
        *m = (struct mailbox_msg){uid, r.flags, r.modseq, r.size, r.vsize, xstrndup(r.name, r.namelen)};
    mdb_txn_abort(txn);
    free(name);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0) {
        *err = xasprintf("%s: %s", mail_user_path(mu), ms_strerror(rc));
        return -1;
    }
    return 1;
}

void mailbox_msg_free(struct mailbox_msg *m)
{
    free((char *)m->name);
    m->name = NULL;
}

int mailbox_open_message(struct mail_user *mu, const char *mailbox, const struct mailbox_msg *m,
                         char **err)
{
    char *name = ms_mailbox_name(mailbox, err);
    if (!name)
        return -1;
    char *dir = ms_mailbox_dir(mu, name);
    int fd = -1;
    for (int i = 0; i < 3 && fd < 0; i++) { /* another process may be renaming it */
        char *path = ms_locate(dir, m->name, strlen(m->name), m->flags);
        if (!path)
            break;
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        free(path);
        if (fd < 0 && errno != ENOENT)
            break;
    }
    int e = errno;
    if (fd < 0)
        *err = xasprintf("%s: message %s: %s", mail_user_path(mu), m->name, strerror(e));
    free(dir);
    free(name);
    errno = e;
    return fd;
}
