/* test_alias_value.c - lib/global/alias_value: aliases(5) values split into targets of each
 * kind (addresses with and without brackets or domain, \user, quoted and unquoted commands
 * and files, :include:), the separators, quoting kept whole, and the malformed values and
 * keys that must be refused with a reason. */
#include "unit_test.h"
#include <stdlib.h>
#include <string.h>

#include "alias_value.h"

struct want {
    enum alias_kind kind;
    const char *text;
};

static void expect_targets(const char *value, const struct want *w, size_t n)
{
    struct alias_list l = {0};
    char *err = NULL;
    if (alias_value_parse(value, &l, &err) < 0)
        fail_msg("%s: %s", value, err);
    assert_int_equal(l.n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(l.v[i].kind, w[i].kind);
        assert_string_equal(l.v[i].text, w[i].text);
    }
    alias_list_free(&l);
}

static void expect_error(const char *value, const char *reason_part)
{
    struct alias_list l = {0};
    char *err = NULL;
    assert_int_equal(alias_value_parse(value, &l, &err), -1);
    assert_non_null(err);
    if (!strstr(err, reason_part))
        fail_msg("%s: \"%s\" does not say \"%s\"", value, err, reason_part);
    free(err);
    alias_list_free(&l);
}

static void test_addresses_and_separators(void **state)
{
    const struct want w[] = {{ALIAS_ADDRESS, "alice@example.test"}, {ALIAS_ADDRESS, "bob"},
                             {ALIAS_ADDRESS, "carol@remote.test"}, {ALIAS_MAILBOX, "dave"},
                             {ALIAS_ADDRESS, "\"e f\"@example.test"},
                             {ALIAS_ADDRESS, "grüße@bücher.test"}};
    expect_targets("alice@example.test, bob,,\t<carol@remote.test>  \\dave,\"e f\"@example.test "
                   "grüße@bücher.test", w, 6);
    expect_targets("  , ", NULL, 0);
}

static void test_commands_files_includes(void **state)
{
    const struct want w[] = {
        {ALIAS_COMMAND, "/usr/bin/procmail -a \"x y\""},
        {ALIAS_COMMAND, "/bin/echo \"a, b\" >> /tmp/out"},
        {ALIAS_FILE, "/var/mail/archive"},
        {ALIAS_FILE, "/var/mail/with space"},
        {ALIAS_INCLUDE, "/etc/mail/list.inc"},
        {ALIAS_ADDRESS, "alice"},
        {ALIAS_COMMAND, "cat"},
    };
    /* quoted: kept whole with its spaces and commas; \" inside becomes " */
    expect_targets("\"|/usr/bin/procmail -a \\\"x y\\\"\", |/bin/echo \"a, b\" >> /tmp/out  ,"
                   "/var/mail/archive \"/var/mail/with space\" :INCLUDE:/etc/mail/list.inc alice,"
                   "|cat", w, 7);
}

static void test_malformed_values(void **state)
{
    expect_error("alice, \"|/bin/cmd", "unterminated quoted string");
    expect_error("<alice@example.test", "'<' without '>'");
    expect_error("<alice@example.test>x", "text after '>'");
    expect_error("alice@@example.test", "not a valid address");
    expect_error("alice@-bad-.test", "not a valid address");
    expect_error("a..b@example.test", "not a valid address");
    expect_error("|   ", "empty command");
    expect_error(":include:relative/path", "absolute path");
    expect_error("/var/mail/dir/", "Maildir");
    expect_error("<a b@example.test>", "not a valid address");
    expect_error("\"a\x01\" b", "control character");
}

static void test_keys(void **state)
{
    assert_null(alias_key_check("root", 4));
    assert_null(alias_key_check("team@example.test", 17));
    assert_null(alias_key_check("@example.test", 13));
    assert_null(alias_key_check("\"john doe\"", 10));
    assert_non_null(alias_key_check("", 0));
    assert_non_null(alias_key_check("@", 1));
    assert_non_null(alias_key_check("a b", 3));
    assert_non_null(alias_key_check("team@", 5));
}

UNIT_TEST_MAIN(cmocka_unit_test(test_addresses_and_separators),
               cmocka_unit_test(test_commands_files_includes),
               cmocka_unit_test(test_malformed_values), cmocka_unit_test(test_keys))
