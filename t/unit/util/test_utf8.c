/* test_utf8.c - lib/util/utf8: well-formed sequences of every length accepted; truncated
 * sequences, stray continuation bytes, overlong forms, surrogates and values past
 * U+10FFFF refused; sequence lengths; the ASCII check. */
#include "unit_test.h"

#include "utf8.h"
#include <string.h>

static void test_valid(void **state)
{
    static const struct {
        const char *s;
        bool ok;
    } t[] = {
        {"plain", true},
        {"", true},
        {"\xc3\xa9", true},                        /* U+00E9 */
        {"\xe2\x82\xac", true},                    /* U+20AC */
        {"\xf0\x9f\x93\xaf", true},                /* U+1F4EF */
        {"\xf4\x8f\xbf\xbf", true},                /* U+10FFFF, the last */
        {"\xed\x9f\xbf", true},                    /* U+D7FF, just before the surrogates */
        {"\xee\x80\x80", true},                    /* U+E000, just after them */
        {"\xc3", false},                           /* truncated */
        {"a\xe2\x82", false},                      /* truncated at the end */
        {"\x80", false},                           /* stray continuation byte */
        {"\xc3\x28", false},                       /* bad continuation byte */
        {"\xc0\x80", false},                       /* overlong NUL */
        {"\xc1\xbf", false},                       /* overlong 2-byte */
        {"\xe0\x80\xaf", false},                   /* overlong 3-byte */
        {"\xe0\x9f\xbf", false},                   /* overlong U+07FF */
        {"\xf0\x8f\xbf\xbf", false},               /* overlong 4-byte U+FFFF */
        {"\xed\xa0\x80", false},                   /* surrogate U+D800 */
        {"\xed\xbf\xbf", false},                   /* surrogate U+DFFF */
        {"\xf4\x90\x80\x80", false},               /* U+110000 */
        {"\xf5\x80\x80\x80", false},               /* lead byte past U+10FFFF */
        {"\xf8\x88\x80\x80\x80", false},           /* old 5-byte form */
        {"\xfe", false},
        {"\xff", false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (utf8_valid(t[i].s, strlen(t[i].s)) != t[i].ok)
            fail_msg("utf8 case %zu", i);
    assert_true(utf8_valid("a\0b", 3)); /* NUL is ASCII; callers refuse it if they must */
}

static void test_sequence_length(void **state)
{
    assert_int_equal(utf8_sequence_length((const unsigned char *)"a", 1), 1);
    assert_int_equal(utf8_sequence_length((const unsigned char *)"\xc3\xa9x", 3), 2);
    assert_int_equal(utf8_sequence_length((const unsigned char *)"\xe2\x82\xac", 3), 3);
    assert_int_equal(utf8_sequence_length((const unsigned char *)"\xf0\x9f\x93\xaf", 4), 4);
    assert_int_equal(utf8_sequence_length((const unsigned char *)"\xf0\x9f\x93\xaf", 3), 0);
    assert_int_equal(utf8_sequence_length((const unsigned char *)"\xed\xa0\x80", 3), 0);
}

static void test_ascii(void **state)
{
    assert_true(utf8_is_ascii("hello\x7f", 6));
    assert_true(utf8_is_ascii("", 0));
    assert_false(utf8_is_ascii("caf\xc3\xa9", 5));
    assert_true(utf8_is_ascii("caf\xc3\xa9", 3));
}

UNIT_TEST_MAIN(cmocka_unit_test(test_valid),
               cmocka_unit_test(test_sequence_length),
               cmocka_unit_test(test_ascii))
