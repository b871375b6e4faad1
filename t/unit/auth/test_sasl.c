/* test_sasl.c - the auth layer's pure parts: SASL PLAIN messages (RFC 4616 sec 2) as the
 * POP3 and IMAP login processes receive them, login names (lowercased, default domain,
 * refusals), and the failed-login penalty table. */
#include "unit_test.h"
#include <stdlib.h>
#include <string.h>

#include "auth_check.h"

#define MEMORY_MS (15LL * 60 * 1000)
#include "sasl.h"

static void test_sasl_plain(void **state)
{
    struct sasl_creds c = {0};
    assert_true(sasl_plain_parse("\0alice\0pw", 9, &c));
    assert_null(c.authzid);
    assert_string_equal(c.authcid, "alice");
    assert_string_equal(c.passwd, "pw");
    sasl_creds_free(&c);
    assert_null(c.passwd);
    assert_true(sasl_plain_parse("z\0a\0p", 5, &c));
    assert_string_equal(c.authzid, "z");
    sasl_creds_free(&c);
    assert_false(sasl_plain_parse("\0\0pw", 4, &c));       /* empty authcid */
    assert_false(sasl_plain_parse("\0a\0", 3, &c));        /* empty password */
    assert_false(sasl_plain_parse("\0a", 2, &c));          /* one NUL */
    assert_false(sasl_plain_parse("\0a\0p\0q", 6, &c));    /* NUL in the password */
    assert_false(sasl_plain_parse("", 0, &c));
    char big[300] = {0};
    memset(big + 1, 'a', 256);
    assert_false(sasl_plain_parse(big, 259, &c));          /* authcid over 255 */
}

static void test_user_names(void **state)
{
    char *u = auth_user_name("Alice@Example.TEST", "");
    assert_string_equal(u, "alice@example.test");
    free(u);
    u = auth_user_name("bob", "example.test");
    assert_string_equal(u, "bob@example.test");
    free(u);
    u = auth_user_name("bob", "");
    assert_string_equal(u, "bob");
    free(u);
    static const char *const bad[] = {"", "a b", "a\tb", "@x", "x@", "a@b@c", "\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_null(auth_user_name(bad[i], "example.test"));
    char long_name[400];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    assert_null(auth_user_name(long_name, ""));
}

static void test_penalty(void **state)
{
    struct auth_penalty *p = auth_penalty_new(MEMORY_MS);
    assert_int_equal(auth_penalty_count(p, "192.0.2.1", 0), 0);
    assert_int_equal(auth_penalty_fail(p, "192.0.2.1", 1000), 1);
    assert_int_equal(auth_penalty_fail(p, "192.0.2.1", 2000), 2);
    assert_int_equal(auth_penalty_fail(p, "192.0.2.2", 2000), 1);
    assert_int_equal(auth_penalty_count(p, "192.0.2.1", 3000), 2);
    auth_penalty_clear(p, "192.0.2.1");
    assert_int_equal(auth_penalty_count(p, "192.0.2.1", 3000), 0);
    assert_int_equal(auth_penalty_count(p, "192.0.2.2", 3000), 1);
    long long later = 2000 + MEMORY_MS + 1;
    assert_int_equal(auth_penalty_count(p, "192.0.2.2", later), 0);
    assert_int_equal(auth_penalty_fail(p, "192.0.2.2", later), 1); /* an old count starts over */
    auth_penalty_expire(p, later + MEMORY_MS + 1);
    assert_int_equal(auth_penalty_count(p, "192.0.2.2", later), 0);
    auth_penalty_free(p);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_sasl_plain),
               cmocka_unit_test(test_user_names),
               cmocka_unit_test(test_penalty))
