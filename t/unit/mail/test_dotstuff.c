/* test_dotstuff.c - lib/mail/dotstuff, the encoder, against lib/mail/smtp_data, the
 * decoder: exact wire output (CRLF, doubled leading dots, terminator), independence from
 * chunking, line reports, and encode-then-decode giving the input back. */
#include "unit_test.h"

#include "dotstuff.h"
#include "smtp_data.h"
#include <stdlib.h>
#include <string.h>

static void encode_chunked(const char *in, size_t step, struct buf *out)
{
    struct dotstuff e;
    size_t len = strlen(in);
    dotstuff_init(&e);
    for (size_t off = 0; off < len; off += step)
        dotstuff_encode(&e, in + off, len - off < step ? len - off : step, out);
    dotstuff_finish(&e, out);
}

static void test_wire_output(void **state)
{
    static const struct {
        const char *in, *wire;
    } t[] = {
        {"", ".\r\n"},
        {"a\n", "a\r\n.\r\n"},
        {"a", "a\r\n.\r\n"},                         /* last line without its end */
        {".\n", "..\r\n.\r\n"},                      /* a lone dot is stuffed */
        {"a\n.b\n..\n", "a\r\n..b\r\n...\r\n.\r\n"},
        {"a\r\nb\n", "a\r\nb\r\n.\r\n"},             /* CRLF stays one line end */
        {"a\rb\n", "a\rb\r\n.\r\n"},                 /* a bare CR is data */
        {"x.\n", "x.\r\n.\r\n"},                     /* only a leading dot */
        {"\n\n", "\r\n\r\n.\r\n"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        for (size_t step = 1; step <= 4; step++) {
            struct buf out = BUF_INIT;
            encode_chunked(t[i].in, step, &out);
            if (strcmp(buf_cstr(&out), t[i].wire) != 0)
                fail_msg("case %zu step %zu: \"%s\"", i, step, buf_cstr(&out));
            buf_free(&out);
        }
}

static void test_lines(void **state)
{
    struct dotstuff e;
    struct dotstuff_line line;
    struct buf out = BUF_INIT;
    dotstuff_init(&e);
    const char *in = "ab\n\r\nc";
    size_t used = dotstuff_encode_line(&e, in, 6, &out, &line);
    assert_int_equal(used, 3);
    assert_true(line.ended);
    assert_false(line.empty);
    used = dotstuff_encode_line(&e, in + 3, 3, &out, &line);
    assert_int_equal(used, 2);
    assert_true(line.ended);
    assert_true(line.empty); /* CR LF alone is an empty line */
    used = dotstuff_encode_line(&e, in + 5, 1, &out, &line);
    assert_int_equal(used, 1);
    assert_false(line.ended);
    buf_free(&out);
}

static void emit(void *ctx, const char *data, size_t len) { buf_append(ctx, data, len); }

static void test_round_trip(void **state)
{
    static const char *const texts[] = {
        "",
        "Subject: hi\n\nbody\n",
        ".\n",
        "..\n.\n...x\n",
        "a\rb\n.\r.\n",
        "From: x\n\n.\n\n.\n",
        "no dot stuffing needed\nat all\n",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        struct buf wire = BUF_INIT, back = BUF_INIT;
        encode_chunked(texts[i], 3, &wire);
        struct smtp_data d;
        size_t used = 0;
        smtp_data_init(&d, SMTP_LF_REJECT, true);
        enum smtp_data_status st =
            smtp_data_decode(&d, wire.data, wire.len, true, &used, emit, &back);
        assert_int_equal(st, SMTP_DATA_END);
        assert_int_equal(used, wire.len); /* the terminator is the end of the wire text */
        if (strcmp(buf_cstr(&back), texts[i]) != 0)
            fail_msg("text %zu came back as \"%s\"", i, buf_cstr(&back));
        buf_free(&wire);
        buf_free(&back);
    }
}

static char *limited(const char *in, size_t max, bool no_dots, size_t step)
{
    struct dotstuff e;
    struct buf out = BUF_INIT;
    size_t len = strlen(in);
    dotstuff_init(&e);
    e.max_line = max;
    e.no_dots = no_dots;
    for (size_t off = 0; off < len; off += step)
        dotstuff_encode(&e, in + off, len - off < step ? len - off : step, &out);
    buf_cstr(&out);
    return buf_steal(&out);
}

/* smtp_line_length_limit: a line longer than max is broken with CR LF SP; a CR LF is never
 * split; no_dots leaves a leading dot alone (BDAT). The output does not depend on chunks. */
static void test_line_limit(void **state)
{
    static const struct {
        const char *in;
        size_t max;
        bool no_dots;
        const char *wire;
    } t[] = {
        {"abcd\n", 4, false, "abcd\r\n"},
        {"abcdef\n", 4, false, "abcd\r\n ef\r\n"},
        {"abcdefghijk\n", 4, false, "abcd\r\n efg\r\n hij\r\n k\r\n"},
        {"abcd\r\n", 4, false, "abcd\r\n"},          /* the CR of CR LF is no content */
        {".bcdef\n", 4, false, "..bcd\r\n ef\r\n"},  /* the doubled dot is not counted */
        {".bcdef\n", 4, true, ".bcd\r\n ef\r\n"},
        {"abcdef\n", 0, false, "abcdef\r\n"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        for (size_t step = 1; step <= 5; step++) {
            char *got = limited(t[i].in, t[i].max, t[i].no_dots, step);
            if (strcmp(got, t[i].wire) != 0)
                fail_msg("case %zu step %zu: \"%s\"", i, step, got);
            free(got);
        }
}

UNIT_TEST_MAIN(cmocka_unit_test(test_wire_output),
               cmocka_unit_test(test_line_limit),
               cmocka_unit_test(test_lines),
               cmocka_unit_test(test_round_trip))
