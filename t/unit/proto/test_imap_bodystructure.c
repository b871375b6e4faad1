/* test_imap_bodystructure.c - tests of BODYSTRUCTURE and BODY (lib/proto/imap_struct.h):
 * the RFC 3501 sec 7.4.2 example rebuilt to its sizes; multipart/alternative; a mixed
 * message with an attachment carrying disposition parameters, Content-ID, -Description,
 * -Language (a list), -Location (folded) and -MD5; a forwarded message/rfc822 holding a
 * multipart, with its envelope; message/global with and without IMAP_FMT_MESSAGE_GLOBAL;
 * a message without MIME header; malformed MIME (a multipart without boundary, without
 * parts, without its closing delimiter, an encoded message/rfc822); multipart/digest
 * defaults; 8-bit parameter values; LF and CRLF alike; RFC822.SIZE; and a 50 MB message
 * handled in linear time. */
#include "unit_test.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "imap_struct.h"

static char *structure(const char *msg, size_t len, bool ext, unsigned flags)
{
    struct imap_message *m = imap_message_new(msg, len);
    struct buf out = BUF_INIT;
    if (ext)
        imap_bodystructure(m, flags, &out);
    else
        imap_body(m, flags, &out);
    imap_message_free(m);
    buf_cstr(&out);
    return buf_steal(&out);
}

static void check_flags(const char *msg, bool ext, unsigned flags, const char *want)
{
    char *got = structure(msg, strlen(msg), ext, flags);
    if (strcmp(got, want) != 0)
        fail_msg("\n got  %s\n want %s", got, want);
    free(got);
}

static void check(const char *msg, const char *want) { check_flags(msg, true, 0, want); }

/* n lines (LF) whose CRLF form is size octets in all, the last line ending in LF too. */
static void add_lines(struct buf *b, size_t n, size_t size, char fill)
{
    size_t text = size - 2 * n;
    for (size_t i = 0; i < n; i++) {
        size_t len = text / n + (i < text % n ? 1 : 0);
        for (size_t j = 0; j < len; j++)
            buf_putc(b, fill);
        buf_putc(b, '\n');
    }
}

/* RFC 3501 sec 7.4.2: BODY (("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152
 * 23)("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff")
 * "<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64" 4554 73) "MIXED"),
 * for a message built to those sizes. Equal but for case (mime.h lower-cases types,
 * parameter names and encodings; IMAP compares them case-insensitively). */
static void test_rfc3501_example(void **state)
{
    struct buf msg = BUF_INIT;
    buf_puts(&msg, "MIME-Version: 1.0\nContent-Type: MULTIPART/MIXED; BOUNDARY=\"b\"\n\n"
                   "--b\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\n\n");
    add_lines(&msg, 23, 1152, 't');
    buf_puts(&msg, "\n--b\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME=cc.diff\n"
                   "Content-ID: <960723163407.20117h@cac.washington.edu>\n"
                   "Content-Description: Compiler diff\n"
                   "Content-Transfer-Encoding: BASE64\n\n");
    add_lines(&msg, 73, 4554, 'A');
    buf_puts(&msg, "\n--b--\n");
    char *got = structure(msg.data, msg.len, false, 0);
    const char *want = "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)"
                       "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
                       "\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" "
                       "\"BASE64\" 4554 73) \"MIXED\")";
    if (strcasecmp(got, want) != 0)
        fail_msg("\n got  %s\n want %s", got, want);
    free(got);
    buf_free(&msg);
}

static const char alternative_msg[] =
    "From: a@x.test\n"
    "Subject: alt\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=\"alt-1\"\n"
    "\n"
    "--alt-1\n"
    "Content-Type: text/plain; charset=utf-8; format=flowed\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Hello =E2=80=93 world\n"
    "--alt-1\n"
    "Content-Type: text/html; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "<p>Hello</p>\n"
    "<p>world</p>\n"
    "--alt-1--\n";

static void test_alternative(void **state)
{
    check(alternative_msg,
          "((\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\") NIL NIL "
          "\"quoted-printable\" 21 1 NIL NIL NIL NIL)"
          "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 26 2 "
          "NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"alt-1\") NIL NIL NIL)");
    check_flags(alternative_msg, false, 0,
                "((\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\") NIL NIL "
                "\"quoted-printable\" 21 1)"
                "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 26 2) "
                "\"alternative\")");
    /* CRLF line ends: the same structure, the same sizes */
    struct buf crlf = BUF_INIT;
    for (const char *s = alternative_msg; *s; s++) {
        if (*s == '\n')
            buf_putc(&crlf, '\r');
        buf_putc(&crlf, *s);
    }
    char *a = structure(alternative_msg, strlen(alternative_msg), true, 0);
    char *b = structure(crlf.data, crlf.len, true, 0);
    assert_string_equal(a, b);
    free(a);
    free(b);
    struct imap_message *m1 = imap_message_new(alternative_msg, strlen(alternative_msg));
    struct imap_message *m2 = imap_message_new(crlf.data, crlf.len);
    assert_int_equal(imap_message_size(m1), crlf.len);
    assert_int_equal(imap_message_size(m2), crlf.len);
    imap_message_free(m1);
    imap_message_free(m2);
    buf_free(&crlf);
}

