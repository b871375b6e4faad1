/* store_test.h - what the lib/store unit tests share: a scratch directory per test
 * program (group setup and teardown), opening a user's mail in it, delivering and
 * appending text messages, counting files, and listing a mailbox as a string. */
#ifndef POSTHORN_STORE_TEST_H
#define POSTHORN_STORE_TEST_H
#include "unit_test.h"
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fileio.h"
#include "mailstore.h"

#define INDEX "posthorn-index.lmdb"

static char base[] = "/tmp/test_store.XXXXXX";

static inline int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) { return remove(p); }
static inline int setup(void **state) { return mkdtemp(base) ? 0 : -1; }
static inline int teardown(void **state) { return nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static inline int fill_text(void *ctx, int fd) { return write_full(fd, ctx, strlen(ctx)); }

static inline struct mail_user *open_box(const char *local)
{
    char *err = NULL;
    struct mail_user *mu = mail_user_open(base, "example.test", local, INDEX, true, &err);
    if (!mu)
        fail_msg("mail_user_open: %s", err);
    return mu;
}

static inline uint32_t deliver(struct mail_user *mu, const char *mailbox, const char *text)
{
    uint32_t uid = 0;
    char *err = NULL;
    enum mailstore_result r = mailbox_deliver(mu, mailbox, 0, fill_text, (void *)text, &uid, &err);
    if (r != MS_OK)
        fail_msg("deliver: %d %s", r, err);
    return uid;
}

static inline uint32_t append(struct mail_user *mu, const char *mailbox, const char *text, uint32_t flags,
                       uint64_t keywords, uint64_t date)
{
    uint32_t uid = 0, uidvalidity = 0;
    char *err = NULL;
    enum mailstore_result r = mailbox_append(mu, mailbox, 0, fill_text, (void *)text, flags, keywords,
                                             date, &uid, &uidvalidity, &err);
    if (r != MS_OK)
        fail_msg("append: %d %s", r, err);
    return uid;
}

static inline int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static inline int count_in(struct mail_user *mu, const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", mail_user_path(mu), rel);
    return count_files(path);
}

static inline int list_one(void *ctx, const struct mailbox_msg *m)
{
    buf_printf(ctx, "%u:%u:%llx;", m->uid, m->flags, (unsigned long long)m->keywords);
    return 0;
}

/* "UID:FLAGS:KEYWORDS;" for each message of mailbox. */
static inline const char *listing(struct mail_user *mu, const char *mailbox)
{
    static struct buf b;
    char *err = NULL;
    buf_free(&b);
    buf_puts(&b, "");
    if (mailbox_iterate(mu, mailbox, 1, list_one, &b, &err) != 0)
        fail_msg("iterate: %s", err);
    return buf_cstr(&b);
}

static inline struct mailbox_status status_of(struct mail_user *mu, const char *mailbox)
{
    struct mailbox_status st;
    char *err = NULL;
    if (mailbox_status(mu, mailbox, &st, &err) != 1)
        fail_msg("status %s: %s", mailbox, err ? err : "no such mailbox");
    return st;
}

/* The file of a message (new/ or cur/) relative to the user's root, or "" when none. */
static inline const char *file_of(struct mail_user *mu, const char *mailbox, uint32_t uid)
{
    static char path[1024];
    struct mailbox_msg m;
    char *err = NULL;
    path[0] = 0;
    if (mailbox_lookup(mu, mailbox, uid, &m, &err) != 1)
        return path;
    char prefix[300] = "";
    if (strcmp(mailbox, "INBOX") != 0)
        snprintf(prefix, sizeof prefix, ".%s/", mailbox);
    for (int cur = 0; cur < 2 && !path[0]; cur++) {
        char sub[700];
        snprintf(sub, sizeof sub, "%s/%s%s", mail_user_path(mu), prefix, cur ? "cur" : "new");
        DIR *d = opendir(sub);
        struct dirent *de;
        while (d && (de = readdir(d)))
            if (strncmp(de->d_name, m.name, strlen(m.name)) == 0)
                snprintf(path, sizeof path, "%s%s/%s", prefix, cur ? "cur" : "new", de->d_name);
        if (d)
            closedir(d);
    }
    mailbox_msg_free(&m);
    return path;
}

#endif
