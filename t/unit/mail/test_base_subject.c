/* test_base_subject.c - tests of lib/mail/base_subject (RFC 5256 sec 2.1), collate and
 * msgid: every step of the extraction (trailers, leaders with blobs, a blob with text after
 * it, "[fwd: ...]" wrappings repeated from step 2), RFC 2047 words and white space, the
 * reply-or-forward mark; the subjects of Dovecot imaptest's sort-subject mailbox in the
 * order it expects; sort keys (ASCII upper-case order, folding, the length cut); message
 * identifiers with comments, junk and invalid forms. */
#include "unit_test.h"
#include <string.h>

#include "base_subject.h"
#include "buf.h"
#include "collate.h"
#include "msgid.h"

static void check(const char *in, const char *want, bool want_reply)
{
    struct buf out = BUF_INIT;
    bool reply = mail_base_subject(in, strlen(in), &out);
    if (strcmp(buf_cstr(&out), want) != 0 || reply != want_reply)
        fail_msg("base subject of \"%s\":\n got  \"%s\" (reply %d)\n want \"%s\" (reply %d)", in,
                 out.data, reply, want, want_reply);
    buf_free(&out);
}

static void test_steps(void **state)
{
    check("", "", false);
    check("hello world", "hello world", false);
    check("  hello \t  world  ", "hello world", false);        /* step 1: white space */
    check("hello\r\n world", "hello world", false);             /* continuation line */
    check("hello (fwd)", "hello", true);                        /* step 2 */
    check("hello (FWD) (fwd)  ", "hello", true);
    check("hello(fwd)", "hello", true);
    check("(fwd)", "", true);
    check("Re: hello", "hello", true);                          /* step 3 */
    check("RE: re: Fwd: FW: hello", "hello", true);
    check("Re [2]: hello", "hello", true);
    check("Re[2]:hello", "hello", true);
    check("fwd : hello", "hello", true);
    check("[list] Re: hello", "hello", true);                   /* blobs before a refwd */
    check("[a][b] [c] Re: [d] Fw: hello", "hello", true);
    check("Reply: hello", "Reply: hello", false);               /* not a refwd */
    check("Ad: Re: x", "Ad: Re: x", false);
    check("[list] hello", "hello", false);                      /* step 4 */
    check("[list]", "[list]", false);                           /* it would leave nothing */
    check("[a] [b]", "[b]", false);
    check("[a] Re: [b]", "[b]", true);
    check("[fwd: hello]", "hello", true);                       /* step 6 */
    check("Re: [FWD: c]", "c", true);
    check("re: [fwd: [fwd: re: [fwd: babylon]]]", "babylon", true);
    check("[fwd: hello (fwd)]", "hello", true);                 /* back to step 2 */
    check("[fwd:]", "", true);
    check("[fwd: x] y", "y", false);                            /* a blob, step 4 */
    check("[unclosed Re: x", "[unclosed Re: x", false);
}

static void test_encoded_words(void **state)
{
    check("=?iso-8859-1?q?_?=", "", false);
    check("Re: =?utf-8?q?b?=", "b", true);
    check("=?iso-8859-1?q?RE:_C?=", "C", true);
    check("=?us-ascii?b?UmU6IGM=?=", "c", true);
    check("=?utf-8?q?caf=C3=A9?= =?utf-8?q?_au_lait?=", "caf\xc3\xa9 au lait", false);
    check("=?utf-8?q?Re:=09=09x?=", "x", true);
}