static void test_attachment(void **state)
{
    check("Content-Type: multipart/mixed; boundary=mix\n"
          "\n"
          "--mix\n"
          "Content-Type: text/plain\n"
          "\n"
          "See attached.\n"
          "\n"
          "--mix\n"
          "Content-Type: application/pdf; name=\"report.pdf\"\n"
          "Content-Transfer-Encoding: base64\n"
          "Content-Disposition: attachment; filename=\"report.pdf\"; size=12\n"
          "Content-ID: <part2@x.test>\n"
          "Content-Description: Quarterly report\n"
          "Content-Language: en, de (German)\n"
          "Content-Location: http://x.test/\n"
          " report.pdf\n"
          "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
          "\n"
          "JVBERi0xLjQK\n"
          "--mix--\n",
          "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 15 1 NIL NIL NIL NIL)"
          "(\"application\" \"pdf\" (\"name\" \"report.pdf\") \"<part2@x.test>\" "
          "\"Quarterly report\" \"base64\" 12 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" "
          "(\"attachment\" (\"filename\" \"report.pdf\" \"size\" \"12\")) (\"en\" \"de\") "
          "\"http://x.test/report.pdf\") \"mixed\" (\"boundary\" \"mix\") NIL NIL NIL)");
    /* disposition and language of a multipart; a single language tag is a string */
    check("Content-Type: multipart/related; boundary=r; type=\"text/html\"\n"
          "Content-Disposition: inline\nContent-Language: fr\n\n"
          "--r\n\nx\n--r--\n",
          "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 1 NIL NIL NIL NIL) "
          "\"related\" (\"boundary\" \"r\" \"type\" \"text/html\") (\"inline\" NIL) \"fr\" NIL)");
}

static const char forwarded_msg[] =
    "From: a@x.test\n"
    "Subject: fwd\n"
    "Content-Type: multipart/mixed; boundary=outer\n"
    "\n"
    "--outer\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "see below\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "Content-Disposition: inline\n"
    "\n"
    "From: b@x.test\n"
    "To: c@x.test\n"
    "Subject: inner\n"
    "Content-Type: multipart/alternative; boundary=inner\n"
    "\n"
    "--inner\n"
    "Content-Type: text/plain\n"
    "\n"
    "inner text\n"
    "--inner\n"
    "Content-Type: text/html\n"
    "\n"
    "<b>inner</b>\n"
    "--inner--\n"
    "--outer--\n";

static void test_forwarded(void **state)
{
    check(forwarded_msg,
          "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 1 NIL NIL NIL NIL)"
          "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 209 "
          "(NIL \"inner\" ((NIL NIL \"b\" \"x.test\")) ((NIL NIL \"b\" \"x.test\")) "
          "((NIL NIL \"b\" \"x.test\")) ((NIL NIL \"c\" \"x.test\")) NIL NIL NIL NIL) "
          "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 1 NIL NIL NIL NIL)"
          "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 1 NIL NIL NIL NIL) "
          "\"alternative\" (\"boundary\" \"inner\") NIL NIL NIL) 14 NIL (\"inline\" NIL) NIL NIL) "
          "\"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)");
    /* a message that is itself message/rfc822 */
    check_flags("Content-Type: message/rfc822\n\nSubject: in\n\nx\n", false, 0,
                "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 18 (NIL \"in\" NIL NIL NIL NIL NIL "
                "NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1) "
                "3)");
}

static void test_message_global(void **state)
{
    const char *m = "Content-Type: message/global\n\nSubject: gr\xc3\xbc\xc3\x9f" "e\n\nx\n";
    check_flags(m, false, 0, "(\"message\" \"global\" NIL NIL NIL \"7bit\" 23)");
    check_flags(m, false, IMAP_FMT_MESSAGE_GLOBAL | IMAP_FMT_UTF8,
                "(\"message\" \"global\" NIL NIL NIL \"7bit\" 23 (NIL \"gr\xc3\xbc\xc3\x9f" "e\" "
                "NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") "
                "NIL NIL \"7bit\" 3 1) 3)");
}

