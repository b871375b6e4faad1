/* test_mailstore.c - lib/mailstore: delivery (file names, modes, sizes, UID order, mailbox
 * counters), quota, the reader API (iterate, lookup, open), flag changes, expunge,
 * mailbox_sync after simulated crashes and hand edits, mailboxes, shared handles, failed
 * fill() and unsafe names; exactly-once delivery (repeats, expunged or lost first copies,
 * pruning, a writer killed between rename and commit), directories removed under a
 * delivering handle, mail_user_current(). */
#include "unit_test.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fileio.h"
#include "mailstore.h"
#include "mailstore_int.h" /* the pending note, to stage a writer killed before its commit */

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

static struct mail_user *open_box(const char *local)
{
    char *err = NULL;
    struct mail_user *mu = mail_user_open(base, "example.test", local, INDEX, true, &err);
    if (!mu)
        fail_msg("mail_user_open: %s", err);
    return mu;
}

static uint32_t deliver(struct mail_user *mu, const char *mailbox, const char *text)
{
    uint32_t uid = 0;
    char *err = NULL;
    enum mailstore_result r = mailbox_deliver(mu, mailbox, 0, fill_text, (void *)text, &uid, &err);
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

static const char *listing(struct mail_user *mu, const char *mailbox, uint32_t first)
{
    static struct list l;
    char *err = NULL;
    buf_free(&l.b);
    l.n = 0;
    if (mailbox_iterate(mu, mailbox, first, list_cb, &l, &err) != 0)
        fail_msg("iterate: %s", err);
    return buf_cstr(&l.b);
}

static void test_deliver_files_and_uids(void **state)
{
    struct mail_user *mu = open_box("alice");
    assert_int_equal(deliver(mu, "INBOX", "Subject: one\n\nbody\n"), 1);
    assert_int_equal(deliver(mu, "inbox", "Subject: two\n\nline\nline\n"), 2);
    assert_int_equal(deliver(mu, "INBOX", "no newline at end"), 3);
    /* sizes as stored (LF) and with CRLF line ends */
    assert_string_equal(listing(mu, "INBOX", 0), "1:19/22:0;2:24/28:0;3:17/17:0;");
    assert_string_equal(listing(mu, "INBOX", 2), "2:24/28:0;3:17/17:0;");
    struct mailbox_info fi;
    char *err = NULL;
    assert_int_equal(mailbox_info(mu, "INBOX", &fi, &err), 1);
    assert_int_equal(fi.uidnext, 4);
    assert_int_equal(fi.messages, 3);
    assert_int_equal(fi.size, 60);
    assert_int_equal(fi.vsize, 67);
    assert_true(fi.uidvalidity > 0);
    assert_int_equal(fi.highestmodseq, 4);
    assert_int_equal(mail_user_usage(mu), 60);
    /* file name, mode and place */
    struct mailbox_msg m;
    assert_int_equal(mailbox_lookup(mu, "INBOX", 2, &m, &err), 1);
    assert_non_null(strstr(m.name, ",S=24,W=28"));
    char path[1024];
    snprintf(path, sizeof path, "%s/new/%s", mail_user_path(mu), m.name);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(stat(mail_user_path(mu), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    snprintf(path, sizeof path, "%s/tmp", mail_user_path(mu));
    assert_int_equal(count_files(path), 0);
    int fd = mailbox_open_message(mu, "INBOX", &m, &err);
    assert_true(fd >= 0);
    char buf[64] = {0};
    assert_int_equal(read(fd, buf, sizeof buf), 24);
    assert_string_equal(buf, "Subject: two\n\nline\nline\n");
    close(fd);
    mailbox_msg_free(&m);
    assert_int_equal(mailbox_lookup(mu, "INBOX", 99, &m, &err), 0);
    mail_user_close(mu);
}

static void test_quota(void **state)
{
    struct mail_user *mu = open_box("quota");
    uint32_t uid;
    char *err = NULL;
    assert_int_equal(mailbox_deliver(mu, "INBOX", 10, fill_text, "0123456789", &uid, &err), MS_OK);
    assert_int_equal(mail_user_usage(mu), 10);
    assert_int_equal(mailbox_deliver(mu, "INBOX", 10, fill_text, "x", &uid, &err), MS_OVERQUOTA);
    free(err);
    err = NULL;
    assert_int_equal(mailbox_deliver(mu, "Sent", 5, fill_text, "x", &uid, &err), MS_OVERQUOTA);
    free(err);
    err = NULL;
    assert_int_equal(mailbox_deliver(mu, "INBOX", 11, fill_text, "x", &uid, &err), MS_OK);
    assert_int_equal(mailbox_deliver(mu, "INBOX", 0, fill_text, "x", &uid, &err), MS_OK);
    assert_int_equal(uid, 3);
    char path[1024];
    snprintf(path, sizeof path, "%s/new", mail_user_path(mu));
    assert_int_equal(count_files(path), 3);
    snprintf(path, sizeof path, "%s/tmp", mail_user_path(mu));
    assert_int_equal(count_files(path), 0);
    mail_user_close(mu);
}

static void test_failed_fill_leaves_nothing(void **state)
{
    struct mail_user *mu = open_box("fail");
    uint32_t uid = 0;
    char *err = NULL;
    assert_int_equal(mailbox_deliver(mu, "INBOX", 0, fill_fail, NULL, &uid, &err), MS_TEMPFAIL);
    assert_non_null(strstr(err, "No space left"));
    free(err);
    char path[1024];
    snprintf(path, sizeof path, "%s/tmp", mail_user_path(mu));
    assert_int_equal(count_files(path), 0);
    snprintf(path, sizeof path, "%s/new", mail_user_path(mu));
    assert_int_equal(count_files(path), 0);
    assert_int_equal(deliver(mu, "INBOX", "after\n"), 1);
    mail_user_close(mu);
}

static void test_flags_and_expunge(void **state)
{
    struct mail_user *mu = open_box("bob");
    for (int i = 0; i < 3; i++)
        deliver(mu, "INBOX", "Subject: x\n\nx\n");
    uint64_t modseq = 0;
    char *err = NULL;
    assert_int_equal(mailbox_set_flags(mu, "INBOX", 2, MS_FLAG_SEEN | MS_FLAG_REPLIED, &modseq, &err), 1);
    assert_int_equal(modseq, 5);
    assert_int_equal(mailbox_set_flags(mu, "INBOX", 42, MS_FLAG_SEEN, NULL, &err), 0);
    struct mailbox_msg m;
    assert_int_equal(mailbox_lookup(mu, "INBOX", 2, &m, &err), 1);
    assert_int_equal(m.flags, MS_FLAG_SEEN | MS_FLAG_REPLIED);
    char path[1024];
    snprintf(path, sizeof path, "%s/cur/%s:2,RS", mail_user_path(mu), m.name);
    assert_int_equal(access(path, F_OK), 0);
    int fd = mailbox_open_message(mu, "INBOX", &m, &err);
    assert_true(fd >= 0);
    close(fd);
    mailbox_msg_free(&m);
    assert_int_equal(mailbox_expunge(mu, "INBOX", 2, &err), 1);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(mailbox_expunge(mu, "INBOX", 2, &err), 0);
    assert_string_equal(listing(mu, "INBOX", 0), "1:14/17:0;3:14/17:0;");
    struct mailbox_info fi;
    assert_int_equal(mailbox_info(mu, "INBOX", &fi, &err), 1);
    assert_int_equal(fi.messages, 2);
    assert_int_equal(fi.size, 28);
    assert_int_equal(fi.highestmodseq, 6);
    assert_int_equal(fi.uidnext, 4);
    snprintf(path, sizeof path, "%s/tmp", mail_user_path(mu));
    assert_int_equal(count_files(path), 0);
    assert_int_equal(deliver(mu, "INBOX", "new\n"), 4); /* UIDs are never reused */
    mail_user_close(mu);
}

static void test_sync(void **state)
{
    struct mail_user *mu = open_box("carol");
    char *err = NULL;
    deliver(mu, "INBOX", "one\n");
    deliver(mu, "INBOX", "two\n");
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 0);
    /* a file renamed into new/ whose index commit never happened (crash) */
    char path[1024];
    snprintf(path, sizeof path, "%s/new/1700000000.M1P1Q1.host,S=6,W=7", mail_user_path(mu));
    assert_int_equal(write_file_atomic(path, "crash\n", 6, 0600), 0);
    /* a message put into cur/ by hand, with flags and without size fields */
    snprintf(path, sizeof path, "%s/cur/1700000001.M2P2Q2.host:2,FS", mail_user_path(mu));
    assert_int_equal(write_file_atomic(path, "a\nb\n", 4, 0600), 0);
    /* and one message deleted by hand */
    struct mailbox_msg m;
    assert_int_equal(mailbox_lookup(mu, "INBOX", 1, &m, &err), 1);
    snprintf(path, sizeof path, "%s/new/%s", mail_user_path(mu), m.name);
    assert_int_equal(unlink(path), 0);
    mailbox_msg_free(&m);
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 3);
    assert_string_equal(listing(mu, "INBOX", 0), "2:4/5:0;3:6/7:0;4:4/6:18;");
    struct mailbox_info fi;
    assert_int_equal(mailbox_info(mu, "INBOX", &fi, &err), 1);
    assert_int_equal(fi.messages, 3);
    assert_int_equal(fi.size, 14);
    assert_int_equal(fi.vsize, 18);
    assert_int_equal(fi.uidnext, 5);
    /* flags changed by hand in cur/ are taken over */
    char to[1024];
    snprintf(to, sizeof to, "%s/cur/1700000001.M2P2Q2.host:2,S", mail_user_path(mu));
    snprintf(path, sizeof path, "%s/cur/1700000001.M2P2Q2.host:2,FS", mail_user_path(mu));
    assert_int_equal(rename(path, to), 0);
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 1);
    assert_string_equal(listing(mu, "INBOX", 4), "4:4/6:16;");
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 0);
    mail_user_close(mu);
}

