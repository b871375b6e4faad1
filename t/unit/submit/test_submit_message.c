/* test_submit_message.c - tests of lib/submit/submit_message: reading a locally submitted
 * message (CRLF, the dot terminator, -i, an mbox From line, Bcc removed with its
 * continuation, the size limit, reading its own output again gives the same message) and
 * splitting address lists the way sendmail's arguments and -t need (display names,
 * comments, groups, quoted local parts, junk kept visible). */
#include "unit_test.h"
#include "mem.h"
#include "submit_message.h"
#include <stdlib.h>
#include <string.h>

static char *joined(const char *value)
{
    char **v = NULL;
    size_t n = 0;
    submit_extract_addresses(value, &v, &n);
    struct buf b = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        buf_printf(&b, "%s[%s]", i ? " " : "", v[i]);
        free(v[i]);
    }
    free(v);
    char *s = xstrdup(buf_cstr(&b));
    buf_free(&b);
    return s;
}

static void expect_list(const char *value, const char *want)
{
    char *got = joined(value);
    assert_string_equal(got, want);
    free(got);
}

static void test_address_lists(void **state)
{
    (void)state;
    expect_list("a@x, b@y", "[a@x] [b@y]");
    expect_list("John Doe <j@x>, \"Doe, Jane\" <jane@x>", "[j@x] [jane@x]");
    expect_list("j@x (John, the one)", "[j@x]");
    expect_list("team: a@x, b@y;, c@z", "[a@x] [b@y] [c@z]");
    expect_list("undisclosed-recipients:;", "");
    expect_list("\"a b\"@x", "[\"a b\"@x]");
    expect_list("\"a\\\"b\"@x", "[\"a\\\"b\"@x]");
    expect_list("a b@@c", "[a b@@c]"); /* junk stays junk: the caller refuses it */
    expect_list("  alice  ", "[alice]");
    expect_list("<a@x>", "[a@x]");
    /* a domain literal's colons are not a group's */
    expect_list("y@[IPv6:::1], team: z@[IPv6:2001:db8::1];", "[y@[IPv6:::1]] [z@[IPv6:2001:db8::1]]");
    expect_list("<y@[IPv6:::1]>", "[y@[IPv6:::1]]");
}

static int read_text(const char *text, bool ignore_dots, size_t limit, struct submit_message *m,
                     bool *too_big)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    int r = submit_message_read(f, ignore_dots, limit, m, too_big);
    fclose(f);
    return r;
}

static void test_reading(void **state)
{
    (void)state;
    struct submit_message m;
    bool big;
    const char *in = "From someone Mon Jan  1 00:00:00 2024\r\nTo: a@x\r\nBcc: b@y,\r\n c@z\r\n"
                     "Subject: s\r\n\r\nline\r\n..two\r\n.\r\nnot read\r\n";
    assert_int_equal(read_text(in, false, 1000, &m, &big), 0);
    assert_string_equal(buf_cstr(&m.headers), "To: a@x\nSubject: s\n");
    assert_string_equal(buf_cstr(&m.body), "\nline\n..two\n");
    assert_int_equal(m.nto, 3);
    assert_false(m.has_from || m.has_date || m.has_message_id);
    /* What the pickup service reads back (with ignore_dots) is the same message. */
    char *again = xasprintf("%s%s", buf_cstr(&m.headers), buf_cstr(&m.body));
    struct submit_message m2;
    assert_int_equal(read_text(again, true, 1000, &m2, &big), 0);
    assert_string_equal(buf_cstr(&m2.headers), buf_cstr(&m.headers));
    assert_string_equal(buf_cstr(&m2.body), buf_cstr(&m.body));
    submit_message_free(&m2);
    free(again);
    submit_message_free(&m);
    assert_int_equal(read_text("Subject: x\n\n.\nafter\n", true, 1000, &m, &big), 0);
    assert_string_equal(buf_cstr(&m.body), "\n.\nafter\n");
    submit_message_free(&m);
    assert_int_equal(read_text("Subject: x\n\n0123456789\n", true, 10, &m, &big), -1);
    assert_true(big);
    submit_message_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_address_lists),
                                       cmocka_unit_test(test_reading)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
