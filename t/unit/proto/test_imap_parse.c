/* test_imap_parse.c - the IMAP command tokenizer, literal announcements and sequence sets
 * (lib/proto/imap_parse.h): the shapes real clients send, literals of every kind, the
 * errors a hostile client can provoke, and sequence-set resolution. */
#include "unit_test.h"
#include <string.h>

#include "imap_parse.h"
#include "imap_utf7.h"
#include <stdlib.h>

static struct imap_command cmd;

static enum imap_parse_result tok(const char *s, const char **err)
{
    imap_command_free(&cmd);
    return imap_tokenize(s, strlen(s), &cmd, err);
}

static void test_simple_commands(void **state)
{
    const char *err;
    assert_int_equal(tok("a1 NOOP\r\n", &err), IMAP_PARSE_OK);
    assert_string_equal(cmd.tag, "a1");
    assert_string_equal(cmd.name, "NOOP");
    assert_int_equal(cmd.nargs, 0);
    assert_int_equal(tok("A003 login alice \"se\\\"cret\"\r\n", &err), IMAP_PARSE_OK);
    assert_string_equal(cmd.name, "LOGIN");
    assert_int_equal(cmd.nargs, 2);
    assert_int_equal(cmd.args[0].type, IMAP_ARG_ATOM);
    assert_string_equal(cmd.args[0].str, "alice");
    assert_int_equal(cmd.args[1].type, IMAP_ARG_QUOTED);
    assert_string_equal(cmd.args[1].str, "se\"cret");
    assert_int_equal(tok("x uid fetch 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>)", &err),
                     IMAP_PARSE_OK);
    assert_string_equal(cmd.name, "UID FETCH");
    assert_int_equal(cmd.nargs, 2);
    assert_int_equal(cmd.args[1].type, IMAP_ARG_LIST);
    assert_int_equal(cmd.args[1].n, 2);
    assert_string_equal(cmd.args[1].list[1].str, "BODY.PEEK[HEADER.FIELDS (From To)]<0.100>");
    assert_int_equal(tok("t SELECT nil\r\n", &err), IMAP_PARSE_OK);
    assert_int_equal(cmd.args[0].type, IMAP_ARG_NIL);
    assert_int_equal(tok("t STORE 1 +FLAGS (\\Seen \\Deleted)\r\n", &err), IMAP_PARSE_OK);
    assert_int_equal(cmd.args[2].n, 2);
    assert_string_equal(cmd.args[2].list[0].str, "\\Seen");
    assert_int_equal(tok("t LIST \"\" %\r\n", &err), IMAP_PARSE_OK);
    assert_int_equal(cmd.args[0].len, 0);
    assert_string_equal(cmd.args[1].str, "%");
    assert_int_equal(tok("t SEARCH (OR (SEEN) (FLAGGED)) \r\n", &err), IMAP_PARSE_OK);
    assert_int_equal(cmd.nargs, 1);
    assert_int_equal(tok("t x()\r\n", &err), IMAP_PARSE_BAD);
}

static void test_literals(void **state)
{
    const char *err;
    static const char append[] = "a APPEND INBOX (\\Seen) {12}\r\nHello\r\nWorld\r\n";
    assert_int_equal(tok(append, &err), IMAP_PARSE_OK);
    assert_int_equal(cmd.nargs, 3);
    assert_int_equal(cmd.args[2].type, IMAP_ARG_LITERAL);
    assert_int_equal(cmd.args[2].len, 12);
    assert_memory_equal(cmd.args[2].str, "Hello\r\nWorld", 12);
    static const char login[] = "a LOGIN {5+}\r\nalice {3}\r\na b\r\n";
    assert_int_equal(tok(login, &err), IMAP_PARSE_OK);
    assert_string_equal(cmd.args[0].str, "alice");
    assert_string_equal(cmd.args[1].str, "a b");
    /* A literal with a NUL, and a literal8. */
    static const char bin[] = "a APPEND x ~{3}\r\na\0b\r\n";
    imap_command_free(&cmd);
    assert_int_equal(imap_tokenize(bin, sizeof bin - 1, &cmd, &err), IMAP_PARSE_OK);
    assert_true(cmd.args[1].literal8);
    assert_int_equal(cmd.args[1].len, 3);
    assert_int_equal(cmd.args[1].str[1], 0);
    /* Shorter than announced: an error, never an overread. */
    assert_int_equal(tok("a APPEND x {100}\r\nshort\r\n", &err), IMAP_PARSE_BAD);
    assert_int_equal(tok("a APPEND x {99999999999999999999}\r\n", &err), IMAP_PARSE_BAD);
    assert_int_equal(tok("a APPEND x {5}abc\r\n", &err), IMAP_PARSE_BAD);
}

static void test_announcements(void **state)
{
    struct imap_literal l;
    assert_int_equal(imap_literal_announced("a LOGIN {5}", 11, &l), 1);
    assert_int_equal(l.size, 5);
    assert_false(l.nonsync);
    assert_int_equal(imap_literal_announced("a LOGIN {5+}", 12, &l), 1);
    assert_true(l.nonsync);
    assert_int_equal(imap_literal_announced("a APPEND x ~{12}", 16, &l), 1);
    assert_true(l.binary);
    assert_int_equal(imap_literal_announced("a NOOP", 6, &l), 0);
    assert_int_equal(imap_literal_announced("a x {}", 6, &l), -1);
    assert_int_equal(imap_literal_announced("a x {12345678901234567890}", 26, &l), -1);
}