static int folder_cb(void *ctx, const char *name)
{
    buf_printf(ctx, "%s;", name);
    return 0;
}

static void test_folders_and_shared_handles(void **state)
{
    struct mail_user *a = open_box("dave"), *b = open_box("dave");
    assert_int_equal(deliver(a, "Sent", "s1\n"), 1);
    assert_int_equal(deliver(b, "Sent", "s2\n"), 2);
    assert_int_equal(deliver(b, "INBOX", "i1\n"), 1);
    char path[1024];
    snprintf(path, sizeof path, "%s/.Sent/maildirfolder", mail_user_path(a));
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/.Sent/new", mail_user_path(a));
    assert_int_equal(count_files(path), 2);
    struct buf names = BUF_INIT;
    assert_int_equal(mail_user_mailboxes(a, folder_cb, &names), 0);
    assert_string_equal(buf_cstr(&names), "Archive;Drafts;INBOX;Junk;Sent;Trash;"); /* the defaults */
    buf_free(&names);
    mail_user_close(a);
    assert_int_equal(deliver(b, "Sent", "s3\n"), 3);
    assert_int_equal(mail_user_usage(b), 12);
    uint32_t uid;
    char *err = NULL;
    static const char *const bad[] = {"", ".hidden", "a/b", "x..y", "tab\there"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(mailbox_deliver(b, bad[i], 0, fill_text, "x", &uid, &err), MS_TEMPFAIL);
        free(err);
        err = NULL;
    }
    mail_user_close(b);
}

