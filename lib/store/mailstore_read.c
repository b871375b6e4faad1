/* mailstore_read.c - the mail store API for readers (pop3d, imapd): mailbox info, the
 * list of mailboxes, iteration in UID order, lookup by UID and opening a message file
 * (see mailstore.h). Each call is one read-only snapshot; readers never block writers. */
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

int mailbox_info(struct mail_user *mu, const char *mailbox, struct mailbox_info *info,
                        char **err)
{
    char *name;
    MDB_txn *txn;
    if (ms_read_begin(mu, mailbox, &name, &txn, err) < 0)
        return -1;
    struct mailbox_rec f;
    int rc = ms_mailbox_peek(mu, txn, name, &f);
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

struct iterate_ctx {
    int (*fn)(void *ctx, const struct mailbox_msg *m);
    void *ctx;
    struct buf name;
    int result; /* fn's non-zero return, which stops the walk */
};

static void to_msg(struct mailbox_msg *out, uint32_t uid, const struct msg_rec *r, const char *name)
{
    *out = (struct mailbox_msg){.uid = uid, .flags = r->flags, .modseq = r->modseq,
                                .size = r->size, .vsize = r->vsize, .name = name,
                                .keywords = r->keywords, .internaldate = r->internaldate};
}

static int iterate_one(void *arg, uint32_t uid, const struct msg_rec *r)
{
    struct iterate_ctx *it = arg;
    buf_reset(&it->name);
    buf_append(&it->name, r->name, r->namelen);
    struct mailbox_msg m;
    to_msg(&m, uid, r, buf_cstr(&it->name));
    it->result = it->fn(it->ctx, &m);
    return it->result != 0;
}

int mailbox_iterate(struct mail_user *mu, const char *mailbox, uint32_t first_uid,
                    int (*fn)(void *ctx, const struct mailbox_msg *m), void *ctx, char **err)
{
    char *name;
    MDB_txn *txn;
    if (ms_read_begin(mu, mailbox, &name, &txn, err) < 0)
        return -1;
    struct iterate_ctx it = {fn, ctx, BUF_INIT, 0};
    int rc = ms_msg_each(mu, txn, name, first_uid, iterate_one, &it);
    mdb_txn_abort(txn);
    buf_free(&it.name);
    free(name);
    if (it.result != 0)
        return it.result;
    if (rc != 0) {
        *err = xasprintf("%s: %s", mail_user_path(mu), ms_strerror(rc));
        return -1;
    }
    return 0;
}

int mailbox_lookup(struct mail_user *mu, const char *mailbox, uint32_t uid, struct mailbox_msg *m,
                   char **err)
{
    char *name;
    MDB_txn *txn;
    memset(m, 0, sizeof *m);
    if (ms_read_begin(mu, mailbox, &name, &txn, err) < 0)
        return -1;
    struct msg_rec r;
    int rc = ms_msg_get(mu, txn, name, uid, &r);
    if (rc == 0)
        to_msg(m, uid, &r, xstrndup(r.name, r.namelen));
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
        char *path = ms_locate(dir, m->name, strlen(m->name), m->flags, m->keywords);
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