/* Dovecot imaptest's sort-subject messages, in the order its SORT (SUBJECT) expects. */
static void test_imaptest_order(void **state)
{
    static const char *const in[] = {
        "a", "C", "b", "_", "[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)", "b (a)", "Re: [FWD: c]",
        "[xyz]", NULL, "=?iso-8859-1?q?_?=", "Re: =?utf-8?q?b?=", "=?iso-8859-1?q?RE:_C?=",
        "=?us-ascii?b?UmU6IGM=?=", "Ad: Re: Ad: Re: Ad: x", "re: [fwd: [fwd: re: [fwd: babylon]]]",
    };
    static const int want[] = {9, 10, 1, 14, 3, 5, 11, 6, 15, 2, 7, 12, 13, 8, 4};
    struct buf key[15];
    int order[15];
    for (int i = 0; i < 15; i++) {
        struct buf base = BUF_INIT;
        if (in[i])
            mail_base_subject(in[i], strlen(in[i]), &base);
        key[i] = (struct buf)BUF_INIT;
        mail_collate_key(base.data ? base.data : "", base.len, 0, &key[i]);
        buf_free(&base);
        order[i] = i;
    }
    for (int i = 1; i < 15; i++) /* insertion sort: stable, ties in mailbox order */
        for (int j = i; j > 0 && mail_collate_cmp(key[order[j - 1]].data, key[order[j - 1]].len,
                                                  key[order[j]].data, key[order[j]].len) > 0; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (int i = 0; i < 15; i++) {
        assert_int_equal(order[i] + 1, want[i]);
        buf_free(&key[i]);
    }
}

static void test_collate(void **state)
{
    struct buf k = BUF_INIT;
    mail_collate_key("abc_[Z]", 7, 0, &k);
    assert_string_equal(buf_cstr(&k), "ABC_[Z]");
    buf_reset(&k);
    mail_collate_key("\xc3\xa9t\xc3\x89", 5, 0, &k); /* étÉ: É folds to é */
    assert_string_equal(buf_cstr(&k), "\xc3\xa9T\xc3\xa9");
    buf_reset(&k);
    mail_collate_key("ab\xc3\xa9", 4, 3, &k); /* cut before a character that does not fit */
    assert_string_equal(buf_cstr(&k), "AB");
    buf_reset(&k);
    mail_collate_key("a\0b", 3, 0, &k);
    assert_string_equal(buf_cstr(&k), "AB");
    buf_free(&k);
    assert_true(mail_collate_cmp("A", 1, "[", 1) < 0);  /* i;ascii-casemap: "[" after letters */
    assert_true(mail_collate_cmp("[", 1, "_", 1) < 0);
    assert_true(mail_collate_cmp("B", 1, "B A", 3) < 0);
    assert_true(mail_collate_cmp("B A", 3, "BABYLON", 7) < 0);
    assert_int_equal(mail_collate_cmp("AB", 2, "AB", 2), 0);
}

static void check_ids(const char *in, const char *want)
{
    struct buf id = BUF_INIT, all = BUF_INIT;
    size_t pos = 0;
    while (mail_msgid_next(in, strlen(in), &pos, &id))
        buf_printf(&all, "%s%s", all.len ? " " : "", id.data);
    if (strcmp(buf_cstr(&all), want) != 0)
        fail_msg("identifiers of \"%s\":\n got  \"%s\"\n want \"%s\"", in, all.data, want);
    buf_free(&id);
    buf_free(&all);
}

static void test_msgid(void **state)
{
    check_ids("<a@b>", "a@b");
    check_ids(" <a@b> <c@d>\r\n\t<e@f>", "a@b c@d e@f");
    check_ids("<a@b> (comment <x@y> (nested <z@w>)) <c@d>", "a@b c@d");
    check_ids("\"quoted <q@r>\" <a@b>", "a@b");
    check_ids("<a @ b>", "a@b");
    check_ids("<ab> <@b> <a@> <> <a@b", "");
    check_ids("<x <a@b>", "a@b");
    check_ids("John's message of <a@b>", "a@b");
    check_ids("<A@B> <a@b>", "A@B a@b"); /* case kept */
}

UNIT_TEST_MAIN(cmocka_unit_test(test_steps),
               cmocka_unit_test(test_encoded_words),
               cmocka_unit_test(test_imaptest_order),
               cmocka_unit_test(test_collate),
               cmocka_unit_test(test_msgid))