static int fill_count(void *ctx, int fd)
{
    (*(int *)ctx)++;
    return write_full(fd, "once\n", 5);
}

static enum mailstore_result once(struct mail_user *mu, const char *id, long long born, long long keep,
                                  int *fills, uint32_t *uid, bool *dup)
{
    struct delivery_once o = {.id = id, .born = born, .keep = keep};
    char *err = NULL;
    enum mailstore_result r = mailbox_deliver_once(mu, "INBOX", 0, &o, fill_count, fills, uid, dup, &err);
    free(err);
    return r;
}

static void test_deliver_once(void **state)
{
    struct mail_user *mu = open_box("erin");
    long long now = (long long)time(NULL);
    int fills = 0;
    uint32_t uid = 0;
    bool dup = true;
    assert_int_equal(once(mu, "Q1:erin@example.test", now, 86400, &fills, &uid, &dup), MS_OK);
    assert_int_equal(uid, 1);
    assert_false(dup);
    /* the repeated request: no second copy, the first one's UID */
    assert_int_equal(once(mu, "Q1:erin@example.test", now, 86400, &fills, &uid, &dup), MS_OK);
    assert_int_equal(uid, 1);
    assert_true(dup);
    assert_int_equal(fills, 1);
    char path[1024];
    snprintf(path, sizeof path, "%s/new", mail_user_path(mu));
    assert_int_equal(count_files(path), 1);
    /* another address or another message is another copy */
    assert_int_equal(once(mu, "Q1:other@example.test", now, 86400, &fills, &uid, &dup), MS_OK);
    assert_int_equal(uid, 2);
    assert_false(dup);
    /* a first copy that was read and flagged (moved to cur/) still counts */
    char *err = NULL;
    assert_int_equal(mailbox_set_flags(mu, "INBOX", 1, MS_FLAG_SEEN, NULL, &err), 1);
    assert_int_equal(once(mu, "Q1:erin@example.test", now, 86400, &fills, &uid, &dup), MS_OK);
    assert_true(dup);
    assert_int_equal(uid, 1);
    /* a first copy that is gone (expunged; or its rename lost in a system crash) is not
     * trusted: the message is delivered again */
    assert_int_equal(mailbox_expunge(mu, "INBOX", 1, &err), 1);
    assert_int_equal(once(mu, "Q1:erin@example.test", now, 86400, &fills, &uid, &dup), MS_OK);
    assert_false(dup);
    assert_int_equal(uid, 3);
    struct mailbox_msg m;
    assert_int_equal(mailbox_lookup(mu, "INBOX", 3, &m, &err), 1);
    snprintf(path, sizeof path, "%s/new/%s", mail_user_path(mu), m.name);
    mailbox_msg_free(&m);
    assert_int_equal(unlink(path), 0); /* entry without file */
    assert_int_equal(once(mu, "Q1:erin@example.test", now, 86400, &fills, &uid, &dup), MS_OK);
    assert_false(dup);
    assert_int_equal(uid, 4);
    assert_int_equal(fills, 4);
    /* bad identifiers */
    char longid[DELIVERY_ONCE_ID_MAX + 2];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = 0;
    assert_int_equal(once(mu, "", now, 86400, &fills, &uid, &dup), MS_TEMPFAIL);
    assert_int_equal(once(mu, longid, now, 86400, &fills, &uid, &dup), MS_TEMPFAIL);
    longid[DELIVERY_ONCE_ID_MAX] = 0;
    assert_int_equal(once(mu, longid, now, 86400, &fills, &uid, &dup), MS_OK);
    mail_user_close(mu);
}

