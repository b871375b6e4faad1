/* test_imap_envelope.c - tests of ENVELOPE (lib/proto/imap_struct.h): the RFC 3501 sec 8
 * example message; missing and empty fields; Sender and Reply-To defaulting to From (when
 * missing or holding no address); groups; routes; comments as names; the first of
 * repeated fields; folding; LF and CRLF alike; quoting of '"' and '\'; 8-bit headers as
 * literals, or quoted under IMAP_FMT_UTF8 when well-formed; NUL; encoded words left
 * encoded; a header without its empty line or last line end; a megabyte-long Subject. */
#include "unit_test.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "imap_struct.h"

static char *envelope_n(const char *msg, size_t len, unsigned flags)
{
    struct imap_message *m = imap_message_new(msg, len);
    struct buf out = BUF_INIT;
    imap_envelope(m, flags, &out);
    imap_message_free(m);
    buf_cstr(&out);
    return buf_steal(&out);
}

static void check_flags(const char *msg, unsigned flags, const char *want)
{
    char *got = envelope_n(msg, strlen(msg), flags);
    if (strcmp(got, want) != 0)
        fail_msg("\n got  %s\n want %s", got, want);
    free(got);
}

static void check(const char *msg, const char *want) { check_flags(msg, 0, want); }

/* RFC 3501 sec 8: the FETCH ENVELOPE of its sample message. The RFC's text has a space
 * between the two Cc addresses, which its grammar ("(" 1*address ")") does not: we follow
 * the grammar, as do the servers in use. */
static void test_rfc3501_example(void **state)
{
    check("Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\n"
          "From: Terry Gray <gray@cac.washington.edu>\n"
          "Subject: IMAP4rev1 WG mtg summary and minutes\n"
          "To: imap@cac.washington.edu\n"
          "cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\n"
          "Message-Id: <B27397-0100000@cac.washington.edu>\n"
          "MIME-Version: 1.0\n"
          "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\n"
          "\n"
          "body\n",
          "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" "
          "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
          "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
          "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
          "((NIL NIL \"imap\" \"cac.washington.edu\")) "
          "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")"
          "(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL "
          "\"<B27397-0100000@cac.washington.edu>\")");
}

