/* test_rfc2047.c - tests of lib/mail/rfc2047 and lib/mail/charset: the RFC 2047 sec 8
 * examples (white space between adjacent words dropped, kept next to plain text), B and Q
 * words, upper- and lower-case encodings, RFC 2231 languages, a UTF-8 character split
 * between two words, words inside a word, malformed words left alone, raw 8-bit text;
 * the built-in charsets (UTF-8 with bad bytes, Latin-1 read as Windows-1252, Latin-9,
 * Windows-1252), iconv (ISO-8859-2, KOI8-R, UTF-16 split between feeds), unknown and
 * unsafe names falling back to UTF-8, and linear time on a value full of false starts. */
#include "unit_test.h"
#include "utf8.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "charset.h"
#include "rfc2047.h"

static void check(const char *in, const char *want)
{
    struct buf out = BUF_INIT;
    rfc2047_decode(in, strlen(in), &out);
    if (strcmp(buf_cstr(&out), want) != 0)
        fail_msg("decoding \"%s\":\n got  \"%s\"\n want \"%s\"", in, out.data, want);
    buf_free(&out);
}

static void test_rfc_examples(void **state)
{
    /* RFC 2047 sec 8 */
    check("(=?ISO-8859-1?Q?a?=)", "(a)");
    check("(=?ISO-8859-1?Q?a?= b)", "(a b)");
    check("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)");
    check("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)");
    check("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)");
    check("(=?ISO-8859-1?Q?a_b?=)", "(a b)");
    check("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)");
    check("=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>", "Keith Moore <moore@cs.utk.edu>");
    check("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=", "Keld J\xc3\xb8rn Simonsen");
    check("=?ISO-8859-1?Q?Andr=E9?= Pirard", "Andr\xc3\xa9 Pirard");
    check("=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?= "
          "=?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
          "If you can read this you understand the example.");
}

static void test_words(void **state)
{
    check("=?utf-8?b?w6TDtsO8?=", "\xc3\xa4\xc3\xb6\xc3\xbc");
    check("=?UTF-8?Q?=C3=A4?=", "\xc3\xa4");
    check("=?utf-8*de?q?=C3=A4?=", "\xc3\xa4");
    /* one UTF-8 character split over two B words of the same charset */
    check("=?utf-8?b?ww==?= =?utf-8?b?pA==?=", "\xc3\xa4");
    check("=?utf-8?q?=C3?= =?UTF-8?q?=A4?=", "\xc3\xa4");
    /* the same split with different charsets cannot be joined */
    check("=?utf-8?q?=C3?= =?latin1?q?x?=", "\xef\xbf\xbdx");
    check("Re: [list] =?utf-8?q?caf=C3=A9?= now", "Re: [list] caf\xc3\xa9 now");
    check("pre=?utf-8?q?fix?=post", "prefixpost");
    check("=?utf-8?q?with space?=", "with space");
    check("=?utf-8?q?bad=ZZ=?=", "bad=ZZ=");
    check("=?utf-8?q?" "?=", ""); /* split: no trigraph */
}

static void test_malformed(void **state)
{
    check("=?utf-8?x?abc?=", "=?utf-8?x?abc?=");
    check("=?utf-8?q?abc", "=?utf-8?q?abc");
    check("=??q?abc?=", "=??q?abc?=");
    check("=?utf-8?q?a?b?=", "=?utf-8?q?a?b?=");
    check("=?", "=?");
    check("a = ? b", "a = ? b");
    check("=?=?utf-8?q?x?=", "=?x");
    /* raw 8-bit: UTF-8 kept, other bytes replaced */
    check("Gr\xc3\xbc\xc3\x9f" "e \xff", "Gr\xc3\xbc\xc3\x9f" "e \xef\xbf\xbd");
}

static void conv(const char *charset, const char *in, size_t len, const char *want)
{
    struct buf out = BUF_INIT;
    charset_to_utf8(charset, in, len, &out);
    if (strcmp(buf_cstr(&out), want) != 0)
        fail_msg("%s: got \"%s\" want \"%s\"", charset ? charset : "(none)", out.data, want);
    buf_free(&out);
}