static void test_once_records_expire(void **state)
{
    struct mail_user *mu = open_box("frank");
    long long now = (long long)time(NULL);
    int fills = 0;
    uint32_t uid;
    bool dup;
    /* six records born 10 days ago, kept 5 days: expired */
    char id[32];
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof id, "OLD%d", i);
        assert_int_equal(once(mu, id, now - 10 * 86400, 0, &fills, &uid, &dup), MS_OK);
    }
    /* each delivery that keeps 5 days prunes at most four expired records, oldest first */
    assert_int_equal(once(mu, "NEW0", now, 5 * 86400, &fills, &uid, &dup), MS_OK);
    assert_int_equal(once(mu, "OLD5", now - 10 * 86400, 5 * 86400, &fills, &uid, &dup), MS_OK);
    assert_true(dup); /* not pruned yet: the first delivery removed OLD0..OLD3 */
    assert_int_equal(once(mu, "OLD0", now - 10 * 86400, 5 * 86400, &fills, &uid, &dup), MS_OK);
    assert_false(dup); /* pruned: delivered anew (and this delivery pruned OLD4, OLD5) */
    assert_int_equal(once(mu, "OLD5", now - 10 * 86400, 5 * 86400, &fills, &uid, &dup), MS_OK);
    assert_false(dup);
    assert_int_equal(once(mu, "NEW0", now, 5 * 86400, &fills, &uid, &dup), MS_OK);
    assert_true(dup); /* young records stay */
    assert_int_equal(fills, 9);
    mail_user_close(mu);
}

/* A writer killed between its rename into new/ and its commit: the file is there, the
 * index has neither its entry nor its delivery record, only the pending note. The next
 * write transaction indexes it, and the repeated request finds it. */