static void test_defaults(void **state)
{
    check("Subject: no mime\n\nhello\n",
          "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1 NIL NIL NIL NIL)");
    check("", "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)");
    check("Content-Type: text\n\nx",
          "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 1 NIL NIL NIL NIL)");
    check("Content-Type: image/png\n\n\x89PNG",
          "(\"image\" \"png\" NIL NIL NIL \"7bit\" 4 NIL NIL NIL NIL)");
    /* multipart/digest: parts are message/rfc822 by default */
    check_flags("Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nbody\n"
                "--d--\n", false, 0,
                "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 20 (NIL \"one\" NIL NIL NIL NIL NIL "
                "NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1) "
                "3) \"digest\")");
}

static void test_malformed(void **state)
{
    const char *empty = "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)";
    /* a multipart without boundary, or without any delimiter line: one empty part */
    check_flags("Content-Type: multipart/mixed\n\nstuff\n", false, 0,
                "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")");
    check("Content-Type: multipart/mixed; boundary=q\n\nno delimiter\n",
          "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) "
          "\"mixed\" (\"boundary\" \"q\") NIL NIL NIL)");
    /* no closing delimiter: the last part runs to the end */
    check_flags("Content-Type: multipart/mixed; boundary=q\n\n--q\n\none\n--q\n\ntwo\n", false, 0,
                "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)"
                "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 1) \"mixed\")");
    /* an encoded message/rfc822 is not parsed: NIL envelope, empty body */
    struct buf want = BUF_INIT;
    buf_printf(&want, "(\"message\" \"rfc822\" NIL NIL NIL \"base64\" 10 "
                      "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) %s 1)", empty);
    check_flags("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
                "U3ViamVjdA", false, 0, want.data);
    buf_free(&want);
    /* junk in the type's parameters is skipped */
    check_flags("Content-Type: text/plain; ; =x; charset=\"utf-8\"; junk\n\nx\n", false, 0,
                "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 3 1)");
}

static void test_8bit_params(void **state)
{
    const char *m = "Content-Type: text/plain; name=\"f\xc3\xbcr.txt\"\n\nx";
    check_flags(m, false, 0,
                "(\"text\" \"plain\" (\"charset\" \"us-ascii\" \"name\" {8}\r\nf\xc3\xbcr.txt) "
                "NIL NIL \"7bit\" 1 1)");
    check_flags(m, false, IMAP_FMT_UTF8,
                "(\"text\" \"plain\" (\"charset\" \"us-ascii\" \"name\" \"f\xc3\xbcr.txt\") "
                "NIL NIL \"7bit\" 1 1)");
    check_flags("Content-Type: text/plain; name=\"a\\\"b\\\\c\"\n\nx", false, 0,
                "(\"text\" \"plain\" (\"charset\" \"us-ascii\" \"name\" \"a\\\"b\\\\c\") "
                "NIL NIL \"7bit\" 1 1)");
}

/* 50 MB in three parts with 1.6 million lines: sizes and lines right, in linear time. */
static void test_large(void **state)
{
    struct buf msg = BUF_INIT;
    buf_puts(&msg, "Content-Type: multipart/mixed; boundary=big\n\n");
    size_t lines = 0;
    for (int part = 0; part < 3; part++) {
        buf_puts(&msg, "--big\nContent-Type: text/plain\n\n");
        for (int i = 0; i < 1 << 19; i++, lines++)
            buf_puts(&msg, "0123456789012345678901234567890\n");
    }
    buf_puts(&msg, "--big--\n");
    clock_t t0 = clock();
    struct imap_message *m = imap_message_new(msg.data, msg.len);
    struct buf out = BUF_INIT;
    imap_bodystructure(m, 0, &out);
    assert_int_equal(imap_message_size(m), msg.len + lines + 3 * 3 + 3);
    imap_message_free(m);
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 20.0); /* quadratic: hours */
    /* each part: 2^19 lines of 33 CRLF octets, less the last CRLF (the delimiter's) */
    assert_non_null(strstr(out.data, "\"7bit\" 17301502 524288 NIL"));
    buf_free(&out);
    buf_free(&msg);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_rfc3501_example),
               cmocka_unit_test(test_alternative),
               cmocka_unit_test(test_attachment),
               cmocka_unit_test(test_forwarded),
               cmocka_unit_test(test_message_global),
               cmocka_unit_test(test_defaults),
               cmocka_unit_test(test_malformed),
               cmocka_unit_test(test_8bit_params),
               cmocka_unit_test(test_large))
