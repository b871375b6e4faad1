/* test_pop3_proto.c - table-driven tests of the POP3 wire code (lib/proto/pop3_proto): the
 * command parser (RFC 1939, RFC 2449, RFC 5034 arguments and limits), the refusal replies,
 * and the RETR/TOP output filter, which must give the same bytes however its input is
 * split. */
#include "unit_test.h"
#include <stdlib.h>
#include <string.h>

#include "pop3_proto.h"

static void test_commands(void **state)
{
    static const struct {
        const char *line;
        enum pop3_parse result;
        enum pop3_cmd cmd;
        unsigned nnum;
        uint32_t n0, n1;
        const char *arg, *arg2;
    } t[] = {
        {"USER alice@example.test", POP3_PARSE_OK, POP3_USER, 0, 0, 0, "alice@example.test", NULL},
        {"user  bob ", POP3_PARSE_OK, POP3_USER, 0, 0, 0, "bob", NULL},
        {"USER", POP3_PARSE_SYNTAX, POP3_USER, 0, 0, 0, NULL, NULL},
        {"USER a b", POP3_PARSE_SYNTAX, POP3_USER, 0, 0, 0, NULL, NULL},
        {"PASS secret with spaces ", POP3_PARSE_OK, POP3_PASS, 0, 0, 0, "secret with spaces ", NULL},
        {"PASS", POP3_PARSE_SYNTAX, POP3_PASS, 0, 0, 0, NULL, NULL},
        {"AUTH", POP3_PARSE_OK, POP3_AUTH, 0, 0, 0, NULL, NULL},
        {"AUTH PLAIN", POP3_PARSE_OK, POP3_AUTH, 0, 0, 0, "PLAIN", NULL},
        {"auth plain AGEAYg==", POP3_PARSE_OK, POP3_AUTH, 0, 0, 0, "plain", "AGEAYg=="},
        {"AUTH PLAIN a b", POP3_PARSE_SYNTAX, POP3_AUTH, 0, 0, 0, NULL, NULL},
        {"STAT", POP3_PARSE_OK, POP3_STAT, 0, 0, 0, NULL, NULL},
        {"STAT 1", POP3_PARSE_SYNTAX, POP3_STAT, 0, 0, 0, NULL, NULL},
        {"LIST", POP3_PARSE_OK, POP3_LIST, 0, 0, 0, NULL, NULL},
        {"list 12", POP3_PARSE_OK, POP3_LIST, 1, 12, 0, NULL, NULL},
        {"LIST 1 2", POP3_PARSE_SYNTAX, POP3_LIST, 0, 0, 0, NULL, NULL},
        {"LIST -1", POP3_PARSE_SYNTAX, POP3_LIST, 0, 0, 0, NULL, NULL},
        {"LIST +1", POP3_PARSE_SYNTAX, POP3_LIST, 0, 0, 0, NULL, NULL},
        {"LIST 4294967295", POP3_PARSE_OK, POP3_LIST, 1, 4294967295u, 0, NULL, NULL},
        {"LIST 4294967296", POP3_PARSE_SYNTAX, POP3_LIST, 0, 0, 0, NULL, NULL},
        {"LIST 00000000001", POP3_PARSE_SYNTAX, POP3_LIST, 0, 0, 0, NULL, NULL},
        {"RETR 0", POP3_PARSE_OK, POP3_RETR, 1, 0, 0, NULL, NULL},
        {"RETR", POP3_PARSE_SYNTAX, POP3_RETR, 0, 0, 0, NULL, NULL},
        {"RETR x", POP3_PARSE_SYNTAX, POP3_RETR, 0, 0, 0, NULL, NULL},
        {"DELE 3", POP3_PARSE_OK, POP3_DELE, 1, 3, 0, NULL, NULL},
        {"TOP 1 0", POP3_PARSE_OK, POP3_TOP, 2, 1, 0, NULL, NULL},
        {"TOP 1", POP3_PARSE_SYNTAX, POP3_TOP, 0, 0, 0, NULL, NULL},
        {"TOP 1 2 3", POP3_PARSE_SYNTAX, POP3_TOP, 0, 0, 0, NULL, NULL},
        {"UIDL 7", POP3_PARSE_OK, POP3_UIDL, 1, 7, 0, NULL, NULL},
        {"NOOP", POP3_PARSE_OK, POP3_NOOP, 0, 0, 0, NULL, NULL},
        {"RSET", POP3_PARSE_OK, POP3_RSET, 0, 0, 0, NULL, NULL},
        {"QUIT", POP3_PARSE_OK, POP3_QUIT, 0, 0, 0, NULL, NULL},
        {"CAPA", POP3_PARSE_OK, POP3_CAPA, 0, 0, 0, NULL, NULL},
        {"STLS", POP3_PARSE_OK, POP3_STLS, 0, 0, 0, NULL, NULL},
        {"APOP a 0123456789abcdef", POP3_PARSE_OK, POP3_APOP, 0, 0, 0, "a", NULL},
        {"", POP3_PARSE_UNKNOWN, POP3_UNKNOWN, 0, 0, 0, NULL, NULL},
        {" STAT", POP3_PARSE_UNKNOWN, POP3_UNKNOWN, 0, 0, 0, NULL, NULL},
        {"STATX", POP3_PARSE_UNKNOWN, POP3_UNKNOWN, 0, 0, 0, NULL, NULL},
        {"LAST", POP3_PARSE_UNKNOWN, POP3_UNKNOWN, 0, 0, 0, NULL, NULL},
        {"GET / HTTP/1.0", POP3_PARSE_UNKNOWN, POP3_UNKNOWN, 0, 0, 0, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char line[128];
        strcpy(line, t[i].line);
        struct pop3_command c;
        const char *err;
        enum pop3_parse r = pop3_parse(line, strlen(line), &c, &err);
        if (r != t[i].result || c.cmd != t[i].cmd)
            fail_msg("\"%s\": result %d cmd %d", t[i].line, r, c.cmd);
        if (r != POP3_PARSE_OK)
            continue;
        assert_int_equal(c.nnum, t[i].nnum);
        if (c.nnum > 0)
            assert_int_equal(c.num[0], t[i].n0);
        if (c.nnum > 1)
            assert_int_equal(c.num[1], t[i].n1);
        if (t[i].arg)
            assert_string_equal(c.arg, t[i].arg);
        else
            assert_null(c.arg);
        if (t[i].arg2)
            assert_string_equal(c.arg2, t[i].arg2);
        else
            assert_null(c.arg2);
    }
    char nul[] = "USER a\0b";
    struct pop3_command c;
    const char *err;
    assert_int_equal(pop3_parse(nul, 8, &c, &err), POP3_PARSE_SYNTAX);
    char bad[] = "PASS";
    assert_int_equal(pop3_parse(bad, 4, &c, &err), POP3_PARSE_SYNTAX);
    assert_null(c.arg); /* nothing half-parsed survives an error */
}

/* Run the filter over in, split into chunks of every size from 1 to 7 bytes. */
static void check_filter(const char *in, long long top, const char *want)
{
    for (size_t step = 1; step <= 8; step++) {
        struct pop3_filter f;
        struct buf out = BUF_INIT;
        pop3_filter_init(&f, top);
        size_t len = strlen(in);
        for (size_t off = 0; off < len && !pop3_filter_done(&f); off += step)
            pop3_filter_chunk(&f, in + off, len - off < step ? len - off : step, &out);
        pop3_filter_end(&f, &out);
        if (strcmp(buf_cstr(&out), want) != 0)
            fail_msg("step %zu top %lld: \"%s\" -> \"%s\", want \"%s\"", step, top, in,
                     buf_cstr(&out), want);
        buf_free(&out);
    }
}

static void test_filter(void **state)
{
    check_filter("", -1, ".\r\n");
    check_filter("a\nb\n", -1, "a\r\nb\r\n.\r\n");
    check_filter("a\r\nb\n", -1, "a\r\nb\r\n.\r\n");
    check_filter("no newline", -1, "no newline\r\n.\r\n");
    check_filter(".\n..\n.x\nx.\n", -1, "..\r\n...\r\n..x\r\nx.\r\n.\r\n");
    check_filter("lone\rcr\n", -1, "lone\rcr\r\n.\r\n");
    check_filter(".", -1, "..\r\n.\r\n");
    const char *msg = "A: 1\nB: 2\n\nl1\n.l2\nl3\n";
    check_filter(msg, 0, "A: 1\r\nB: 2\r\n\r\n.\r\n");
    check_filter(msg, 1, "A: 1\r\nB: 2\r\n\r\nl1\r\n.\r\n");
    check_filter(msg, 2, "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n.\r\n");
    check_filter(msg, 99, "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n");
    check_filter("A: 1\r\n\r\nbody\r\n", 0, "A: 1\r\n\r\n.\r\n");
    check_filter("only: header\n", 0, "only: header\r\n.\r\n");
    check_filter("\nbody\nmore\n", 1, "\r\nbody\r\n.\r\n");
}

static void test_parse_reply(void **state)
{
    (void)state;
    char out[64] = "untouched";
    assert_false(pop3_parse_reply(POP3_PARSE_OK, NULL, out, sizeof out));
    assert_string_equal(out, "untouched");
    assert_true(pop3_parse_reply(POP3_PARSE_UNKNOWN, NULL, out, sizeof out));
    assert_string_equal(out, "-ERR Unknown command.");
    assert_true(pop3_parse_reply(POP3_PARSE_SYNTAX, "Bad message number", out, sizeof out));
    assert_string_equal(out, "-ERR Bad message number.");
    char small[8];
    assert_true(pop3_parse_reply(POP3_PARSE_SYNTAX, "a long reason", small, sizeof small));
    assert_int_equal(strlen(small), sizeof small - 1); /* cut, still terminated */
}

UNIT_TEST_MAIN(cmocka_unit_test(test_commands),
               cmocka_unit_test(test_filter),
               cmocka_unit_test(test_parse_reply))
