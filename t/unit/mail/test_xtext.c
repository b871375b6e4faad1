/* test_xtext.c - lib/mail/xtext: the strict RFC 3461 grammar check (what smtpd accepts
 * in ENVID and ORCPT), the tolerant decoder for stored values, encoding, and round trips
 * through every byte value. */
#include "unit_test.h"

#include "xtext.h"
#include <stdlib.h>
#include <string.h>

static void test_valid(void **state)
{
    static const struct {
        const char *in;
        bool ok;
    } t[] = {
        {"abc", true},     {"a+2Bb", true},   {"+3D+20+2B", true}, {"", true},
        {"+00", true},     /* grammatical, though no decoder here will produce a NUL */
        {"+2b", false},    /* lower-case hex is not xtext */
        {"+2", false},     {"+", false},      {"a=b", false},      {"a b", false},
        {"\x7f", false},   {"\xc3\xa9", false}, {"a+G0", false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (xtext_valid(t[i].in, strlen(t[i].in)) != t[i].ok)
            fail_msg("xtext_valid \"%s\"", t[i].in);
    assert_false(xtext_valid("a+2B", 3)); /* the length counts, not the NUL */
}

static void test_decode(void **state)
{
    char *s = xtext_decode("a+2Bb+3Dc");
    assert_string_equal(s, "a+b=c");
    free(s);
    s = xtext_decode("lower+2bok");
    assert_string_equal(s, "lower+ok");
    free(s);
    s = xtext_decode("");
    assert_string_equal(s, "");
    free(s);
    static const char *const bad[] = {"bad+", "bad+2", "bad+G1", "nul+00", "sp ace",
                                      "eq=ual", "tab\t", "del\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if ((s = xtext_decode(bad[i])) != NULL)
            fail_msg("\"%s\" decoded to \"%s\"", bad[i], s);
}

static void test_encode(void **state)
{
    char *s = xtext_encode("a+b=c d\xc3\xa9");
    assert_string_equal(s, "a+2Bb+3Dc+20d+C3+A9");
    assert_true(xtext_valid(s, strlen(s)));
    char *back = xtext_decode(s);
    assert_string_equal(back, "a+b=c d\xc3\xa9");
    free(back);
    free(s);
}

static void test_round_trip_every_byte(void **state)
{
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = 0;
    char *enc = xtext_encode(all);
    assert_true(xtext_valid(enc, strlen(enc)));
    char *dec = xtext_decode(enc);
    assert_non_null(dec);
    assert_string_equal(dec, all);
    free(dec);
    free(enc);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_valid),
               cmocka_unit_test(test_decode),
               cmocka_unit_test(test_encode),
               cmocka_unit_test(test_round_trip_every_byte))
