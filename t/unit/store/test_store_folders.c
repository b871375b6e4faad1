/* test_store_folders.c - lib/store mailboxes: CREATE (Maildir++ folder, unique
 * UIDVALIDITY, names), DELETE (children stay, INBOX refused, nothing left behind), RENAME
 * (children, records, keywords, cache, refusals) and RENAME INBOX, subscriptions in both
 * Dovecot formats, SPECIAL-USE and the default mailboxes made once per user. */
#include "store_test.h"

static int name_cb(void *ctx, const char *name)
{
    buf_printf(ctx, "%s;", name);
    return 0;
}

static const char *mailboxes(struct mail_user *mu)
{
    static struct buf b;
    buf_free(&b);
    buf_puts(&b, "");
    assert_int_equal(mail_user_mailboxes(mu, name_cb, &b), 0);
    return buf_cstr(&b);
}

static bool exists(struct mail_user *mu, const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", mail_user_path(mu), rel);
    return access(path, F_OK) == 0;
}

static void test_create(void **state)
{
    struct mail_user *mu = open_box("create");
    char *err = NULL;
    assert_int_equal(mailbox_create(mu, "Work", 0, &err), MS_OK);
    assert_true(exists(mu, ".Work/cur") && exists(mu, ".Work/new") && exists(mu, ".Work/tmp"));
    assert_true(exists(mu, ".Work/maildirfolder"));
    struct mailbox_status st = status_of(mu, "Work");
    assert_int_equal(st.messages, 0);
    assert_int_equal(st.uidnext, 1);
    assert_int_equal(st.highestmodseq, 1);
    static const char *const taken[] = {"Work", "inbox", "INBOX", "Sent"};
    for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++) {
        assert_int_equal(mailbox_create(mu, taken[i], 0, &err), MS_EXISTS);
        free(err);
        err = NULL;
    }
    static const char *const bad[] = {"", ".x", "a..b", "a/b", "tab\tx", "..", "."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(mailbox_create(mu, bad[i], 0, &err), MS_INVALID);
        free(err);
        err = NULL;
    }
    /* a trailing separator is dropped (RFC 3501 6.3.3); superiors are not made */
    assert_int_equal(mailbox_create(mu, "Lists.posthorn.", MS_USE_ARCHIVE, &err), MS_OK);
    assert_true(exists(mu, ".Lists.posthorn/cur"));
    assert_false(exists(mu, ".Lists"));
    assert_int_equal(status_of(mu, "Lists.posthorn").special_use, MS_USE_ARCHIVE);
    /* every mailbox gets its own UIDVALIDITY, even when made again in the same second */
    uint32_t v1 = status_of(mu, "Work").uidvalidity;
    assert_int_equal(mailbox_delete(mu, "Work", &err), MS_OK);
    assert_int_equal(mailbox_create(mu, "Work", 0, &err), MS_OK);
    uint32_t v2 = status_of(mu, "Work").uidvalidity;
    assert_true(v2 > v1);
    assert_true(status_of(mu, "Lists.posthorn").uidvalidity != v2);
    /* a folder directory made by another program is taken over */
    char path[1024];
    snprintf(path, sizeof path, "%s/.Imported", mail_user_path(mu));
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(mailbox_create(mu, "Imported", 0, &err), MS_OK);
    assert_true(exists(mu, ".Imported/cur"));
    mail_user_close(mu);
}