static void test_errors(void **state)
{
    const char *err;
    assert_int_equal(tok("\r\n", &err), IMAP_PARSE_NO_TAG);
    assert_int_equal(tok("* NOOP\r\n", &err), IMAP_PARSE_NO_TAG);
    assert_int_equal(tok("+ NOOP\r\n", &err), IMAP_PARSE_NO_TAG);
    assert_int_equal(tok("a\r\n", &err), IMAP_PARSE_BAD);
    assert_string_equal(cmd.tag, "a");
    assert_int_equal(tok("a LOGIN \"x\ny\"\r\n", &err), IMAP_PARSE_BAD);
    assert_int_equal(tok("a LOGIN \"x\\ny\"\r\n", &err), IMAP_PARSE_BAD);
    assert_int_equal(tok("a SEARCH (((\r\n", &err), IMAP_PARSE_BAD);
    assert_int_equal(tok("a SEARCH ))\r\n", &err), IMAP_PARSE_BAD);
    /* A '[' without its ']' is an atom character (mailbox names may hold one). */
    assert_int_equal(tok("a SELECT x[y\r\n", &err), IMAP_PARSE_OK);
    assert_string_equal(cmd.args[0].str, "x[y");
    assert_int_equal(tok("a NOOP\r\nextra", &err), IMAP_PARSE_BAD);
    char deep[200] = "a SEARCH ";
    for (int i = 0; i < 40; i++)
        strcat(deep, "(");
    assert_int_equal(tok(deep, &err), IMAP_PARSE_BAD);
    assert_string_equal(err, "Lists nested too deeply");
}

static void test_seqsets(void **state)
{
    struct imap_seqset s;
    assert_true(imap_seqset_parse("1,3:5,*,9:7", 100, &s));
    assert_int_equal(s.n, 4);
    imap_seqset_resolve(&s, 20);
    assert_int_equal(s.n, 4); /* 1, 3:5, 7:9, 20 */
    assert_true(imap_seqset_contains(&s, 1));
    assert_false(imap_seqset_contains(&s, 2));
    assert_true(imap_seqset_contains(&s, 8));
    assert_false(imap_seqset_contains(&s, 6));
    assert_true(imap_seqset_contains(&s, 20));
    assert_false(imap_seqset_contains(&s, 10));
    imap_seqset_free(&s);
    assert_true(imap_seqset_parse("5:*", 100, &s));
    imap_seqset_resolve(&s, 3); /* 3:5 */
    assert_true(imap_seqset_contains(&s, 3) && imap_seqset_contains(&s, 5));
    imap_seqset_free(&s);
    assert_true(imap_seqset_parse("$", 100, &s));
    assert_true(s.last_result);
    assert_false(imap_seqset_parse("0", 100, &s));
    assert_false(imap_seqset_parse("1,", 100, &s));
    assert_false(imap_seqset_parse("1:2:3", 100, &s));
    assert_false(imap_seqset_parse("4294967296", 100, &s));
    assert_false(imap_seqset_parse("1,2,3", 2, &s));
}

static void test_numbers(void **state)
{
    const char *err;
    uint32_t n;
    uint64_t m;
    assert_int_equal(tok("a X 4294967295 4294967296 0 9223372036854775807", &err), IMAP_PARSE_OK);
    assert_true(imap_arg_number(&cmd.args[0], &n, true) && n == UINT32_MAX);
    assert_false(imap_arg_number(&cmd.args[1], &n, false));
    assert_false(imap_arg_number(&cmd.args[2], &n, true));
    assert_true(imap_arg_number(&cmd.args[2], &n, false));
    assert_true(imap_arg_number64(&cmd.args[3], &m));
    imap_command_free(&cmd);
}

static void test_mutf7(void **state)
{
    static const struct {
        const char *utf8, *mutf7;
    } t[] = {
        {"Entw\xc3\xbcrfe", "Entw&APw-rfe"},        /* RFC 3501 sec 5.1.3 style */
        {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "&ZeVnLIqe-"},
        {"A&B", "A&-B"},
        {"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
         "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},        /* the RFC's example */
        {"\xf0\x9f\x93\xa7", "&2D3c5w-"},          /* outside the BMP: a surrogate pair */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char *m = imap_utf8_to_mutf7(t[i].utf8, strlen(t[i].utf8));
        assert_non_null(m);
        assert_string_equal(m, t[i].mutf7);
        char *u = imap_mutf7_to_utf8(m);
        assert_non_null(u);
        assert_string_equal(u, t[i].utf8);
        free(m);
        free(u);
    }
    static const char *const bad[] = {"&", "&Jjo", "&AGE-", "&Jjo-&Jjo-", "&2D0-", "a\x01", "&AAA-", "\xc3\xbc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_null(imap_mutf7_to_utf8(bad[i]));
    assert_null(imap_utf8_to_mutf7("a\tb", 3));
    assert_null(imap_utf8_to_mutf7("\xc3", 1));
}

UNIT_TEST_MAIN(cmocka_unit_test(test_mutf7), cmocka_unit_test(test_simple_commands), cmocka_unit_test(test_literals),
               cmocka_unit_test(test_announcements), cmocka_unit_test(test_errors),
               cmocka_unit_test(test_seqsets), cmocka_unit_test(test_numbers))
