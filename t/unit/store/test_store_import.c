/* test_store_import.c - importing a Dovecot Maildir (lib/store/dovecot_maildir.h and
 * mailbox_import): dovecot-uidlist versions 3 and 1 give the UIDs, UIDVALIDITY and next
 * UID, file names the flags and keyword letters, dovecot-keywords their names; bad records
 * are reported with file:line; the import keeps base names, UIDs, flags, keywords (at the
 * same letters), INTERNALDATE and UIDVALIDITY, puts HIGHESTMODSEQ above the given floor,
 * marks nothing \Recent; running it again adds nothing, and after an expunge nothing comes
 * back; a mailbox that has held other mail is refused; a dry run changes nothing. */
#include "store_test.h"
#include "dovecot_maildir.h"
#include "errlist.h"
#include <fcntl.h>
#include <sys/time.h>

static char src[1100];

static void put(const char *rel, const char *text, long mtime)
{
    char path[1300];
    snprintf(path, sizeof path, "%s/%s", src, rel);
    char *slash = strrchr(path, '/');
    *slash = 0;
    assert_int_equal(mkdir_p(path, 0700), 0);
    *slash = '/';
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write_full(fd, text, strlen(text)), 0);
    if (mtime) {
        struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};
        futimens(fd, ts);
    }
    close(fd);
}

static void make_source(void)
{
    snprintf(src, sizeof src, "%s/dovecot", base);
    put("cur/1600000001.M1P1.old,S=10,W=11:2,S", "Subject: 1\n\nA\n", 1600000001);
    put("cur/1600000002.M2P1.old,S=10,W=11:2,FRSab", "Subject: 2\n\nB\n", 1600000002);
    put("new/1600000003.M3P1.old,S=10,W=11", "Subject: 3\n\nC\n", 1600000003);
    put("new/1600000009.M9P1.old", "Subject: 9\n\nnot numbered\n", 1600000009);
    put("dovecot-keywords", "0 $Label1\n1 Important\n", 0);
    put("dovecot-uidlist",
        "3 V1500000000 N20 G0123456789abcdef0123456789abcdef\n"
        "4 :1600000001.M1P1.old,S=10,W=11:2,\n"
        "7 W11 P0000000700000007 :1600000002.M2P1.old,S=10,W=11\n"
        "8 :1600000003.M3P1.old,S=10,W=11\n"
        "9 :1600000005.M5P1.expunged\n"
        "x broken\n"
        "6 :1600000001.M1P1.old\n", 0);
    put(".Sent/cur/1600000004.M4P1.old:2,S", "Subject: 4\n\nD\n", 1600000004);
    put(".Sent/maildirfolder", "", 0);
    put(".Sent/dovecot-uidlist", "1 1500000001 3\n1 1600000004.M4P1.old:2,S\n", 0);
    put(".notafolder", "", 0);
}

static void test_read(void **state)
{
    make_source();
    struct errlist errs = {0};
    char **names = dovecot_folders(src, &errs);
    assert_non_null(names);
    assert_string_equal(names[0], "INBOX");
    assert_string_equal(names[1], "Sent");
    assert_null(names[2]);
    for (char **p = names; *p; p++)
        free(*p);
    free(names);

    struct dovecot_folder f;
    assert_int_equal(dovecot_folder_read(src, NULL, &f, &errs), 0);
    assert_true(f.has_uidlist);
    assert_int_equal(f.uidvalidity, 1500000000);
    assert_int_equal(f.nextuid, 20);
    assert_int_equal(f.n, 4);
    assert_int_equal(f.gone, 1);
    assert_int_equal(f.msgs[0].uid, 4);
    assert_int_equal(f.msgs[0].flags, MS_FLAG_SEEN);
    assert_int_equal(f.msgs[0].line, 2);
    assert_int_equal(f.msgs[1].uid, 7);
    assert_int_equal(f.msgs[1].flags, MS_FLAG_FLAGGED | MS_FLAG_REPLIED | MS_FLAG_SEEN);
    assert_int_equal(f.msgs[1].letters, 3);
    assert_string_equal(f.msgs[1].pop3_uidl, "0000000700000007");
    assert_int_equal(f.msgs[2].uid, 8);
    assert_false(f.msgs[2].in_cur);
    assert_int_equal(f.msgs[3].uid, 0); /* not numbered yet */
    assert_int_equal(f.msgs[0].mtime, 1600000001);
    assert_string_equal(f.keywords[0], "$Label1");
    assert_string_equal(f.keywords[1], "Important");
    /* both bad records named by file:line */
    assert_int_equal(errlist_errors(&errs), 2);
    char want[1300];
    snprintf(want, sizeof want, "%s/dovecot-uidlist:6:", src);
    assert_true(strncmp(errs.msgs[0], want, strlen(want)) == 0);
    snprintf(want, sizeof want, "%s/dovecot-uidlist:7:", src);
    assert_true(strncmp(errs.msgs[1], want, strlen(want)) == 0);
    dovecot_folder_free(&f);

    char sent[1300];
    snprintf(sent, sizeof sent, "%s/.Sent", src);
    assert_int_equal(dovecot_folder_read(sent, NULL, &f, &errs), 0); /* version 1 */
    assert_int_equal(f.uidvalidity, 1500000001);
    assert_int_equal(f.nextuid, 3);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.msgs[0].uid, 1);
    dovecot_folder_free(&f);
    errlist_free(&errs);
}

static int fill_from(void *ctx, int fd)
{
    struct buf b = BUF_INIT;
    int rc = read_file(ctx, 1 << 20, &b) < 0 ? -1 : write_full(fd, b.data, b.len);
    buf_free(&b);
    return rc;
}