static void test_delete(void **state)
{
    struct mail_user *mu = open_box("delete");
    char *err = NULL;
    assert_int_equal(mailbox_create(mu, "Old", 0, &err), MS_OK);
    assert_int_equal(mailbox_create(mu, "Old.Child", 0, &err), MS_OK);
    for (int i = 0; i < 3; i++)
        append(mu, "Old", "old\n", MS_FLAG_SEEN, 0, 0);
    deliver(mu, "Old.Child", "child\n");
    uint64_t mask;
    const char *kw[] = {"Gone"};
    assert_int_equal(mailbox_keywords_add(mu, "Old", kw, 1, &mask, &err), MS_OK);
    assert_int_equal(mailbox_cache_put(mu, "Old", 1, MS_CACHE_ENVELOPE, "e", 1, &err), 1);
    assert_int_equal(mailbox_delete(mu, "Old", &err), MS_OK);
    assert_false(exists(mu, ".Old"));
    struct mailbox_status st;
    assert_int_equal(mailbox_status(mu, "Old", &st, &err), 0);
    assert_int_equal(count_in(mu, "tmp"), 0); /* the tree is gone, not parked */
    /* the child stays (RFC 3501 6.3.4) */
    assert_int_equal(status_of(mu, "Old.Child").messages, 1);
    assert_true(exists(mu, ".Old.Child/new"));
    /* made again: empty, no keywords, no cache, a new UIDVALIDITY */
    assert_int_equal(mailbox_create(mu, "Old", 0, &err), MS_OK);
    st = status_of(mu, "Old");
    assert_int_equal(st.messages, 0);
    assert_int_equal(st.uidnext, 1);
    assert_int_equal(mailbox_keywords_lookup(mu, "Old", kw, 1, &mask, &err), 0);
    assert_int_equal(mask, 0);
    void *data;
    size_t len;
    assert_int_equal(mailbox_cache_get(mu, "Old", 1, MS_CACHE_ENVELOPE, &data, &len, &err), 0);
    assert_int_equal(mail_user_usage(mu), 6); /* only the child's message */
    assert_int_equal(mailbox_delete(mu, "INBOX", &err), MS_CANNOT);
    free(err);
    err = NULL;
    assert_int_equal(mailbox_delete(mu, "inbox", &err), MS_CANNOT);
    free(err);
    err = NULL;
    assert_int_equal(mailbox_delete(mu, "Nope", &err), MS_NONEXISTENT);
    free(err);
    err = NULL;
    /* a record whose directory is gone */
    char path[1024];
    snprintf(path, sizeof path, "%s/.Old", mail_user_path(mu));
    assert_int_equal(nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
    assert_int_equal(mailbox_delete(mu, "Old", &err), MS_OK);
    mail_user_close(mu);
}

static void test_rename(void **state)
{
    struct mail_user *mu = open_box("rename");
    char *err = NULL;
    static const char *const boxes[] = {"A", "A.B", "A.B.C", "AX", "A-Z"};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(mailbox_create(mu, boxes[i], 0, &err), MS_OK);
    uint64_t mask;
    const char *kw[] = {"Keep"};
    assert_int_equal(mailbox_keywords_add(mu, "A.B", kw, 1, &mask, &err), MS_OK);
    append(mu, "A", "a1\n", MS_FLAG_SEEN, 0, 0);
    append(mu, "A", "a2\n", 0, 0, 0);
    append(mu, "A.B", "b1\n", MS_FLAG_FLAGGED, mask, 0);
    deliver(mu, "AX", "x\n");
    assert_int_equal(mailbox_cache_put(mu, "A.B", 1, MS_CACHE_ENVELOPE, "env", 3, &err), 1);
    struct mailbox_status a = status_of(mu, "A"), ab = status_of(mu, "A.B");
    assert_int_equal(mailbox_rename(mu, "A", "N", &err), MS_OK);
    assert_string_equal(mailboxes(mu), "A-Z;AX;Archive;Drafts;INBOX;Junk;N;N.B;N.B.C;Sent;Trash;");
    assert_false(exists(mu, ".A") || exists(mu, ".A.B") || exists(mu, ".A.B.C"));
    assert_true(exists(mu, ".N/cur") && exists(mu, ".N.B/cur") && exists(mu, ".N.B.C/cur"));
    struct mailbox_status n = status_of(mu, "N"), nb = status_of(mu, "N.B");
    assert_int_equal(n.uidvalidity, a.uidvalidity); /* UIDs and UIDVALIDITY kept */
    assert_int_equal(n.uidnext, a.uidnext);
    assert_int_equal(n.unseen, 1);
    assert_int_equal(nb.uidvalidity, ab.uidvalidity);
    assert_int_equal(nb.highestmodseq, ab.highestmodseq);
    assert_string_equal(listing(mu, "N"), "1:16:0;2:0:0;");
    assert_string_equal(listing(mu, "N.B"), "1:2:1;");
    assert_int_equal(mailbox_keywords_lookup(mu, "N.B", kw, 1, &mask, &err), 0);
    assert_int_equal(mask, 1);
    assert_true(exists(mu, ".N.B/dovecot-keywords"));
    void *data;
    size_t len;
    assert_int_equal(mailbox_cache_get(mu, "N.B", 1, MS_CACHE_ENVELOPE, &data, &len, &err), 1);
    free(data);
    assert_int_equal(status_of(mu, "AX").messages, 1); /* a sibling sharing the prefix */
    /* a message can still be read where it went */
    struct mailbox_msg m;
    assert_int_equal(mailbox_lookup(mu, "N.B", 1, &m, &err), 1);
    int fd = mailbox_open_message(mu, "N.B", &m, &err);
    assert_true(fd >= 0);
    close(fd);
    mailbox_msg_free(&m);
    /* refusals */
    assert_int_equal(mailbox_rename(mu, "N", "AX", &err), MS_EXISTS);
    free(err);
    err = NULL;
    assert_int_equal(mailbox_create(mu, "M.B", 0, &err), MS_OK);
    assert_int_equal(mailbox_rename(mu, "N", "M", &err), MS_EXISTS); /* M.B would clash */
    free(err);
    err = NULL;
    assert_true(exists(mu, ".N/cur") && exists(mu, ".N.B/cur")); /* nothing moved */
    assert_int_equal(mailbox_rename(mu, "N", "N.Sub", &err), MS_CANNOT);
    free(err);
    err = NULL;
    assert_int_equal(mailbox_rename(mu, "Nope", "Q", &err), MS_NONEXISTENT);
    free(err);
    err = NULL;
    assert_int_equal(mailbox_rename(mu, "N", "INBOX", &err), MS_EXISTS);
    free(err);
    err = NULL;
    assert_int_equal(mailbox_rename(mu, "N", "bad..name", &err), MS_INVALID);
    free(err);
    mail_user_close(mu);
}

static int range_cb(void *ctx, uint32_t first, uint32_t last)
{
    buf_printf(ctx, "%u-%u;", first, last);
    return 0;
}

static void test_rename_inbox(void **state)
{
    struct mail_user *mu = open_box("renameinbox");
    char *err = NULL;
    deliver(mu, "INBOX", "one\n");
    deliver(mu, "INBOX", "two\n");
    deliver(mu, "INBOX", "three\n");
    assert_int_equal(mailbox_store(mu, "INBOX", 2, MS_STORE_ADD, MS_FLAG_SEEN, 0, 0, NULL, NULL, NULL,
                                   &err), MS_STORE_CHANGED);
    assert_int_equal(mailbox_create(mu, "INBOX.Sub", 0, &err), MS_OK);
    uint64_t before = status_of(mu, "INBOX").highestmodseq;
    uint32_t validity = status_of(mu, "INBOX").uidvalidity;
    assert_int_equal(mailbox_rename(mu, "inbox", "Saved", &err), MS_OK);
    assert_string_equal(listing(mu, "Saved"), "1:0:0;2:16:0;3:0:0;");
    assert_string_equal(listing(mu, "INBOX"), "");
    struct mailbox_status st = status_of(mu, "INBOX");
    assert_int_equal(st.uidvalidity, validity); /* INBOX stays, UIDs not reused */
    assert_int_equal(st.uidnext, 4);
    assert_int_equal(st.messages, 0);
    assert_int_equal(count_in(mu, "new") + count_in(mu, "cur"), 0);
    assert_int_equal(count_in(mu, ".Saved/cur"), 3);
    assert_true(status_of(mu, "INBOX.Sub").uidvalidity > 0); /* inferiors stay */
    struct buf b = BUF_INIT;
    assert_int_equal(mailbox_expunged_since(mu, "INBOX", before, range_cb, &b, &err), 1);
    assert_string_equal(buf_cstr(&b), "1-3;"); /* QRESYNC clients see them vanish */
    buf_free(&b);
    assert_int_equal(mailbox_rename(mu, "INBOX", "Saved", &err), MS_EXISTS);
    free(err);
    mail_user_close(mu);
}

static const char *subscribed(struct mail_user *mu)
{
    static struct buf b;
    char *err = NULL;
    buf_free(&b);
    buf_puts(&b, "");
    assert_int_equal(mail_user_subscriptions(mu, name_cb, &b, &err), 0);
    return buf_cstr(&b);
}

static void test_subscriptions(void **state)
{
    struct mail_user *mu = open_box("subs");
    char *err = NULL;
    assert_string_equal(subscribed(mu), "INBOX;Sent;Drafts;Trash;Junk;Archive;");
    assert_int_equal(mailbox_subscribe(mu, "Lists.posthorn", true, &err), MS_OK); /* need not exist */
    assert_int_equal(mailbox_subscribe(mu, "Trash", false, &err), MS_OK);
    assert_int_equal(mailbox_subscribe(mu, "Trash", false, &err), MS_OK);
    assert_int_equal(mailbox_subscribe(mu, "Sent", true, &err), MS_OK);
    assert_int_equal(mailbox_subscribe(mu, "inbox", true, &err), MS_OK);
    assert_int_equal(mailbox_subscribe(mu, "a/b", true, &err), MS_INVALID);
    free(err);
    err = NULL;
    char path[1024];
    snprintf(path, sizeof path, "%s/subscriptions", mail_user_path(mu));
    struct buf b = BUF_INIT;
    assert_int_equal(read_file(path, 4096, &b), 0); /* version 1: one name per line */
    assert_string_equal(buf_cstr(&b), "INBOX\nSent\nDrafts\nJunk\nArchive\nLists.posthorn\n");
    /* Dovecot's version 2: kept as such */
    const char v2[] = "V\t2\n\nINBOX\nLists\tposthorn\nodd\001tname\n";
    assert_int_equal(write_file_atomic(path, v2, sizeof v2 - 1, 0600), 0);
    assert_string_equal(subscribed(mu), "INBOX;Lists.posthorn;odd\tname;");
    assert_int_equal(mailbox_subscribe(mu, "A.B.C", true, &err), MS_OK);
    assert_int_equal(mailbox_subscribe(mu, "Lists.posthorn", false, &err), MS_OK);
    buf_reset(&b);
    assert_int_equal(read_file(path, 4096, &b), 0);
    assert_string_equal(buf_cstr(&b), "V\t2\n\nINBOX\nodd\001tname\nA\tB\tC\n");
    buf_free(&b);
    mail_user_close(mu);
}

static void test_special_use_and_defaults(void **state)
{
    struct mail_user *mu = open_box("special");
    char *err = NULL;
    assert_string_equal(mailboxes(mu), "Archive;Drafts;INBOX;Junk;Sent;Trash;");
    assert_int_equal(status_of(mu, "Sent").special_use, MS_USE_SENT);
    assert_int_equal(status_of(mu, "Drafts").special_use, MS_USE_DRAFTS);
    assert_int_equal(status_of(mu, "Trash").special_use, MS_USE_TRASH);
    assert_int_equal(status_of(mu, "Junk").special_use, MS_USE_JUNK);
    assert_int_equal(status_of(mu, "Archive").special_use, MS_USE_ARCHIVE);
    assert_int_equal(status_of(mu, "INBOX").special_use, 0);
    assert_true(exists(mu, ".Trash/maildirfolder"));
    assert_int_equal(mailbox_set_special_use(mu, "Archive", MS_USE_ARCHIVE | MS_USE_ALL, &err), 1);
    assert_int_equal(status_of(mu, "Archive").special_use, MS_USE_ARCHIVE | MS_USE_ALL);
    assert_int_equal(mailbox_set_special_use(mu, "Nope", MS_USE_ALL, &err), 0);
    /* once only: a deleted default is not made again */
    assert_int_equal(mailbox_delete(mu, "Trash", &err), MS_OK);
    mail_user_close(mu);
    mu = open_box("special");
    assert_int_equal(mail_user_create_defaults(mu, &err), MS_OK);
    assert_string_equal(mailboxes(mu), "Archive;Drafts;INBOX;Junk;Sent;");
    mail_user_close(mu);
    /* opening without create makes nothing */
    struct mail_user *ro = mail_user_open(base, "example.test", "special", INDEX, false, &err);
    assert_non_null(ro);
    mail_user_close(ro);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_rename),
        cmocka_unit_test(test_rename_inbox),
        cmocka_unit_test(test_subscriptions),
        cmocka_unit_test(test_special_use_and_defaults),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
