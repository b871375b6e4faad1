/* test_address.c - lib/mail/address: which local parts are Dot-strings, quoting a local part
 * only when it needs it (quoted pairs for '"' and '\'), and re-quoting stored addresses into
 * the canonical form idempotently, including the unquoted form older writers stored. */
#include "unit_test.h"

#include "address.h"
#include <stdlib.h>
#include <string.h>

static void test_dot_string(void **state)
{
    static const char *const yes[] = {"alice", "a.b", "a+tag", "j\xc3\xb6rg", "!#$%&'*+-/=?^_`{|}~"};
    static const char *const no[] = {"", "a b", "a\"b", "a@b", "x>", "a\\b", "a\x01", "\xff", "a,b",
                                    "a..b", ".a", "a.", "."};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!address_is_dot_string(yes[i], strlen(yes[i])))
            fail_msg("\"%s\" should be a Dot-string", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (address_is_dot_string(no[i], strlen(no[i])))
            fail_msg("\"%s\" should not be a Dot-string", no[i]);
}

static void test_quote_local(void **state)
{
    static const struct {
        const char *in, *out;
    } t[] = {
        {"alice", "alice"},
        {"john smith", "\"john smith\""},
        {"a\"b", "\"a\\\"b\""},
        {"a\\b", "\"a\\\\b\""},
        {"x> Bcc: <v@evil.test", "\"x> Bcc: <v@evil.test\""},
        {"", "\"\""},
        {"\xc3\xa9 t", "\"\xc3\xa9 t\""},
        {"a\r\nb", "\"a??b\""}, /* no Quoted-string carries CR or LF */
    };
    char out[64];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        size_t n = address_quote_local(t[i].in, strlen(t[i].in), out, sizeof out);
        assert_string_equal(out, t[i].out);
        assert_int_equal(n, strlen(t[i].out));
    }
    /* snprintf-like: the needed length, a truncated NUL-terminated result */
    char small[4];
    assert_int_equal(address_quote_local("a b c", 5, small, sizeof small), 7);
    assert_string_equal(small, "\"a ");
}

static void test_requote(void **state)
{
    static const struct {
        const char *in, *out;
    } t[] = {
        {"", ""},
        {"alice@example.test", "alice@example.test"},
        {"postmaster", "postmaster"},
        {"\"alice\"@example.test", "alice@example.test"},
        {"\"john smith\"@example.test", "\"john smith\"@example.test"},
        {"\"a@b\"@example.test", "\"a@b\"@example.test"},
        {"\"a\\\"b\"@example.test", "\"a\\\"b\"@example.test"},
        {"\"a\\x\"@example.test", "ax@example.test"},
        /* the unquoted form an older smtpd stored: quoted now */
        {"x> Bcc: <victim@evil.test@remote.example", "\"x> Bcc: <victim@evil.test\"@remote.example"},
        {"john smith@example.test", "\"john smith\"@example.test"},
        {"\"unbalanced@example.test", "\"\\\"unbalanced\"@example.test"},
        {"a@ex\nample.test", "a@ex?ample.test"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char *once = address_requote(t[i].in);
        char *twice = address_requote(once);
        if (strcmp(once, t[i].out) != 0)
            fail_msg("requote \"%s\": \"%s\", expected \"%s\"", t[i].in, once, t[i].out);
        assert_string_equal(twice, once); /* idempotent */
        free(once);
        free(twice);
    }
}

UNIT_TEST_MAIN(cmocka_unit_test(test_dot_string),
               cmocka_unit_test(test_quote_local),
               cmocka_unit_test(test_requote))
