/* test_smtp_reply.c - table-driven tests of lib/proto/smtp_reply: single and multi-line
 * replies, enhanced status codes (present, absent, wrong class, repeated on every line),
 * code-only lines, control bytes in the text, and malformed replies (bad codes, changing
 * codes, missing separators, over-long lines, too many lines, lines after the end). */
#include "unit_test.h"
#include <stdio.h>
#include <string.h>

#include "smtp_reply.h"

struct reply_case {
    const char *lines; /* lines separated by '|' */
    enum smtp_reply_step step; /* result of the last line fed */
    int code;
    const char *status;
    const char *text;
    const char *err; /* expected error substring */
};

/* Feed the '|'-separated lines (even after DONE); stop at the first error. */
static enum smtp_reply_step feed_all(struct smtp_reply *r, const char *lines, const char **err)
{
    enum smtp_reply_step st = SMTP_REPLY_MORE;
    const char *p = lines;
    smtp_reply_init(r);
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        st = smtp_reply_feed(r, p, len, err);
        if (st == SMTP_REPLY_ERROR || !bar)
            return st;
        p = bar + 1;
    }
}

static void test_replies(void **state)
{
    static const struct reply_case t[] = {
        {"220 mx.example ESMTP ready", SMTP_REPLY_DONE, 220, "", "mx.example ESMTP ready", NULL},
        {"250 2.1.0 Ok", SMTP_REPLY_DONE, 250, "2.1.0", "Ok", NULL},
        {"550 5.1.1 <x@y>: User unknown", SMTP_REPLY_DONE, 550, "5.1.1", "<x@y>: User unknown", NULL},
        {"250-mx.example|250-PIPELINING|250-SIZE 10240000|250 STARTTLS", SMTP_REPLY_DONE, 250,
         "", "mx.example\nPIPELINING\nSIZE 10240000\nSTARTTLS", NULL},
        {"550-5.7.1 first|550-5.7.1 second|550 5.7.1 third", SMTP_REPLY_DONE, 550, "5.7.1",
         "first\nsecond\nthird", NULL},
        {"550-5.7.1 first|550 other", SMTP_REPLY_DONE, 550, "5.7.1", "first\nother", NULL},
        {"451 4.3.0 ", SMTP_REPLY_DONE, 451, "4.3.0", "", NULL},
        {"451 4.3.0", SMTP_REPLY_DONE, 451, "4.3.0", "", NULL},
        {"421 4.123.456 busy", SMTP_REPLY_DONE, 421, "4.123.456", "busy", NULL},
        {"250 5.1.1 wrong class", SMTP_REPLY_DONE, 250, "", "5.1.1 wrong class", NULL},
        {"250 2.0 not a status", SMTP_REPLY_DONE, 250, "", "2.0 not a status", NULL},
        {"250 2.0.1234 too long detail", SMTP_REPLY_DONE, 250, "", "2.0.1234 too long detail", NULL},
        {"250 2.0.0x glued", SMTP_REPLY_DONE, 250, "", "2.0.0x glued", NULL},
        {"354 End data with <CR><LF>.<CR><LF>", SMTP_REPLY_DONE, 354, "",
         "End data with <CR><LF>.<CR><LF>", NULL},
        {"250", SMTP_REPLY_DONE, 250, "", "", NULL},
        {"250-|250 ", SMTP_REPLY_DONE, 250, "", "\n", NULL},
        {"250  two spaces", SMTP_REPLY_DONE, 250, "", " two spaces", NULL},
        {"250 tab\there\x01\x7f", SMTP_REPLY_DONE, 250, "", "tab\there??", NULL},
        {"250-first", SMTP_REPLY_MORE, 250, "", "first", NULL},
        /* malformed */
        {"", SMTP_REPLY_ERROR, 0, "", "", "malformed reply code"},
        {"25", SMTP_REPLY_ERROR, 0, "", "", "malformed reply code"},
        {"2500 x", SMTP_REPLY_ERROR, 0, "", "", "no space or hyphen"},
        {"abc text", SMTP_REPLY_ERROR, 0, "", "", "malformed reply code"},
        {"150 below 2xx", SMTP_REPLY_ERROR, 0, "", "", "malformed reply code"},
        {"650 above 5xx", SMTP_REPLY_ERROR, 0, "", "", "malformed reply code"},
        {"260 second digit", SMTP_REPLY_ERROR, 0, "", "", "malformed reply code"},
        {" 250 leading space", SMTP_REPLY_ERROR, 0, "", "", "malformed reply code"},
        {"250_x", SMTP_REPLY_ERROR, 0, "", "", "no space or hyphen"},
        {"250-a|251 b", SMTP_REPLY_ERROR, 250, "", "a", "code changes"},
        {"250-a|250", SMTP_REPLY_DONE, 250, "", "a\n", NULL},
        {"250-a|garbage", SMTP_REPLY_ERROR, 250, "", "a", "malformed reply code"},
        {"250 a|250 b", SMTP_REPLY_ERROR, 250, "", "a", "after the end"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct smtp_reply r;
        const char *err = NULL;
        enum smtp_reply_step st = feed_all(&r, t[i].lines, &err);
        if (st != t[i].step || r.code != t[i].code || strcmp(r.status, t[i].status) != 0 ||
            strcmp(r.text, t[i].text) != 0 || r.text_len != strlen(r.text) ||
            (t[i].err && (!err || !strstr(err, t[i].err))) || (!t[i].err && err))
            fail_msg("case %zu \"%s\": step %d code %d status \"%s\" text \"%s\" err %s", i,
                     t[i].lines, (int)st, r.code, r.status, r.text, err ? err : "-");
    }
}

static void test_line_bounds(void **state)
{
    char line[SMTP_REPLY_LINE_MAX + 2];
    memset(line, 'x', sizeof line);
    memcpy(line, "250 ", 4);
    struct smtp_reply r;
    const char *err;
    smtp_reply_init(&r);
    assert_int_equal(smtp_reply_feed(&r, line, SMTP_REPLY_LINE_MAX, &err), SMTP_REPLY_DONE);
    assert_int_equal(r.text_len, SMTP_REPLY_LINE_MAX - 4);
    smtp_reply_init(&r);
    assert_int_equal(smtp_reply_feed(&r, line, SMTP_REPLY_LINE_MAX + 1, &err), SMTP_REPLY_ERROR);
    assert_non_null(strstr(err, "too long"));
}

static void test_line_count_and_truncation(void **state)
{
    struct smtp_reply r;
    const char *err;
    char line[SMTP_REPLY_LINE_MAX];
    memset(line, 'y', sizeof line);
    memcpy(line, "250-", 4);
    smtp_reply_init(&r);
    for (unsigned i = 0; i < SMTP_REPLY_LINES_MAX; i++)
        assert_int_equal(smtp_reply_feed(&r, line, sizeof line, &err), SMTP_REPLY_MORE);
    assert_true(r.truncated);
    assert_int_equal(r.text_len, SMTP_REPLY_TEXT_MAX - 1);
    assert_int_equal(strlen(r.text), r.text_len);
    assert_int_equal(smtp_reply_feed(&r, "250 end", 7, &err), SMTP_REPLY_ERROR);
    assert_non_null(strstr(err, "too many"));

    /* the limit itself is allowed */
    smtp_reply_init(&r);
    for (unsigned i = 0; i + 1 < SMTP_REPLY_LINES_MAX; i++)
        assert_int_equal(smtp_reply_feed(&r, "250-x", 5, &err), SMTP_REPLY_MORE);
    assert_int_equal(smtp_reply_feed(&r, "250 end", 7, &err), SMTP_REPLY_DONE);
    assert_false(r.truncated);
    assert_int_equal(r.lines, SMTP_REPLY_LINES_MAX);
}

static void test_not_nul_terminated(void **state)
{
    /* the parser must use len, not a terminator: "250 ok" followed by junk */
    const char buf[] = {'2', '5', '0', ' ', 'o', 'k', '\0', 'j', 'u', 'n', 'k'};
    struct smtp_reply r;
    const char *err;
    smtp_reply_init(&r);
    assert_int_equal(smtp_reply_feed(&r, buf, 6, &err), SMTP_REPLY_DONE);
    assert_string_equal(r.text, "ok");
    smtp_reply_init(&r);
    assert_int_equal(smtp_reply_feed(&r, buf, sizeof buf, &err), SMTP_REPLY_DONE);
    assert_string_equal(r.text, "ok?junk");
}

static void test_status_parse(void **state)
{
    static const struct {
        const char *s;
        size_t len;
    } t[] = {
        {"2.0.0", 5}, {"5.1.1 x", 5}, {"4.999.999 y", 9}, {"3.0.0", 0}, {"2.0.", 0},
        {"2..0", 0}, {"2.0.0.0", 0}, {"22.0.0", 0}, {"2.0000.0", 0}, {"", 0}, {"2.1.10", 6},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (smtp_status_parse(t[i].s, strlen(t[i].s)) != t[i].len)
            fail_msg("status \"%s\"", t[i].s);
}

static void test_describe(void **state)
{
    struct smtp_reply r;
    const char *err;
    char out[64];
    smtp_reply_init(&r);
    smtp_reply_feed(&r, "550-5.7.1 one", 13, &err);
    smtp_reply_feed(&r, "550 5.7.1 two", 13, &err);
    smtp_reply_describe(&r, out, sizeof out);
    assert_string_equal(out, "550 5.7.1 one / two");
    smtp_reply_describe(&r, out, 8);
    assert_string_equal(out, "550 5.7");
    smtp_reply_init(&r);
    smtp_reply_feed(&r, "250", 3, &err);
    smtp_reply_describe(&r, out, sizeof out);
    assert_string_equal(out, "250");
    assert_int_equal(smtp_reply_class(&r), 2);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_replies),
               cmocka_unit_test(test_line_bounds),
               cmocka_unit_test(test_line_count_and_truncation),
               cmocka_unit_test(test_not_nul_terminated),
               cmocka_unit_test(test_status_parse),
               cmocka_unit_test(test_describe))
