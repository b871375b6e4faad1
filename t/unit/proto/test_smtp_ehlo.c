/* test_smtp_ehlo.c - lib/proto/smtp_ehlo: the keywords of EHLO replies as real servers send
 * them (Postfix, Exim, a provider's smart host), case, the old "AUTH=" form, SIZE with and
 * without a value or with garbage, unknown keywords, keywords as prefixes of others, the
 * server name of the first line, and over-long AUTH lists cut safely. */
#include "unit_test.h"
#include <stdio.h>
#include <string.h>

#include "smtp_ehlo.h"

static void parse_lines(const char *lines, struct smtp_ehlo *e)
{
    struct smtp_reply r;
    const char *err = NULL, *p = lines;
    smtp_reply_init(&r);
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        enum smtp_reply_step st = smtp_reply_feed(&r, p, len, &err);
        assert_int_not_equal(st, SMTP_REPLY_ERROR);
        if (!bar)
            break;
        p = bar + 1;
    }
    smtp_ehlo_parse(&r, e);
}

static void test_postfix_reply(void **state)
{
    struct smtp_ehlo e;
    parse_lines("250-mx.example.net|250-PIPELINING|250-SIZE 10240000|250-VRFY|250-ETRN|"
                "250-STARTTLS|250-ENHANCEDSTATUSCODES|250-8BITMIME|250-DSN|250-SMTPUTF8|"
                "250 CHUNKING", &e);
    assert_string_equal(e.host, "mx.example.net");
    assert_int_equal(e.ext, SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_STARTTLS |
                                SMTP_EXT_ENHANCEDSTATUSCODES | SMTP_EXT_8BITMIME | SMTP_EXT_DSN |
                                SMTP_EXT_SMTPUTF8 | SMTP_EXT_CHUNKING);
    assert_true(e.size == 10240000ULL);
    assert_string_equal(e.auth, "");
}

static void test_auth_forms_and_case(void **state)
{
    struct smtp_ehlo e;
    parse_lines("250-smtp.provider.example Hello [192.0.2.1]|250-auth LOGIN PLAIN|"
                "250-AUTH=LOGIN PLAIN|250-size|250 pipelining", &e);
    assert_string_equal(e.host, "smtp.provider.example");
    assert_int_equal(e.ext, SMTP_EXT_AUTH | SMTP_EXT_SIZE | SMTP_EXT_PIPELINING);
    assert_true(e.size == 0); /* SIZE without a value: no limit announced */
    assert_string_equal(e.auth, "LOGIN PLAIN LOGIN PLAIN");
}

static void test_odd_keywords(void **state)
{
    struct smtp_ehlo e;
    /* prefixes and extensions of known keywords are other keywords; SIZE with garbage or
     * an overflowing value announces no limit; "X=Y" forms other than AUTH are ignored */
    parse_lines("250-host|250-PIPELININGX|250-8BITMIMEY|250-SIZE 12abc|250-DSN=1|"
                "250-XDSN|250-SMTPUTF|250 SIZE 99999999999999999999999", &e);
    assert_int_equal(e.ext, SMTP_EXT_SIZE);
    assert_true(e.size == 0);
    parse_lines("250 only.the.name", &e);
    assert_int_equal(e.ext, 0);
    assert_string_equal(e.host, "only.the.name");
    parse_lines("250", &e);
    assert_string_equal(e.host, "");
}

static void test_long_auth_list_is_cut(void **state)
{
    char lines[900];
    struct smtp_ehlo e;
    snprintf(lines, sizeof lines, "250-h|250-AUTH %0*d|250 AUTH PLAIN", 400, 7);
    parse_lines(lines, &e);
    assert_true(strlen(e.auth) < sizeof e.auth);
    assert_string_equal(e.auth, "PLAIN"); /* the over-long list did not fit, the next did */
    char host[600];
    memset(host, 'h', sizeof host - 1);
    host[sizeof host - 1] = 0;
    snprintf(lines, sizeof lines, "220 %s ESMTP", host);
    parse_lines(lines, &e);
    assert_int_equal(strlen(e.host), SMTP_EHLO_HOST_MAX - 1);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_postfix_reply), cmocka_unit_test(test_auth_forms_and_case),
               cmocka_unit_test(test_odd_keywords), cmocka_unit_test(test_long_auth_list_is_cut))
