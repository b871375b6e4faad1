/* test_zstream.c - lib/io/zstream: what the deflater writes, zlib's own raw inflater reads back
 * (and the reverse), every deflate call ends on a flush boundary, the inflater adds no more
 * than the room it is given and keeps the rest, and data that is not DEFLATE is an error. */
#include "unit_test.h"
#include <string.h>
#include <zlib.h>

#include "buf.h"
#include "zstream.h"

/* zlib's raw inflate of everything in data (the reference decoder). */
static size_t reference_inflate(const char *data, size_t len, char *out, size_t cap)
{
    z_stream s = {0};
    assert_int_equal(inflateInit2(&s, -15), Z_OK);
    s.next_in = (Bytef *)data;
    s.avail_in = (uInt)len;
    s.next_out = (Bytef *)out;
    s.avail_out = (uInt)cap;
    int r = inflate(&s, Z_SYNC_FLUSH);
    assert_true(r == Z_OK || r == Z_BUF_ERROR);
    assert_int_equal(s.avail_in, 0); /* a flush boundary: everything decodes */
    size_t n = cap - s.avail_out;
    inflateEnd(&s);
    return n;
}

static void test_deflate_is_decoded_by_zlib(void **state)
{
    (void)state;
    struct zstream *z = zstream_new(6, 12, 5);
    assert_non_null(z);
    struct buf wire = BUF_INIT;
    static char text[200000], back[300000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)("* 1 FETCH (FLAGS (\\Seen))\r\n"[i % 27] ^ (i % 7 == 0 ? (char)(i >> 8) : 0));
    assert_true(zstream_deflate(z, "a OK done\r\n", 11, &wire));
    size_t first = wire.len;
    assert_int_equal(reference_inflate(wire.data, wire.len, back, sizeof back), 11);
    assert_memory_equal(back, "a OK done\r\n", 11);
    assert_true(zstream_deflate(z, text, sizeof text, &wire));
    assert_true(wire.len - first < sizeof text);
    assert_int_equal(reference_inflate(wire.data, wire.len, back, sizeof back), 11 + sizeof text);
    assert_memory_equal(back + 11, text, sizeof text);
    buf_free(&wire);
    zstream_free(z);
}

static void test_inflate_respects_room(void **state)
{
    (void)state;
    static char text[100000];
    memset(text, 'x', sizeof text);
    z_stream s = {0};
    assert_int_equal(deflateInit2(&s, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    static char packed[100000];
    s.next_in = (Bytef *)text;
    s.avail_in = sizeof text;
    s.next_out = (Bytef *)packed;
    s.avail_out = sizeof packed;
    assert_int_equal(deflate(&s, Z_SYNC_FLUSH), Z_OK);
    size_t plen = sizeof packed - s.avail_out;
    deflateEnd(&s);

    struct zstream *z = zstream_new(6, 12, 5);
    struct buf in = BUF_INIT, out = BUF_INIT;
    buf_append(&in, packed, plen);
    size_t total = 0;
    for (int rounds = 0; total < sizeof text; rounds++) {
        assert_true(rounds < 1000);
        long n = zstream_inflate(z, &in, &out, 1000);
        assert_true(n >= 0 && n <= 1000);
        total += (size_t)n;
        assert_int_equal(out.len, (size_t)n);
        buf_reset(&out);
    }
    assert_int_equal(total, sizeof text);
    assert_int_equal(zstream_inflate(z, &in, &out, 1000), 0);
    buf_free(&in);
    buf_free(&out);
    zstream_free(z);
}

static void test_garbage_is_an_error(void **state)
{
    (void)state;
    struct zstream *z = zstream_new(6, 12, 5);
    struct buf in = BUF_INIT, out = BUF_INIT;
    buf_append(&in, "\xff\xff\xff\xff not deflate", 16);
    assert_int_equal(zstream_inflate(z, &in, &out, 4096), -1);
    buf_free(&in);
    buf_free(&out);
    zstream_free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deflate_is_decoded_by_zlib),
        cmocka_unit_test(test_inflate_respects_room),
        cmocka_unit_test(test_garbage_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
