/* test_mailstore.c - lib/mailstore: delivery (file names, modes, sizes, UID order, folder
 * counters), quota, the reader API (iterate, lookup, open), flag changes, expunge,
 * mailbox_sync after simulated crashes and hand edits, folders, shared handles, failed
 * fill() and unsafe names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

static char base[] = "/tmp/test_mailstore.XXXXXX";

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) { return remove(p); }
static int setup(void **state) { return mkdtemp(base) ? 0 : -1; }
static int teardown(void **state) { return nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static int fill_text(void *ctx, int fd) { return write_full(fd, ctx, strlen(ctx)); }
static int fill_fail(void *ctx, int fd)
{
    (void)write_full(fd, "partial", 7);
    errno = ENOSPC;
    return -1;
}

static struct mailbox *open_box(const char *local)
{
    char *err = NULL;
    struct mailbox *mb = mailbox_open(base, "example.test", local, INDEX, true, &err);
    if (!mb)
        fail_msg("mailbox_open: %s", err);
    return mb;
}

static uint32_t deliver(struct mailbox *mb, const char *folder, const char *text)
{
    uint32_t uid = 0;
    char *err = NULL;
    enum mailstore_result r = mailbox_deliver(mb, folder, 0, fill_text, (void *)text, &uid, &err);
    if (r != MS_OK)
        fail_msg("deliver: %d %s", r, err);
    return uid;
}

static int count_files(const char *dir)
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

struct list {
    struct buf b;
    uint32_t uids[16];
    int n;
};

static int list_cb(void *ctx, const struct mailbox_msg *m)
{
    struct list *l = ctx;
    buf_printf(&l->b, "%u:%llu/%llu:%u;", m->uid, (unsigned long long)m->size,
               (unsigned long long)m->vsize, m->flags);
    if (l->n < 16)
        l->uids[l->n++] = m->uid;
    return 0;
}

static const char *listing(struct mailbox *mb, const char *folder, uint32_t first)
{
    static struct list l;
    char *err = NULL;
    buf_free(&l.b);
    l.n = 0;
    if (mailbox_iterate(mb, folder, first, list_cb, &l, &err) != 0)
        fail_msg("iterate: %s", err);
    return buf_cstr(&l.b);
}

static void test_deliver_files_and_uids(void **state)
{
    struct mailbox *mb = open_box("alice");
    assert_int_equal(deliver(mb, "INBOX", "Subject: one\n\nbody\n"), 1);
    assert_int_equal(deliver(mb, "inbox", "Subject: two\n\nline\nline\n"), 2);
    assert_int_equal(deliver(mb, "INBOX", "no newline at end"), 3);
    /* sizes as stored (LF) and with CRLF line ends */
    assert_string_equal(listing(mb, "INBOX", 0), "1:19/22:0;2:24/28:0;3:17/17:0;");
    assert_string_equal(listing(mb, "INBOX", 2), "2:24/28:0;3:17/17:0;");
    struct mailbox_folder_info fi;
    char *err = NULL;
    assert_int_equal(mailbox_folder_info(mb, "INBOX", &fi, &err), 1);
    assert_int_equal(fi.uidnext, 4);
    assert_int_equal(fi.messages, 3);
    assert_int_equal(fi.size, 60);
    assert_int_equal(fi.vsize, 67);
    assert_true(fi.uidvalidity > 0);
    assert_int_equal(fi.highestmodseq, 4);
    assert_int_equal(mailbox_usage(mb), 60);
    /* file name, mode and place */
    struct mailbox_msg m;
    assert_int_equal(mailbox_lookup(mb, "INBOX", 2, &m, &err), 1);
    assert_non_null(strstr(m.name, ",S=24,W=28"));
    char path[1024];
    snprintf(path, sizeof path, "%s/new/%s", mailbox_path(mb), m.name);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(stat(mailbox_path(mb), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    snprintf(path, sizeof path, "%s/tmp", mailbox_path(mb));
    assert_int_equal(count_files(path), 0);
    int fd = mailbox_open_message(mb, "INBOX", &m, &err);
    assert_true(fd >= 0);
    char buf[64] = {0};
    assert_int_equal(read(fd, buf, sizeof buf), 24);
    assert_string_equal(buf, "Subject: two\n\nline\nline\n");
    close(fd);
    mailbox_msg_free(&m);
    assert_int_equal(mailbox_lookup(mb, "INBOX", 99, &m, &err), 0);
    mailbox_close(mb);
}

static void test_quota(void **state)
{
    struct mailbox *mb = open_box("quota");
    uint32_t uid;
    char *err = NULL;
    assert_int_equal(mailbox_deliver(mb, "INBOX", 10, fill_text, "0123456789", &uid, &err), MS_OK);
    assert_int_equal(mailbox_usage(mb), 10);
    assert_int_equal(mailbox_deliver(mb, "INBOX", 10, fill_text, "x", &uid, &err), MS_OVERQUOTA);
    free(err);
    err = NULL;
    assert_int_equal(mailbox_deliver(mb, "Sent", 5, fill_text, "x", &uid, &err), MS_OVERQUOTA);
    free(err);
    err = NULL;
    assert_int_equal(mailbox_deliver(mb, "INBOX", 11, fill_text, "x", &uid, &err), MS_OK);
    assert_int_equal(mailbox_deliver(mb, "INBOX", 0, fill_text, "x", &uid, &err), MS_OK);
    assert_int_equal(uid, 3);
    char path[1024];
    snprintf(path, sizeof path, "%s/new", mailbox_path(mb));
    assert_int_equal(count_files(path), 3);
    snprintf(path, sizeof path, "%s/tmp", mailbox_path(mb));
    assert_int_equal(count_files(path), 0);
    mailbox_close(mb);
}

static void test_failed_fill_leaves_nothing(void **state)
{
    struct mailbox *mb = open_box("fail");
    uint32_t uid = 0;
    char *err = NULL;
    assert_int_equal(mailbox_deliver(mb, "INBOX", 0, fill_fail, NULL, &uid, &err), MS_TEMPFAIL);
    assert_non_null(strstr(err, "No space left"));
    free(err);
    char path[1024];
    snprintf(path, sizeof path, "%s/tmp", mailbox_path(mb));
    assert_int_equal(count_files(path), 0);
    snprintf(path, sizeof path, "%s/new", mailbox_path(mb));
    assert_int_equal(count_files(path), 0);
    assert_int_equal(deliver(mb, "INBOX", "after\n"), 1);
    mailbox_close(mb);
}

static void test_flags_and_expunge(void **state)
{
    struct mailbox *mb = open_box("bob");
    for (int i = 0; i < 3; i++)
        deliver(mb, "INBOX", "Subject: x\n\nx\n");
    uint64_t modseq = 0;
    char *err = NULL;
    assert_int_equal(mailbox_set_flags(mb, "INBOX", 2, MS_FLAG_SEEN | MS_FLAG_REPLIED, &modseq, &err), 1);
    assert_int_equal(modseq, 5);
    assert_int_equal(mailbox_set_flags(mb, "INBOX", 42, MS_FLAG_SEEN, NULL, &err), 0);
    struct mailbox_msg m;
    assert_int_equal(mailbox_lookup(mb, "INBOX", 2, &m, &err), 1);
    assert_int_equal(m.flags, MS_FLAG_SEEN | MS_FLAG_REPLIED);
    char path[1024];
    snprintf(path, sizeof path, "%s/cur/%s:2,RS", mailbox_path(mb), m.name);
    assert_int_equal(access(path, F_OK), 0);
    int fd = mailbox_open_message(mb, "INBOX", &m, &err);
    assert_true(fd >= 0);
    close(fd);
    mailbox_msg_free(&m);
    assert_int_equal(mailbox_expunge(mb, "INBOX", 2, &err), 1);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(mailbox_expunge(mb, "INBOX", 2, &err), 0);
    assert_string_equal(listing(mb, "INBOX", 0), "1:14/17:0;3:14/17:0;");
    struct mailbox_folder_info fi;
    assert_int_equal(mailbox_folder_info(mb, "INBOX", &fi, &err), 1);
    assert_int_equal(fi.messages, 2);
    assert_int_equal(fi.size, 28);
    assert_int_equal(fi.highestmodseq, 6);
    assert_int_equal(fi.uidnext, 4);
    snprintf(path, sizeof path, "%s/tmp", mailbox_path(mb));
    assert_int_equal(count_files(path), 0);
    assert_int_equal(deliver(mb, "INBOX", "new\n"), 4); /* UIDs are never reused */
    mailbox_close(mb);
}

static void test_sync(void **state)
{
    struct mailbox *mb = open_box("carol");
    char *err = NULL;
    deliver(mb, "INBOX", "one\n");
    deliver(mb, "INBOX", "two\n");
    assert_int_equal(mailbox_sync(mb, "INBOX", &err), 0);
    /* a file renamed into new/ whose index commit never happened (crash) */
    char path[1024];
    snprintf(path, sizeof path, "%s/new/1700000000.M1P1Q1.host,S=6,W=7", mailbox_path(mb));
    assert_int_equal(write_file_atomic(path, "crash\n", 6, 0600), 0);
    /* a message put into cur/ by hand, with flags and without size fields */
    snprintf(path, sizeof path, "%s/cur/1700000001.M2P2Q2.host:2,FS", mailbox_path(mb));
    assert_int_equal(write_file_atomic(path, "a\nb\n", 4, 0600), 0);
    /* and one message deleted by hand */
    struct mailbox_msg m;
    assert_int_equal(mailbox_lookup(mb, "INBOX", 1, &m, &err), 1);
    snprintf(path, sizeof path, "%s/new/%s", mailbox_path(mb), m.name);
    assert_int_equal(unlink(path), 0);
    mailbox_msg_free(&m);
    assert_int_equal(mailbox_sync(mb, "INBOX", &err), 3);
    assert_string_equal(listing(mb, "INBOX", 0), "2:4/5:0;3:6/7:0;4:4/6:18;");
    struct mailbox_folder_info fi;
    assert_int_equal(mailbox_folder_info(mb, "INBOX", &fi, &err), 1);
    assert_int_equal(fi.messages, 3);
    assert_int_equal(fi.size, 14);
    assert_int_equal(fi.vsize, 18);
    assert_int_equal(fi.uidnext, 5);
    /* flags changed by hand in cur/ are taken over */
    char to[1024];
    snprintf(to, sizeof to, "%s/cur/1700000001.M2P2Q2.host:2,S", mailbox_path(mb));
    snprintf(path, sizeof path, "%s/cur/1700000001.M2P2Q2.host:2,FS", mailbox_path(mb));
    assert_int_equal(rename(path, to), 0);
    assert_int_equal(mailbox_sync(mb, "INBOX", &err), 1);
    assert_string_equal(listing(mb, "INBOX", 4), "4:4/6:16;");
    assert_int_equal(mailbox_sync(mb, "INBOX", &err), 0);
    mailbox_close(mb);
}

static int folder_cb(void *ctx, const char *name)
{
    buf_printf(ctx, "%s;", name);
    return 0;
}

static void test_folders_and_shared_handles(void **state)
{
    struct mailbox *a = open_box("dave"), *b = open_box("dave");
    assert_int_equal(deliver(a, "Sent", "s1\n"), 1);
    assert_int_equal(deliver(b, "Sent", "s2\n"), 2);
    assert_int_equal(deliver(b, "INBOX", "i1\n"), 1);
    char path[1024];
    snprintf(path, sizeof path, "%s/.Sent/maildirfolder", mailbox_path(a));
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/.Sent/new", mailbox_path(a));
    assert_int_equal(count_files(path), 2);
    struct buf names = BUF_INIT;
    assert_int_equal(mailbox_folders(a, folder_cb, &names), 0);
    assert_string_equal(buf_cstr(&names), "INBOX;Sent;");
    buf_free(&names);
    mailbox_close(a);
    assert_int_equal(deliver(b, "Sent", "s3\n"), 3);
    assert_int_equal(mailbox_usage(b), 12);
    uint32_t uid;
    char *err = NULL;
    static const char *const bad[] = {"", ".hidden", "a/b", "x..y", "tab\there"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(mailbox_deliver(b, bad[i], 0, fill_text, "x", &uid, &err), MS_TEMPFAIL);
        free(err);
        err = NULL;
    }
    mailbox_close(b);
}

static void test_open_errors(void **state)
{
    char *err = NULL;
    static const char *const bad[][2] = {
        {"example.test", ".."}, {"example.test", "a/b"}, {"..", "x"}, {"", "x"}, {"example.test", ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(mailbox_open(base, bad[i][0], bad[i][1], INDEX, true, &err));
        free(err);
        err = NULL;
    }
    assert_null(mailbox_open(base, "example.test", "nobody", INDEX, false, &err));
    assert_non_null(strstr(err, "No such file"));
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deliver_files_and_uids),
        cmocka_unit_test(test_quota),
        cmocka_unit_test(test_failed_fill_leaves_nothing),
        cmocka_unit_test(test_flags_and_expunge),
        cmocka_unit_test(test_sync),
        cmocka_unit_test(test_folders_and_shared_handles),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
