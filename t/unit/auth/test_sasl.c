/* test_sasl.c - the auth layer's pure parts: SASL PLAIN messages (RFC 4616 sec 2) as the
 * POP3 and IMAP login processes and submission receive them, the PLAIN and LOGIN exchanges
 * (initial responses, challenges, cancel, bad base64), login names (lowercased, default
 * domain, refusals), and the failed-login penalty table. */
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

static enum sasl_status start(struct sasl_exchange *x, const char *mech, const char *initial,
                              struct sasl_creds *c, const char **ch)
{
    *ch = NULL;
    return sasl_exchange_start(x, mech, initial, c, ch);
}

static void test_exchange_plain(void **state)
{
    struct sasl_exchange x = {0};
    struct sasl_creds c = {0};
    const char *ch;
    /* base64("\0alice\0pw") as an initial response */
    assert_int_equal(start(&x, "plain", "AGFsaWNlAHB3", &c, &ch), SASL_DONE);
    assert_string_equal(x.mech, "PLAIN");
    assert_string_equal(c.authcid, "alice");
    assert_string_equal(c.passwd, "pw");
    sasl_creds_free(&c);
    assert_false(sasl_exchange_active(&x));
    /* without one: an empty challenge, then the response */
    assert_int_equal(start(&x, "PLAIN", NULL, &c, &ch), SASL_CHALLENGE);
    assert_string_equal(ch, "");
    assert_true(sasl_exchange_active(&x));
    assert_int_equal(sasl_exchange_step(&x, "AGFsaWNlAHB3", &c, &ch), SASL_DONE);
    sasl_creds_free(&c);
    /* "=" is an empty initial response: not a PLAIN message */
    assert_int_equal(start(&x, "PLAIN", "=", &c, &ch), SASL_MALFORMED);
    assert_int_equal(start(&x, "PLAIN", "!!!!", &c, &ch), SASL_BAD_BASE64);
    /* base64("bob\0alice\0pw"): acting as another user */
    assert_int_equal(start(&x, "PLAIN", "Ym9iAGFsaWNlAHB3", &c, &ch), SASL_MALFORMED);
    assert_string_equal(c.authcid, "alice"); /* kept for the log line, nothing else */
    assert_null(c.authzid);
    assert_null(c.passwd);
    sasl_creds_free(&c);
    /* base64("alice\0alice\0pw"): the same user, any case */
    assert_int_equal(start(&x, "PLAIN", "QUxJQ0UAYWxpY2UAcHc=", &c, &ch), SASL_DONE);
    sasl_creds_free(&c);
    assert_int_equal(start(&x, "CRAM-MD5", NULL, &c, &ch), SASL_UNSUPPORTED);
    assert_int_equal(start(&x, "PLAIN", NULL, &c, &ch), SASL_CHALLENGE);
    assert_int_equal(sasl_exchange_step(&x, "*", &c, &ch), SASL_CANCELLED);
    assert_false(sasl_exchange_active(&x));
}

static void test_exchange_login(void **state)
{
    struct sasl_exchange x = {0};
    struct sasl_creds c = {0};
    const char *ch;
    assert_int_equal(start(&x, "LOGIN", NULL, &c, &ch), SASL_CHALLENGE);
    assert_string_equal(ch, SASL_LOGIN_USER_PROMPT);
    assert_int_equal(sasl_exchange_step(&x, "YWxpY2U=", &c, &ch), SASL_CHALLENGE);
    assert_string_equal(ch, SASL_LOGIN_PASS_PROMPT);
    assert_int_equal(sasl_exchange_step(&x, "cHc=", &c, &ch), SASL_DONE);
    assert_string_equal(x.mech, "LOGIN");
    assert_string_equal(c.authcid, "alice");
    assert_string_equal(c.passwd, "pw");
    sasl_creds_free(&c);
    /* the name as initial response */
    assert_int_equal(start(&x, "login", "YWxpY2U=", &c, &ch), SASL_CHALLENGE);
    assert_string_equal(ch, SASL_LOGIN_PASS_PROMPT);
    /* an empty field, a NUL in it, or bad base64 end the exchange */
    assert_int_equal(sasl_exchange_step(&x, "", &c, &ch), SASL_BAD_BASE64);
    assert_false(sasl_exchange_active(&x));
    assert_int_equal(start(&x, "LOGIN", "YQBi", &c, &ch), SASL_BAD_BASE64); /* "a\0b" */
    assert_int_equal(start(&x, "LOGIN", NULL, &c, &ch), SASL_CHALLENGE);
    assert_int_equal(sasl_exchange_step(&x, "#", &c, &ch), SASL_BAD_BASE64);
    /* a new start forgets the name of a half-done one */
    assert_int_equal(start(&x, "LOGIN", "YWxpY2U=", &c, &ch), SASL_CHALLENGE);
    assert_int_equal(start(&x, "LOGIN", NULL, &c, &ch), SASL_CHALLENGE);
    assert_null(x.user);
    sasl_exchange_reset(&x);
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
               cmocka_unit_test(test_exchange_plain),
               cmocka_unit_test(test_exchange_login),
               cmocka_unit_test(test_user_names),
               cmocka_unit_test(test_penalty))
