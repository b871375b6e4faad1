/* test_base64.c - lib/util/base64: the RFC 4648 sec 10 test vectors both ways, binary
 * round trips, and strictness: bad padding, bad characters, white space and wrong lengths
 * are refused. */
#include "unit_test.h"

#include "base64.h"
#include <string.h>

static void test_rfc4648_vectors(void **state)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        struct buf b = BUF_INIT, d = BUF_INIT;
        base64_encode(plain[i], strlen(plain[i]), &b);
        assert_string_equal(buf_cstr(&b), enc[i]);
        assert_true(base64_decode(enc[i], strlen(enc[i]), &d));
        assert_int_equal(d.len, strlen(plain[i]));
        assert_memory_equal(d.data ? d.data : "", plain[i], d.len);
        buf_free(&b);
        buf_free(&d);
    }
}

static void test_binary_round_trip(void **state)
{
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)(255 - i);
    for (size_t len = 0; len <= sizeof all; len += 37) {
        struct buf b = BUF_INIT, d = BUF_INIT;
        base64_encode(all, len, &b);
        assert_int_equal(b.len, (len + 2) / 3 * 4);
        assert_true(base64_decode(b.data ? b.data : "", b.len, &d));
        assert_int_equal(d.len, len);
        if (len)
            assert_memory_equal(d.data, all, len);
        buf_free(&b);
        buf_free(&d);
    }
}

static void test_refused(void **state)
{
    static const char *const bad[] = {
        "Zg",       /* padding missing */
        "Zg=",      /* padding short */
        "Z===",     /* too much padding */
        "Zg=a",     /* data after padding */
        "=Zg=",     /* padding first */
        "Zg==Zg==", /* padding before the end */
        "Zm9v!",    /* bad character */
        "Zm 9",     /* white space */
        "Zm9v\n",   /* line break */
        "Zm-_",     /* the URL-safe alphabet is not this one */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct buf d = BUF_INIT;
        if (base64_decode(bad[i], strlen(bad[i]), &d))
            fail_msg("\"%s\" decoded", bad[i]);
        buf_free(&d);
    }
    struct buf d = BUF_INIT;
    assert_false(base64_decode("Zg\0=", 4, &d)); /* a NUL is not an alphabet character */
    buf_free(&d);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_rfc4648_vectors),
               cmocka_unit_test(test_binary_round_trip),
               cmocka_unit_test(test_refused))