static void test_missing_and_empty(void **state)
{
    check("X-Other: 1\n\nbody", "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
    check("", "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
    check("Subject:\nDate:   \nIn-Reply-To:\nMessage-ID: \n\n",
          "(\"\" \"\" NIL NIL NIL NIL NIL NIL \"\" \"\")");
    /* an address field without an address is NIL */
    check("To: \nCc: ,,\nFrom: (nobody)\n\n", "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
}

static void test_sender_reply_to(void **state)
{
    check("From: a@x.test\nSender: s@x.test\nReply-To: r@x.test\n\n",
          "(NIL NIL ((NIL NIL \"a\" \"x.test\")) ((NIL NIL \"s\" \"x.test\")) "
          "((NIL NIL \"r\" \"x.test\")) NIL NIL NIL NIL NIL)");
    check("From: a@x.test\nSender:\nReply-To: ;\n\n",
          "(NIL NIL ((NIL NIL \"a\" \"x.test\")) ((NIL NIL \"a\" \"x.test\")) "
          "((NIL NIL \"a\" \"x.test\")) NIL NIL NIL NIL NIL)");
    check("Sender: s@x.test\n\n",
          "(NIL NIL NIL ((NIL NIL \"s\" \"x.test\")) NIL NIL NIL NIL NIL NIL)");
}

static void test_addresses(void **state)
{
    check("To: undisclosed-recipients:;\n\n",
          "(NIL NIL NIL NIL NIL ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
          "NIL NIL NIL NIL)");
    check("Cc: a@x.test, Friends: b@x.test, \"C. D\" <c@x.test>;, e@x.test\n\n",
          "(NIL NIL NIL NIL NIL NIL ((NIL NIL \"a\" \"x.test\")(NIL NIL \"Friends\" NIL)"
          "(NIL NIL \"b\" \"x.test\")(\"C. D\" NIL \"c\" \"x.test\")(NIL NIL NIL NIL)"
          "(NIL NIL \"e\" \"x.test\")) NIL NIL NIL)");
    check("Bcc: <@relay.test:u@x.test>, u2@x.test (User Two), root\n\n",
          "(NIL NIL NIL NIL NIL NIL NIL ((NIL \"@relay.test\" \"u\" \"x.test\")"
          "(\"User Two\" NIL \"u2\" \"x.test\")(NIL NIL \"root\" \"\")) NIL NIL)");
    check("From: \"a \\\"q\\\" \\\\ b\" <\"x y\"@z.test>\n\n",
          "(NIL NIL ((\"a \\\"q\\\" \\\\ b\" NIL \"x y\" \"z.test\")) "
          "((\"a \\\"q\\\" \\\\ b\" NIL \"x y\" \"z.test\")) "
          "((\"a \\\"q\\\" \\\\ b\" NIL \"x y\" \"z.test\")) NIL NIL NIL NIL NIL)");
    /* RFC 2047 words stay encoded */
    check("From: =?utf-8?q?J=C3=B6rg?= <j@x.test>\n\n",
          "(NIL NIL ((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"x.test\")) "
          "((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"x.test\")) "
          "((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"x.test\")) NIL NIL NIL NIL NIL)");
}

static void test_folding_and_repeats(void **state)
{
    check("Subject: first\n  line\n\tand more  \nSubject: second\nIn-Reply-To:\n <a@b>\n\n",
          "(NIL \"first  line\tand more\" NIL NIL NIL NIL NIL NIL \"<a@b>\" NIL)");
    check("Subject: first\r\n  line\r\nTo: a@x.test,\r\n b@x.test\r\n\r\n",
          "(NIL \"first  line\" NIL NIL NIL ((NIL NIL \"a\" \"x.test\")(NIL NIL \"b\" \"x.test\")) "
          "NIL NIL NIL NIL)");
    /* obsolete white space before the colon */
    check("Subject : spaced\n\n", "(NIL \"spaced\" NIL NIL NIL NIL NIL NIL NIL NIL)");
    /* no empty line, no last line end */
    check("Subject: all header", "(NIL \"all header\" NIL NIL NIL NIL NIL NIL NIL NIL)");
    /* only the message's own header counts, not the body's */
    check("X: y\n\nSubject: in the body\n", "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
}

static void test_8bit_and_nul(void **state)
{
    const char *m = "Subject: Gr\xc3\xbc\xc3\x9f" "e\n\n";
    check(m, "(NIL {7}\r\nGr\xc3\xbc\xc3\x9f" "e NIL NIL NIL NIL NIL NIL NIL NIL)");
    check_flags(m, IMAP_FMT_UTF8, "(NIL \"Gr\xc3\xbc\xc3\x9f" "e\" NIL NIL NIL NIL NIL NIL NIL NIL)");
    /* not UTF-8: a literal even with IMAP_FMT_UTF8 */
    check_flags("Subject: caf\xe9\n\n", IMAP_FMT_UTF8,
                "(NIL {4}\r\ncaf\xe9 NIL NIL NIL NIL NIL NIL NIL NIL)");
    /* a bare CR: literal */
    check("Subject: a\rb\n\n", "(NIL {3}\r\na\rb NIL NIL NIL NIL NIL NIL NIL NIL)");
    /* NUL is written as 0x80, in a literal */
    static const char nul[] = "Subject: a\0b\n\n";
    char *got = envelope_n(nul, sizeof nul - 1, IMAP_FMT_UTF8);
    assert_memory_equal(got, "(NIL {3}\r\na\x80" "b NIL", 17);
    free(got);
}

/* A 1 MB folded Subject and 100000 recipients: linear, and all of it. */
static void test_long_header(void **state)
{
    struct buf msg = BUF_INIT;
    buf_puts(&msg, "Subject:");
    for (int i = 0; i < 1 << 17; i++)
        buf_puts(&msg, " abcdef\n");
    buf_puts(&msg, "To: ");
    for (int i = 0; i < 100000; i++)
        buf_printf(&msg, "%su%d@x.test", i ? ",\n " : "", i);
    buf_puts(&msg, "\n\nbody\n");
    clock_t t0 = clock();
    char *got = envelope_n(msg.data, msg.len, 0);
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 10.0); /* quadratic: hours */
    assert_true(strncmp(got, "(NIL \"abcdef abcdef", 19) == 0);
    assert_non_null(strstr(got, "(NIL NIL \"u99999\" \"x.test\")) NIL NIL NIL NIL)"));
    size_t hosts = 0;
    for (const char *p = got; *p; p++) /* not strstr: quadratic under ASan */
        hosts += strncmp(p, "\"x.test\")", 9) == 0;
    assert_int_equal(hosts, 100000);
    const char *subject_end = strstr(got, "\" NIL NIL NIL ((NIL NIL \"u0\"");
    assert_non_null(subject_end);
    assert_int_equal(subject_end - (got + 6), 7 * (1 << 17) - 1);
    free(got);
    buf_free(&msg);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_rfc3501_example),
               cmocka_unit_test(test_missing_and_empty),
               cmocka_unit_test(test_sender_reply_to),
               cmocka_unit_test(test_addresses),
               cmocka_unit_test(test_folding_and_repeats),
               cmocka_unit_test(test_8bit_and_nul),
               cmocka_unit_test(test_long_header))
