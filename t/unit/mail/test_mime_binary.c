/* test_mime_binary.c - tests of lib/mail/mime_binary: a single binary part and the parts of
 * a multipart rewritten in base64 that decodes to the original octets (NULs, bare CRs and
 * 8-bit bytes), the field replaced with its continuation lines or added when a NUL made the
 * part binary, 76-character lines, text parts and boundaries copied as they came, a binary
 * message/rfc822 rewritten only in its leaves, and nothing written when nothing is binary. */
#include "unit_test.h"
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cte.h"
#include "mime_binary.h"

/* The parts of msg, parsed; *count parts. Free with mime_parser_free(*mp). */
static const struct mime_part *parse(const char *msg, size_t len, struct mime_parser **mp, size_t *count)
{
    const char *err;
    *mp = mime_parser_new(NULL, &err);
    mime_feed(*mp, msg, len);
    return mime_finish(*mp, count);
}

/* Part i of out decoded from base64 must be want[0..wantlen). */
static void check_part(const struct buf *out, size_t i, const char *want, size_t wantlen)
{
    struct mime_parser *mp;
    size_t count;
    const struct mime_part *parts = parse(out->data, out->len, &mp, &count);
    assert_true(i < count);
    assert_string_equal(parts[i].encoding, "base64");
    struct cte_decoder d;
    struct buf dec = BUF_INIT;
    cte_decoder_init(&d, CTE_BASE64);
    cte_decode(&d, out->data + parts[i].body_offset, parts[i].body_size, &dec);
    cte_decode_finish(&d, &dec);
    assert_int_equal(dec.len, wantlen);
    assert_memory_equal(dec.data, want, wantlen);
    buf_free(&dec);
    mime_parser_free(mp);
}

#define BODY "\0-\344\r\n\rx\r\n"

static void test_single_part(void **state)
{
    static const char msg[] = "From: a@b.example\r\nContent-Transfer-Encoding: binary\r\n"
                              "Subject: s\r\n\r\n" BODY;
    struct buf out = BUF_INIT;
    assert_int_equal(mime_binary_to_base64(msg, sizeof msg - 1, NULL, &out), 1);
    assert_non_null(strstr(out.data, "From: a@b.example\r\nContent-Transfer-Encoding: base64\r\n"
                                     "Subject: s\r\n\r\n"));
    assert_null(memchr(out.data, '\0', out.len));
    check_part(&out, 0, BODY, sizeof BODY - 1);
    buf_free(&out);
}

static void test_folded_field_and_added_field(void **state)
{
    static const char folded[] = "Content-Transfer-Encoding:\r\n\tbinary\r\nX: y\r\n\r\n" BODY;
    struct buf out = BUF_INIT;
    assert_int_equal(mime_binary_to_base64(folded, sizeof folded - 1, NULL, &out), 1);
    assert_memory_equal(out.data, "Content-Transfer-Encoding: base64\r\nX: y\r\n\r\n", 43);
    check_part(&out, 0, BODY, sizeof BODY - 1);
    buf_reset(&out);
    /* 8bit by its header, but a NUL: binary all the same, the field is added. */
    static const char nul[] = "Subject: s\r\n\r\n" BODY;
    assert_int_equal(mime_binary_to_base64(nul, sizeof nul - 1, NULL, &out), 1);
    assert_memory_equal(out.data, "Subject: s\r\nContent-Transfer-Encoding: base64\r\n\r\n", 49);
    check_part(&out, 0, BODY, sizeof BODY - 1);
    buf_free(&out);
}

static void test_multipart(void **state)
{
    static const char msg[] = "Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
                              "preamble\r\n--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
                              "--XX\r\nContent-Type: application/octet-stream\r\n"
                              "Content-Transfer-Encoding: BINARY\r\n\r\n" BODY "\r\n--XX--\r\n";
    struct buf out = BUF_INIT;
    assert_int_equal(mime_binary_to_base64(msg, sizeof msg - 1, NULL, &out), 1);
    assert_non_null(strstr(out.data, "--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XX\r\n"));
    assert_non_null(strstr(out.data, "Content-Transfer-Encoding: base64\r\n\r\n"
                                     "AC3kDQoNeA0K\r\n--XX--\r\n"));
    check_part(&out, 2, BODY, sizeof BODY - 1);
    buf_free(&out);
}

static void test_long_body_lines(void **state)
{
    struct buf in = BUF_INIT, out = BUF_INIT;
    buf_puts(&in, "Content-Transfer-Encoding: binary\r\n\r\n");
    size_t hdr = in.len;
    for (int i = 0; i < 1000; i++)
        buf_putc(&in, (char)(i * 7));
    assert_int_equal(mime_binary_to_base64(in.data, in.len, NULL, &out), 1);
    const char *b = strstr(out.data, "\r\n\r\n") + 4;
    size_t lines = 0;
    for (const char *l = b; *l; lines++) {
        const char *e = strstr(l, "\r\n");
        size_t n = e ? (size_t)(e - l) : strlen(l);
        assert_true(n <= 76 && n > 0);
        l += n + (e ? 2 : 0);
    }
    assert_int_equal(lines, (1000 + 56) / 57);
    check_part(&out, 0, in.data + hdr, 1000);
    buf_free(&in);
    buf_free(&out);
}

static void test_message_rfc822_leaves_only(void **state)
{
    static const char msg[] = "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: binary\r\n\r\n"
                              "Subject: inner\r\nContent-Transfer-Encoding: binary\r\n\r\n" BODY;
    struct buf out = BUF_INIT;
    assert_int_equal(mime_binary_to_base64(msg, sizeof msg - 1, NULL, &out), 1);
    assert_memory_equal(out.data, msg, 67); /* the outer header as it came */
    check_part(&out, 1, BODY, sizeof BODY - 1);
    buf_free(&out);
}

static void test_nothing_binary(void **state)
{
    static const char msg[] = "Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
                              "Content-Transfer-Encoding: 8bit\r\n\r\ncaf\303\251\r\n--XX--\r\n";
    struct buf out = BUF_INIT;
    buf_puts(&out, "kept");
    assert_int_equal(mime_binary_to_base64(msg, sizeof msg - 1, NULL, &out), 0);
    assert_string_equal(out.data, "kept");
    /* A header with no end (no body) and an empty binary body: nothing to rewrite. */
    static const char empty[] = "Content-Transfer-Encoding: binary\r\n\r\n";
    assert_int_equal(mime_binary_to_base64(empty, sizeof empty - 1, NULL, &out), 0);
    static const char nohdr_end[] = "Content-Transfer-Encoding: binary\r\nX: \0";
    assert_int_equal(mime_binary_to_base64(nohdr_end, sizeof nohdr_end - 1, NULL, &out), 0);
    assert_string_equal(out.data, "kept");
    buf_free(&out);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_single_part),
               cmocka_unit_test(test_folded_field_and_added_field),
               cmocka_unit_test(test_multipart),
               cmocka_unit_test(test_long_body_lines),
               cmocka_unit_test(test_message_rfc822_leaves_only),
               cmocka_unit_test(test_nothing_binary))
