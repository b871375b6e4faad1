/* test_hex.c - lib/util/hex: digit values in either case or upper-case only, encoding,
 * and decoding that refuses odd lengths and non-digits without touching the output. */
#include "unit_test.h"

#include "hex.h"
#include <string.h>

static void test_digits(void **state)
{
    assert_int_equal(hex_digit_value('0'), 0);
    assert_int_equal(hex_digit_value('9'), 9);
    assert_int_equal(hex_digit_value('a'), 10);
    assert_int_equal(hex_digit_value('F'), 15);
    assert_int_equal(hex_digit_value('g'), -1);
    assert_int_equal(hex_digit_value('G'), -1);
    assert_int_equal(hex_digit_value('/'), -1);
    assert_int_equal(hex_digit_value(0), -1);
    assert_int_equal(hex_upper_digit_value('C'), 12);
    assert_int_equal(hex_upper_digit_value('c'), -1);
    assert_int_equal(hex_upper_digit_value('7'), 7);
}

static void test_encode(void **state)
{
    struct buf b = BUF_INIT;
    hex_encode("\x00\x01\xab\xff", 4, &b);
    assert_string_equal(buf_cstr(&b), "0001ABFF");
    hex_encode("", 0, &b);
    assert_int_equal(b.len, 8);
    buf_free(&b);
}

static void test_decode(void **state)
{
    struct buf b = BUF_INIT;
    assert_true(hex_decode("0001abFF", 8, &b));
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "\x00\x01\xab\xff", 4);
    static const char *const bad[] = {"0", "abc", "0g", "zz", " 1", "1 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (hex_decode(bad[i], strlen(bad[i]), &b))
            fail_msg("\"%s\" decoded", bad[i]);
        assert_int_equal(b.len, 4); /* untouched */
    }
    buf_free(&b);
}

static void test_round_trip(void **state)
{
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    struct buf enc = BUF_INIT, dec = BUF_INIT;
    hex_encode(all, sizeof all, &enc);
    assert_int_equal(enc.len, 512);
    assert_true(hex_decode(enc.data, enc.len, &dec));
    assert_int_equal(dec.len, 256);
    assert_memory_equal(dec.data, all, 256);
    buf_free(&enc);
    buf_free(&dec);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_digits),
               cmocka_unit_test(test_encode),
               cmocka_unit_test(test_decode),
               cmocka_unit_test(test_round_trip))
