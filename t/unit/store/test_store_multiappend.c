/* test_store_multiappend.c - mailbox_append_many (MULTIAPPEND, RFC 3502): consecutive UIDs
 * with each message's flags, keywords and INTERNALDATE in one transaction; all or none when
 * one message cannot be written, when the quota runs out part way, and for a mailbox that
 * does not exist: no message in the index, no file left in new/, cur/ or tmp/. */
#include "store_test.h"

struct text {
    const char *s;
    bool fail;
};

static int fill(void *ctx, int fd)
{
    const struct text *t = ctx;
    if (t->fail)
        return -1;
    return write_full(fd, t->s, strlen(t->s));
}

static void test_all(void **state)
{
    struct mail_user *mu = open_box("many");
    char *err = NULL;
    const char *two[] = {"Junk"};
    uint64_t mask = 0;
    assert_int_equal(mailbox_keywords_add(mu, "INBOX", two, 1, &mask, &err), MS_OK);
    deliver(mu, "INBOX", "first\n");
    struct text t[3] = {{"one\n", false}, {"two\n", false}, {"three\n", false}};
    struct mailbox_append_msg m[3] = {
        {fill, &t[0], MS_FLAG_SEEN, 0, 1000000000, 0},
        {fill, &t[1], 0, mask, 0, 0},
        {fill, &t[2], 0, 0, 1200000000, 0},
    };
    uint32_t uidvalidity = 0;
    assert_int_equal(mailbox_append_many(mu, "INBOX", 0, m, 3, &uidvalidity, &err), MS_OK);
    assert_int_equal(m[0].uid, 2);
    assert_int_equal(m[1].uid, 3);
    assert_int_equal(m[2].uid, 4);
    assert_int_equal(uidvalidity, status_of(mu, "INBOX").uidvalidity);
    assert_string_equal(listing(mu, "INBOX"), "1:0:0;2:16:0;3:0:1;4:0:0;");
    struct mailbox_msg mm;
    assert_int_equal(mailbox_lookup(mu, "INBOX", 4, &mm, &err), 1);
    assert_int_equal(mm.internaldate, 1200000000);
    mailbox_msg_free(&mm);
    assert_int_equal(count_in(mu, "new") + count_in(mu, "cur"), 4);
    assert_int_equal(count_in(mu, "tmp"), 0);
    mail_user_close(mu);
}

static void test_none(void **state)
{
    struct mail_user *mu = open_box("none");
    char *err = NULL;
    deliver(mu, "INBOX", "first message, 30 bytes long.\n");
    struct text t[3] = {{"one\n", false}, {"two\n", true}, {"three\n", false}};
    struct mailbox_append_msg m[3] = {{.fill = fill, .ctx = &t[0]}, {.fill = fill, .ctx = &t[1]},
                                      {.fill = fill, .ctx = &t[2]}};
    uint32_t uidvalidity = 0;
    /* the second cannot be written */
    assert_int_not_equal(mailbox_append_many(mu, "INBOX", 0, m, 3, &uidvalidity, &err), MS_OK);
    free(err);
    err = NULL;
    assert_string_equal(listing(mu, "INBOX"), "1:0:0;");
    assert_int_equal(count_in(mu, "new") + count_in(mu, "cur") + count_in(mu, "tmp"), 1);
    /* the quota runs out after the first: none of them */
    t[1].fail = false;
    assert_int_equal(mailbox_append_many(mu, "INBOX", 34, m, 3, &uidvalidity, &err), MS_OVERQUOTA);
    free(err);
    err = NULL;
    assert_string_equal(listing(mu, "INBOX"), "1:0:0;");
    assert_int_equal(count_in(mu, "new") + count_in(mu, "cur") + count_in(mu, "tmp"), 1);
    /* no such mailbox */
    assert_int_equal(mailbox_append_many(mu, "Nope", 0, m, 3, &uidvalidity, &err), MS_NONEXISTENT);
    free(err);
    err = NULL;
    /* and then all of them */
    assert_int_equal(mailbox_append_many(mu, "INBOX", 39, m, 3, &uidvalidity, &err), MS_OK);
    assert_string_equal(listing(mu, "INBOX"), "1:0:0;2:0:0;3:0:0;4:0:0;");
    mail_user_close(mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all),
        cmocka_unit_test(test_none),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