/* Import folder dir of the source into mailbox; returns how many were added. */
static int import(struct mail_user *mu, const char *dir, const char *mailbox, bool dry, int *results)
{
    struct errlist errs = {0};
    struct dovecot_folder f;
    assert_int_equal(dovecot_folder_read(dir, NULL, &f, &errs), 0);
    errlist_free(&errs);
    struct mailbox_import_msg *m = calloc(f.n, sizeof *m);
    for (size_t i = 0; i < f.n; i++)
        m[i] = (struct mailbox_import_msg){.uid = f.msgs[i].uid, .name = f.msgs[i].name,
                                           .in_cur = f.msgs[i].in_cur, .flags = f.msgs[i].flags,
                                           .keywords = f.msgs[i].letters,
                                           .internaldate = f.msgs[i].mtime, .fill = fill_from,
                                           .ctx = f.msgs[i].path};
    struct mailbox_import im = {.uidvalidity = f.uidvalidity, .uidnext = f.nextuid,
                                .modseq = 1000000, .keywords = (const char *const *)f.keywords,
                                .nkeywords = 26, .dry_run = dry,
                                .special_use = mailbox_default_special_use(mailbox)};
    char *err = NULL;
    enum mailstore_result r = mailbox_import(mu, mailbox, &im, m, f.n, &err);
    if (r != MS_OK) {
        free(m);
        dovecot_folder_free(&f);
        free(err);
        return r;
    }
    int added = 0;
    for (size_t i = 0; i < f.n; i++) {
        added += m[i].result == MS_IMPORT_ADDED;
        if (results)
            results[i] = m[i].result;
    }
    free(m);
    dovecot_folder_free(&f);
    return added;
}

static void test_import(void **state)
{
    char *err = NULL;
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/example.test/imported", base);
    assert_int_equal(mkdir_p(dir, 0700), 0);
    struct mail_user *mu = mail_user_open(base, "example.test", "imported", INDEX, false, &err);
    assert_non_null(mu);
    assert_int_equal(mail_user_skip_defaults(mu, &err), MS_OK);

    assert_int_equal(import(mu, src, "INBOX", true, NULL), 4); /* dry run */
    struct mailbox_info info;
    assert_int_equal(mailbox_info(mu, "INBOX", &info, &err), 0);
    assert_int_equal(count_in(mu, "cur"), 0);

    int res[4];
    assert_int_equal(import(mu, src, "INBOX", false, res), 4);
    /* UIDs, flags, keyword letters (a, b = $Label1, Important) kept; the unnumbered one
     * gets the first UID at Dovecot's next UID */
    assert_string_equal(listing(mu, "INBOX"), "4:16:0;7:26:3;8:0:0;20:0:0;");
    struct mailbox_status st = status_of(mu, "INBOX");
    assert_int_equal(st.uidvalidity, 1500000000);
    assert_int_equal(st.uidnext, 21);
    assert_true(st.highestmodseq > 1000000);
    assert_int_equal(st.recent, 0);
    assert_string_equal(file_of(mu, "INBOX", 7), "cur/1600000002.M2P1.old,S=10,W=11:2,FRSab");
    assert_string_equal(file_of(mu, "INBOX", 4), "cur/1600000001.M1P1.old,S=10,W=11:2,S");
    assert_string_equal(file_of(mu, "INBOX", 8), "new/1600000003.M3P1.old,S=10,W=11");
    struct mailbox_msg m;
    assert_int_equal(mailbox_lookup(mu, "INBOX", 7, &m, &err), 1);
    assert_int_equal(m.internaldate, 1600000002);
    assert_int_equal(m.size, 14);
    assert_int_equal(m.vsize, 17);
    mailbox_msg_free(&m);
    struct buf b = BUF_INIT;
    char kw[1300];
    snprintf(kw, sizeof kw, "%s/dovecot-keywords", mail_user_path(mu));
    assert_int_equal(read_file(kw, 4096, &b), 0);
    assert_string_equal(buf_cstr(&b), "0 $Label1\n1 Important\n");
    buf_free(&b);

    /* again: nothing added, nothing changed */
    assert_int_equal(import(mu, src, "INBOX", false, res), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(res[i], MS_IMPORT_PRESENT);
    assert_string_equal(listing(mu, "INBOX"), "4:16:0;7:26:3;8:0:0;20:0:0;");
    /* expunged after the import: not brought back */
    assert_int_equal(mailbox_expunge(mu, "INBOX", 8, &err), 1);
    assert_int_equal(import(mu, src, "INBOX", false, res), 0);
    assert_int_equal(res[2], MS_IMPORT_EXPUNGED);
    assert_string_equal(listing(mu, "INBOX"), "4:16:0;7:26:3;20:0:0;");

    /* a folder, version 1 uidlist; the special use of its name */
    char sent[1300];
    snprintf(sent, sizeof sent, "%s/.Sent", src);
    assert_int_equal(import(mu, sent, "Sent", false, NULL), 1);
    st = status_of(mu, "Sent");
    assert_int_equal(st.uidvalidity, 1500000001);
    assert_int_equal(st.uidnext, 3);
    assert_int_equal(st.special_use, MS_USE_SENT);
    /* a mailbox of that name that held other mail is not touched */
    mailbox_create(mu, "Other", 0, &err);
    deliver(mu, "Other", "Subject: x\n\nx\n");
    assert_int_equal(import(mu, sent, "Other", false, NULL), MS_EXISTS);
    assert_string_equal(listing(mu, "Other"), "1:0:0;");
    /* new mailboxes get UIDVALIDITYs above the imported ones */
    mailbox_create(mu, "Later", 0, &err);
    assert_true(status_of(mu, "Later").uidvalidity > 1500000001);
    mail_user_close(mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_read), cmocka_unit_test(test_import)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