static void test_charsets(void **state)
{
    conv("utf-8", "ok \xc3\xa9 \xc3 bad \xed\xa0\x80", 16,
         "ok \xc3\xa9 \xef\xbf\xbd bad \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    conv("ISO-8859-1", "\xe9\x93q\x94", 4, "\xc3\xa9\xe2\x80\x9cq\xe2\x80\x9d");
    conv("windows-1252", "\x80", 1, "\xe2\x82\xac");
    conv("iso-8859-15", "\xa4\xbd\xe9", 3, "\xe2\x82\xac\xc5\x93\xc3\xa9");
    conv("us-ascii", "plain \xc3\xa9", 8, "plain \xc3\xa9");
    conv(NULL, "\xff", 1, "\xef\xbf\xbd");
    conv("ISO-8859-2", "\xb1", 1, "\xc4\x85");
    conv("KOI8-R", "\xf0\xd2\xc9\xd7\xc5\xd4", 6,
         "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
    conv("x-no-such-charset", "a\xc3\xa9", 3, "a\xc3\xa9");
    conv("UTF-8//TRANSLIT", "a", 1, "a");
    conv("../../etc/passwd", "a", 1, "a");

    struct charset_conv *c = charset_conv_new("x-no-such-charset");
    assert_false(charset_conv_known(c));
    charset_conv_free(c);
    c = charset_conv_new("KOI8-R");
    assert_true(charset_conv_known(c));
    charset_conv_free(c);
}

/* Multi-byte characters split between feeds come out whole. */
static void test_streaming(void **state)
{
    static const char utf16[] = "\x00h\x00\xe9\xd8\x3d\xde\x00"; /* "hé" U+1F600, UTF-16BE */
    struct buf out = BUF_INIT;
    struct charset_conv *c = charset_conv_new("UTF-16BE");
    for (size_t i = 0; i < sizeof utf16 - 1; i++)
        charset_conv_feed(c, utf16 + i, 1, &out);
    charset_conv_finish(c, &out);
    charset_conv_free(c);
    assert_string_equal(buf_cstr(&out), "h\xc3\xa9\xf0\x9f\x98\x80");

    buf_reset(&out);
    static const char utf8[] = "\xf0\x9f\x98\x80\xc3\xa9";
    c = charset_conv_new("utf-8");
    for (size_t i = 0; i < sizeof utf8 - 1; i++)
        charset_conv_feed(c, utf8 + i, 1, &out);
    charset_conv_feed(c, "\xe2\x82", 2, &out); /* cut at the end: replaced */
    charset_conv_finish(c, &out);
    charset_conv_free(c);
    assert_string_equal(buf_cstr(&out), "\xf0\x9f\x98\x80\xc3\xa9\xef\xbf\xbd");
    buf_free(&out);
}

/* 4 MB of "=?" false starts and of unterminated words: linear (a fraction of a second; sanitizers
 * make it slower). */
/* A charset name iconv takes for UTF-8 ("u+tf-8"): its output is checked as UTF-8 too, so a
 * 5-byte sequence glibc passed through becomes replacement characters (fuzz_imap_struct). */
static void test_iconv_output_is_valid_utf8(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    charset_to_utf8("u+tf-8", "a\xf8\x9c\x9c\x9c\x9c" "b", 7, &out);
    assert_true(utf8_valid(out.data, out.len));
    assert_true(out.len >= 2 && out.data[0] == 'a' && out.data[out.len - 1] == 'b');
    buf_reset(&out);
    rfc2047_decode("=?u+tf-8?Q?caf=C3=A9=F8=9C=9C=9C=9C?=", 37, &out);
    assert_true(utf8_valid(out.data, out.len));
    assert_non_null(strstr(buf_cstr(&out), "caf\xc3\xa9"));
    buf_free(&out);
}

static void test_linear(void **state)
{
    struct buf in = BUF_INIT, out = BUF_INIT;
    for (int i = 0; i < 1 << 20; i++)
        buf_puts(&in, "=?=?");
    for (int i = 0; i < 1 << 18; i++)
        buf_puts(&in, "=?a?q?xx");
    clock_t t0 = clock();
    rfc2047_decode(in.data, in.len, &out);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    assert_int_equal(out.len, in.len);
    assert_true(secs < 10.0); /* quadratic would take hours */
    buf_free(&in);
    buf_free(&out);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_rfc_examples),
               cmocka_unit_test(test_words),
               cmocka_unit_test(test_malformed),
               cmocka_unit_test(test_charsets),
               cmocka_unit_test(test_streaming),
               cmocka_unit_test(test_linear),
               cmocka_unit_test(test_iconv_output_is_valid_utf8))
