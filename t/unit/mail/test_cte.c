/* test_cte.c - tests of lib/mail/cte: the encoding names; base64 with line breaks, junk,
 * missing and early padding and concatenated blocks; quoted-printable hex pairs (both
 * cases), soft line breaks (with white space after the '=', LF and CRLF), trailing white
 * space removal, hard line ends kept as they came, invalid sequences kept, a '=' at the
 * very end; and split invariance (every input decoded whole and byte by byte gives the
 * same output). */
#include "unit_test.h"
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cte.h"

/* Decode in chunks of `chunk` bytes (0: whole). */
static char *decode(enum cte kind, const char *in, size_t len, size_t chunk, size_t *outlen)
{
    struct cte_decoder d;
    struct buf out = BUF_INIT;
    cte_decoder_init(&d, kind);
    for (size_t at = 0; at < len;) {
        size_t n = chunk == 0 || chunk > len - at ? len - at : chunk;
        cte_decode(&d, in + at, n, &out);
        at += n;
    }
    cte_decode_finish(&d, &out);
    *outlen = out.len;
    return buf_steal(&out);
}

static void check(enum cte kind, const char *in, const char *want, size_t wantlen)
{
    size_t len = strlen(in), n1, n2, n3;
    char *whole = decode(kind, in, len, 0, &n1);
    char *bytes = decode(kind, in, len, 1, &n2);
    char *threes = decode(kind, in, len, 3, &n3);
    if (n1 != wantlen || memcmp(whole, want, wantlen) != 0)
        fail_msg("decoding \"%s\": got \"%.*s\"", in, (int)n1, whole);
    assert_int_equal(n1, n2);
    assert_memory_equal(whole, bytes, n1);
    assert_int_equal(n1, n3);
    assert_memory_equal(whole, threes, n1);
    free(whole);
    free(bytes);
    free(threes);
}

#define CHECK(kind, in, want) check(kind, in, want, sizeof want - 1)

static void test_names(void **state)
{
    assert_int_equal(cte_from_name(NULL), CTE_IDENTITY);
    assert_int_equal(cte_from_name("7bit"), CTE_IDENTITY);
    assert_int_equal(cte_from_name("8BIT"), CTE_IDENTITY);
    assert_int_equal(cte_from_name("binary"), CTE_IDENTITY);
    assert_int_equal(cte_from_name("Base64"), CTE_BASE64);
    assert_int_equal(cte_from_name("quoted-printable"), CTE_QP);
    assert_int_equal(cte_from_name("x-uuencode"), CTE_UNKNOWN);
    assert_int_equal(cte_from_name("7-bit"), CTE_UNKNOWN);
}

static void test_base64(void **state)
{
    CHECK(CTE_BASE64, "SGVsbG8sIFdvcmxkIQ==", "Hello, World!");
    CHECK(CTE_BASE64, "SGVs\r\nbG8s\nIFdv cmxk\tIQ==\r\n", "Hello, World!");
    CHECK(CTE_BASE64, "SGVsbG8", "Hello");          /* no padding: left-over bits dropped */
    CHECK(CTE_BASE64, "SGk=SGk=", "HiHi");          /* two padded blocks */
    CHECK(CTE_BASE64, "S*G!k", "Hi");               /* junk ignored */
    CHECK(CTE_BASE64, "AAEC/w==", "\x00\x01\x02\xff");
    CHECK(CTE_BASE64, "", "");
    CHECK(CTE_BASE64, "====", "");
}

static void test_quoted_printable(void **state)
{
    CHECK(CTE_QP, "caf=C3=A9 =c3=a9", "caf\xc3\xa9 \xc3\xa9");
    CHECK(CTE_QP, "soft=\r\nbreak", "softbreak");
    CHECK(CTE_QP, "soft=\nbreak", "softbreak");
    CHECK(CTE_QP, "soft= \t\r\nbreak", "softbreak");
    CHECK(CTE_QP, "trailing  \t\r\nnext  \nlast  ", "trailing\r\nnext\nlast");
    CHECK(CTE_QP, "inner  space", "inner  space");
    CHECK(CTE_QP, "a=3Db =ZZ =4 =\tx", "a=b =ZZ =4 =\tx");
    CHECK(CTE_QP, "end=", "end");
    CHECK(CTE_QP, "end=4", "end=4");
    CHECK(CTE_QP, "cr\ralone\r", "cr\ralone\r");
    CHECK(CTE_QP, "==41", "=A");
    CHECK(CTE_QP, "=\rX", "=\rX");
    CHECK(CTE_QP, "", "");
    /* a run of white space longer than what is held back is kept, in order */
    struct buf in = BUF_INIT, want = BUF_INIT;
    for (int i = 0; i < CTE_QP_WS_MAX + 10; i++)
        buf_putc(&in, i % 2 ? ' ' : '\t');
    buf_append(&want, in.data, CTE_QP_WS_MAX);
    buf_puts(&in, "\nx");
    buf_puts(&want, "\nx");
    check(CTE_QP, in.data, want.data, want.len);
    buf_free(&in);
    buf_free(&want);
}

static void test_identity(void **state)
{
    CHECK(CTE_IDENTITY, "as =3D is\r\n", "as =3D is\r\n");
    CHECK(CTE_UNKNOWN, "begin 644 x\n", "begin 644 x\n");
}

UNIT_TEST_MAIN(cmocka_unit_test(test_names),
               cmocka_unit_test(test_base64),
               cmocka_unit_test(test_quoted_printable),
               cmocka_unit_test(test_identity))
