/* test_log.c - lib/util/log: log_escape keeps printable ASCII and well-formed UTF-8, escapes
 * control bytes (C1 ones too), DEL, invalid UTF-8 and the backslash itself, never cuts an escape when the
 * output is short; and a line logged to a file carries the escaped text, not the raw bytes. */
#include "unit_test.h"

#include "log.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *esc(const char *in, size_t len)
{
    static char out[512];
    log_escape(in, len, out, sizeof out);
    return out;
}

static void test_plain_and_utf8_kept(void **state)
{
    assert_string_equal(esc("from=<a@b.test> x", 17), "from=<a@b.test> x");
    /* RFC 6531 address: U+00E9 and U+4E2D, both well-formed */
    assert_string_equal(esc("j\xc3\xa9r\xc3\xb4me@\xe4\xb8\xad.test", 17),
                        "j\xc3\xa9r\xc3\xb4me@\xe4\xb8\xad.test");
}

static void test_control_bytes_escaped(void **state)
{
    assert_string_equal(esc("a\x1b[31mb\x07", 8), "a\\x1b[31mb\\x07");
    assert_string_equal(esc("\r\n\t\x7f", 4), "\\x0d\\x0a\\x09\\x7f");
    assert_string_equal(esc("x\0y", 3), "x\\x00y");
    /* C1 controls, well-formed UTF-8 but controls all the same (U+009B: CSI) */
    assert_string_equal(esc("a\xc2\x9b[2Jb\xc2\x85", 9), "a\\xc2\\x9b[2Jb\\xc2\\x85");
    assert_string_equal(esc("\xc2\xa0", 2), "\xc2\xa0"); /* U+00A0 is not one */
}

static void test_backslash_escaped(void **state)
{
    /* a literal "\x1b" typed by a client must not look like an escaped ESC */
    assert_string_equal(esc("\\x1b", 4), "\\\\x1b");
}

static void test_invalid_utf8_escaped(void **state)
{
    assert_string_equal(esc("\xff\xfe", 2), "\\xff\\xfe");
    assert_string_equal(esc("\xc3", 1), "\\xc3");                 /* cut short */
    assert_string_equal(esc("\xc0\xaf", 2), "\\xc0\\xaf");        /* overlong '/' */
    assert_string_equal(esc("\xed\xa0\x80", 3), "\\xed\\xa0\\x80"); /* surrogate */
    assert_string_equal(esc("\xc3(", 2), "\\xc3(");
}

static void test_short_output_never_cuts(void **state)
{
    char out[6];
    assert_int_equal(log_escape("ab\x1b", 3, out, sizeof out), 2);
    assert_string_equal(out, "ab");
    assert_int_equal(log_escape("abc\xc3\xa9", 5, out, sizeof out), 5);
    assert_string_equal(out, "abc\xc3\xa9");
    assert_int_equal(log_escape("abcd\xc3\xa9", 6, out, sizeof out), 4);
    assert_string_equal(out, "abcd");
}

static void test_file_line_escaped(void **state)
{
    char path[] = "/tmp/posthorn-test-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    log_init("unit", path);
    log_info("user=<%s> id=%s", "ev\x1b[2Jil\x07", "\xff<x>");
    log_init("unit", "-"); /* close the file */
    char text[1024] = "";
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    unlink(path);
    text[n] = 0;
    assert_non_null(strstr(text, "posthorn/unit["));
    assert_non_null(strstr(text, "user=<ev\\x1b[2Jil\\x07> id=\\xff<x>\n"));
    assert_null(strchr(text, '\x1b'));
    assert_null(strchr(text, '\x07'));
}

UNIT_TEST_MAIN(cmocka_unit_test(test_plain_and_utf8_kept),
               cmocka_unit_test(test_control_bytes_escaped),
               cmocka_unit_test(test_backslash_escaped),
               cmocka_unit_test(test_invalid_utf8_escaped),
               cmocka_unit_test(test_short_output_never_cuts),
               cmocka_unit_test(test_file_line_escaped))