static void test_killed_writer_recovered(void **state)
{
    struct mail_user *mu = open_box("hank");
    long long now = (long long)time(NULL);
    int fills = 0;
    uint32_t uid;
    bool dup;
    assert_int_equal(once(mu, "Q1:hank@example.test", now, 86400, &fills, &uid, &dup), MS_OK);
    char *err = NULL;
    struct mailbox_info fi;
    assert_int_equal(mailbox_info(mu, "INBOX", &fi, &err), 1);
    const char *name = "1700000000.M1P1Q1.host,S=5,W=6";
    char path[1400];
    snprintf(path, sizeof path, "%s/new/%s", mail_user_path(mu), name);
    assert_int_equal(write_file_atomic(path, "once\n", 5, 0600), 0);
    MDB_envinfo info;
    assert_int_equal(mdb_env_info(mu->e->le.env, &info), 0);
    struct buf key = BUF_INIT;
    ms_once_key(&key, &(struct delivery_once){.id = "Q2:hank@example.test", .born = now});
    struct ms_pending note = {.txnid = info.me_last_txnid + 1, .uidvalidity = fi.uidvalidity,
                              .uid = fi.uidnext, .size = 5, .vsize = 6, .mailbox = "INBOX",
                              .name = name, .key = key.data, .keylen = key.len};
    assert_int_equal(ms_pending_note(mu, &note), 0);
    assert_int_equal(once(mu, "Q2:hank@example.test", now, 86400, &fills, &uid, &dup), MS_OK);
    assert_true(dup);
    assert_int_equal(uid, 2);
    assert_int_equal(fills, 2); /* the tmp copy written before the check was dropped */
    assert_string_equal(listing(mu, "INBOX", 0), "1:5/6:0;2:5/6:0;");
    snprintf(path, sizeof path, "%s/new", mail_user_path(mu));
    assert_int_equal(count_files(path), 2);
    snprintf(path, sizeof path, "%s/tmp", mail_user_path(mu));
    assert_int_equal(count_files(path), 0);
    /* a note whose transaction committed is ignored (the IDs moved on) */
    assert_int_equal(once(mu, "Q3:hank@example.test", now, 86400, &fills, &uid, &dup), MS_OK);
    assert_int_equal(uid, 3);
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 0);
    /* a torn note is ignored */
    snprintf(path, sizeof path, "%s/%s-pending", mail_user_path(mu), INDEX);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "\x01garbage", 8, 0), 8);
    close(fd);
    assert_int_equal(once(mu, "Q4:hank@example.test", now, 86400, &fills, &uid, &dup), MS_OK);
    assert_int_equal(uid, 4);
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 0);
    buf_free(&key);
    mail_user_close(mu);
}

static void test_missing_dirs_and_current(void **state)
{
    struct mail_user *mu = open_box("gina");
    assert_true(mail_user_current(mu));
    deliver(mu, "INBOX", "one\n");
    char path[1400];
    /* tmp/ and new/ removed under an open handle: delivery creates them again */
    snprintf(path, sizeof path, "%s/tmp", mail_user_path(mu));
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(deliver(mu, "INBOX", "two\n"), 2);
    char newdir[1024];
    snprintf(newdir, sizeof newdir, "%s/new", mail_user_path(mu));
    DIR *d = opendir(newdir);
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", newdir, de->d_name);
            assert_int_equal(unlink(path), 0);
        }
    closedir(d);
    assert_int_equal(rmdir(newdir), 0);
    assert_int_equal(deliver(mu, "INBOX", "three\n"), 3);
    assert_int_equal(count_files(newdir), 1);
    /* the index replaced (mailbox deleted and created again): the handle is stale */
    char index[1024], moved[1100];
    snprintf(index, sizeof index, "%s/%s", mail_user_path(mu), INDEX);
    snprintf(moved, sizeof moved, "%s.old", index);
    assert_int_equal(rename(index, moved), 0);
    assert_false(mail_user_current(mu));
    struct mail_user *fresh = open_box("gina2");
    assert_true(mail_user_current(fresh));
    mail_user_close(fresh);
    mail_user_close(mu);
}

static void test_open_errors(void **state)
{
    char *err = NULL;
    static const char *const bad[][2] = {
        {"example.test", ".."}, {"example.test", "a/b"}, {"..", "x"}, {"", "x"}, {"example.test", ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(mail_user_open(base, bad[i][0], bad[i][1], INDEX, true, &err));
        free(err);
        err = NULL;
    }
    assert_null(mail_user_open(base, "example.test", "nobody", INDEX, false, &err));
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
        cmocka_unit_test(test_deliver_once),
        cmocka_unit_test(test_once_records_expire),
        cmocka_unit_test(test_killed_writer_recovered),
        cmocka_unit_test(test_missing_dirs_and_current),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
