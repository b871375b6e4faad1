/* test_dkim_canon.c - lib/dkim/dkim_canon: relaxed canonicalization against the examples
 * of RFC 6376 sec 3.4.5 (in the queue's LF form), the edge cases of sec 3.4.3 and 3.4.4
 * (empty bodies, trailing empty lines, white space at line ends and starts, a last line
 * without its line end), and the streaming rule: the output is the same however the body
 * is split. */
#include "unit_test.h"

#include "buf.h"
#include "dkim_canon.h"
#include <stdlib.h>
#include <string.h>

static void collect(void *ctx, const char *data, size_t len) { buf_append(ctx, data, len); }

/* The relaxed body of in, fed in pieces of `step` bytes (0: all at once). */
static char *body(const char *in, size_t step)
{
    struct buf out = BUF_INIT;
    struct dkim_body_canon c;
    dkim_body_init(&c, collect, &out);
    size_t len = strlen(in);
    if (step == 0)
        step = len ? len : 1;
    for (size_t i = 0; i < len; i += step)
        dkim_body_feed(&c, in + i, len - i < step ? len - i : step);
    dkim_body_finish(&c);
    buf_putc(&out, 0); /* so an empty result is "" rather than NULL */
    return buf_steal(&out);
}

static char *header(const char *field, bool crlf)
{
    struct buf out = BUF_INIT;
    dkim_canon_header(field, strlen(field), crlf, &out);
    return buf_steal(&out);
}

/* RFC 6376 sec 3.4.5: "A: X", "B : Y\t\n\tZ  " -> "a:X", "b:Y Z". */
static void test_rfc6376_header_example(void **state)
{
    char *a = header("A: X\n", true), *b = header("B : Y\t\n\tZ  \n", true);
    assert_string_equal(a, "a:X\r\n");
    assert_string_equal(b, "b:Y Z\r\n");
    free(a), free(b);
}

/* RFC 6376 sec 3.4.5: the body " C \nD \t E\n\n\n" -> " C\r\nD E\r\n". */
static void test_rfc6376_body_example(void **state)
{
    char *c = body(" C \nD \t E\n\n\n", 0);
    assert_string_equal(c, " C\r\nD E\r\n");
    free(c);
}

static void test_header_details(void **state)
{
    static const struct {
        const char *in, *out;
    } t[] = {
        {"Subject: Hello World\n", "subject:Hello World\r\n"},
        {"SUBJECT:\tHello   World  \n", "subject:Hello World\r\n"},
        {"Subject:\n\tfolded\n  twice\n", "subject:folded twice\r\n"},
        {"To: a@example.test,\n b@example.test\n", "to:a@example.test, b@example.test\r\n"},
        {"X-Empty:\n", "x-empty:\r\n"},
        {"X-Empty:   \n", "x-empty:\r\n"},
        {"Subject: caf\xc3\xa9\n", "subject:caf\xc3\xa9\r\n"},      /* 8-bit kept */
        {"Subject: a\rb\n", "subject:a\rb\r\n"},                     /* a bare CR is text */
        {"Subject: no line end", "subject:no line end\r\n"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char *got = header(t[i].in, true);
        if (strcmp(got, t[i].out) != 0)
            fail_msg("header %zu: got \"%s\"", i, got);
        free(got);
    }
    char *sig = header("DKIM-Signature: v=1; a=rsa-sha256;\n\tb=", false);
    assert_string_equal(sig, "dkim-signature:v=1; a=rsa-sha256; b=");
    free(sig);
}

static void test_body_edges(void **state)
{
    static const struct {
        const char *in, *out;
    } t[] = {
        {"", ""},                              /* an empty body stays empty (sec 3.4.4) */
        {"\n", ""},
        {"\n\n\n", ""},                        /* only empty lines: empty */
        {" \t \n\t\n", ""},                    /* white space only lines are empty ones */
        {"a", "a\r\n"},                        /* a last line without LF gets CRLF */
        {"a  ", "a\r\n"},
        {"a\n", "a\r\n"},
        {"a\n\n\n\n", "a\r\n"},                /* trailing empty lines go */
        {"a \n \n\t\n", "a\r\n"},
        {"a\n\nb\n\n", "a\r\n\r\nb\r\n"},      /* inner empty lines stay */
        {"\n\na\n", "\r\n\r\na\r\n"},          /* leading empty lines stay */
        {"  lead\n", " lead\r\n"},             /* leading white space is reduced, not removed */
        {"a\t\tb  c\n", "a b c\r\n"},
        {"a\r\n", "a\r\r\n"},                  /* CR is an ordinary byte of the LF form */
        {"caf\xc3\xa9 \xff\n", "caf\xc3\xa9 \xff\r\n"},
        {"x\n \n\ny\n", "x\r\n\r\n\r\ny\r\n"}, /* a white-space line inside counts as empty */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char *got = body(t[i].in, 0);
        if (strcmp(got, t[i].out) != 0)
            fail_msg("body %zu: got \"%s\"", i, got);
        free(got);
    }
}

/* Many held-back empty lines come out in full when content follows. */
static void test_body_many_empty_lines(void **state)
{
    struct buf in = BUF_INIT, want = BUF_INIT;
    buf_puts(&in, "a\n");
    buf_puts(&want, "a\r\n");
    for (int i = 0; i < 1000; i++) {
        buf_puts(&in, i % 3 ? "\n" : "  \n");
        buf_puts(&want, "\r\n");
    }
    buf_puts(&in, "b\n\n\n");
    buf_puts(&want, "b\r\n");
    char *got = body(buf_cstr(&in), 7);
    assert_string_equal(got, buf_cstr(&want));
    free(got);
    buf_free(&in), buf_free(&want);
}

/* Every split gives the same output as one piece. */
static void test_body_any_split(void **state)
{
    static const char *const inputs[] = {
        " C \nD \t E\n\n\n", "a  b\t\n\n \n c \t\nd", "\n\n x\n\n", "trail   \n  \n",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        char *whole = body(inputs[i], 0);
        for (size_t step = 1; step <= strlen(inputs[i]); step++) {
            char *split = body(inputs[i], step);
            if (strcmp(whole, split) != 0)
                fail_msg("input %zu split every %zu bytes: \"%s\" vs \"%s\"", i, step, split, whole);
            free(split);
        }
        free(whole);
    }
}

UNIT_TEST_MAIN(cmocka_unit_test(test_rfc6376_header_example),
               cmocka_unit_test(test_rfc6376_body_example),
               cmocka_unit_test(test_header_details),
               cmocka_unit_test(test_body_edges),
               cmocka_unit_test(test_body_many_empty_lines),
               cmocka_unit_test(test_body_any_split))
