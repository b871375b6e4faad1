/* test_addrlist.c - tests of lib/mail/addrlist: RFC 5322 address lists as ENVELOPE needs
 * them - display names (atoms, quoted strings with quoted pairs, encoded words kept),
 * comments as fallback names, groups (named, empty, unterminated, in a list with other
 * addresses), obsolete routes and obsolete phrases and local parts, missing pieces ("<>",
 * a bare local part, a name without address), junk between addresses, NUL and 8-bit bytes,
 * the malformed flag (junk, things left open, control characters), and a long list in
 * linear time. */
#include "unit_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrlist.h"
#include "buf.h"

static void put(struct buf *out, const struct addrlist *l, struct addrlist_text t)
{
    const char *s = addrlist_str(l, t);
    if (!s)
        buf_putc(out, '-');
    else
        buf_append(out, s, t.len);
}

/* The list as text: mailboxes "[name|route|local|domain]" with '-' for absent; groups as
 * "{name:" and "}". */
static char *dump(const char *in, size_t len)
{
    struct addrlist l;
    struct buf out = BUF_INIT;
    addrlist_init(&l);
    addrlist_parse(&l, in, len);
    for (size_t i = 0; i < l.n; i++) {
        const struct addrlist_entry *e = &l.v[i];
        if (e->kind == ADDRLIST_GROUP_START) {
            buf_putc(&out, '{');
            put(&out, &l, e->name);
            buf_putc(&out, ':');
        } else if (e->kind == ADDRLIST_GROUP_END) {
            buf_putc(&out, '}');
        } else {
            buf_putc(&out, '[');
            put(&out, &l, e->name);
            buf_putc(&out, '|');
            put(&out, &l, e->route);
            buf_putc(&out, '|');
            put(&out, &l, e->local);
            buf_putc(&out, '|');
            put(&out, &l, e->domain);
            buf_putc(&out, ']');
        }
    }
    addrlist_free(&l);
    buf_cstr(&out);
    return buf_steal(&out);
}

static void check(const char *in, const char *want)
{
    char *got = dump(in, strlen(in));
    if (strcmp(got, want) != 0)
        fail_msg("%s\n got  %s\n want %s", in, got, want);
    free(got);
}

static void test_mailboxes(void **state)
{
    check("gray@cac.washington.edu", "[-|-|gray|cac.washington.edu]");
    check("Terry Gray <gray@cac.washington.edu>", "[Terry Gray|-|gray|cac.washington.edu]");
    check("minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>",
          "[-|-|minutes|CNRI.Reston.VA.US][John Klensin|-|KLENSIN|MIT.EDU]");
    check("\"Joe Q. Public\" <john.q.public@example.com>",
          "[Joe Q. Public|-|john.q.public|example.com]");
    check("\"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
          "[Giant; \"Big\" Box|-|sysservices|example.net]");
    check("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
          "[Pete|-|pete|silly.test]");
    check("<boss@nil.test>", "[-|-|boss|nil.test]");
    check("  =?utf-8?q?J=C3=B6rg?=   <j@x.test> ", "[=?utf-8?q?J=C3=B6rg?=|-|j|x.test]");
    check("a@b.test (Alice Example)", "[Alice Example|-|a|b.test]");
    check("a@b.test (   ) ()", "[-|-|a|b.test]");
    check("a@b.test ( ) (Second)", "[Second|-|a|b.test]");
    check("<a@b.test> (Alice)", "[Alice|-|a|b.test]");
    check("\"\" <a@b.test>", "[-|-|a|b.test]");
    check("\"a b\"@example.test", "[-|-|a b|example.test]");
    check("\"a\\\"b\"@example.test", "[-|-|a\"b|example.test]");
    check("jdoe@[192.0.2.1]", "[-|-|jdoe|[192.0.2.1]]");
    check("", "");
    check(" , ,, ", "");
}

static void test_groups(void **state)
{
    check("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
          "{A Group:[Ed Jones|-|c|a.test][-|-|joe|where.test][John|-|jdoe|one.test]}");
    check("Undisclosed recipients:;", "{Undisclosed recipients:}");
    check("undisclosed-recipients: ;", "{undisclosed-recipients:}");
    check("a@x.test, Team: b@x.test, c@x.test; , d@x.test",
          "[-|-|a|x.test]{Team:[-|-|b|x.test][-|-|c|x.test]}[-|-|d|x.test]");
    check("Open: b@x.test", "{Open:[-|-|b|x.test]}");
    check(": b@x.test;", "{:[-|-|b|x.test]}");
    /* a comment before the group name does not name its first member */
    check("(note) G: b@x.test;", "{G:[-|-|b|x.test]}");
    /* no nested groups: the inner "name:" is junk up to the next comma */
    check("G: H: a@x.test, b@x.test;", "{G:[-|-|b|x.test]}");
    check("a@x.test;b@x.test", "[-|-|a|x.test][-|-|b|x.test]");
}

static void test_obsolete(void **state)
{
    check("<@route1.test,@route2.test:user@final.test>",
          "[-|@route1.test,@route2.test|user|final.test]");
    check("Name <@r.test:u@d.test>", "[Name|@r.test|u|d.test]");
    check("<,@a.test,,@b.test:u@d.test>", "[-|@a.test,@b.test|u|d.test]");
    check("Joe Q. Public <j@x.test>", "[Joe Q. Public|-|j|x.test]");
    check("john . doe @ example . test", "[-|-|john.doe|example.test]");
    check("\"john\".doe@example.test", "[-|-|john.doe|example.test]");
    check("Mary Smith <mary@x.test>, , jdoe@example.org",
          "[Mary Smith|-|mary|x.test][-|-|jdoe|example.org]");
}

static void test_missing_pieces(void **state)
{
    check("<>", "[-|-||]");
    check("root", "[-|-|root|]");
    check("John Doe", "[John Doe|-||]");
    check("@example.test", "[-|-||example.test]");
    check("user@", "[-|-|user|]");
    check("Name <user", "[Name|-|user|]");
    check("Name <user@d.test", "[Name|-|user|d.test]");
    check("\"unterminated <a@b>", "[unterminated <a@b>|-||]");
    check("a@b.test (unterminated comment", "[unterminated comment|-|a|b.test]");
}

static void test_junk(void **state)
{
    check("a@b.test junk junk, c@d.test", "[-|-|a|b.test][-|-|c|d.test]");
    check(">>> <<< , c@d.test", "[-|-|c|d.test]");
    check(") ] @ , c@d.test", "[-|-|c|d.test]");
    check("@, c@d.test", "[-|-||][-|-|c|d.test]");
    /* an unterminated domain literal runs to the end */
    check("[ x, c@d.test", "");
    check("Name <a@b.test> trailing, x@y.test", "[Name|-|a|b.test][-|-|x|y.test]");
    /* 8-bit and NUL bytes are kept as they are */
    check("J\xc3\xb6rg <j\xc3\xb6rg@b\xc3\xbc" "cher.test>",
          "[J\xc3\xb6rg|-|j\xc3\xb6rg|b\xc3\xbc" "cher.test]");
    char *got = dump("A\0B <a@b>", 9);
    assert_int_equal(got[1], 'A');
    assert_int_equal(got[2], '\0');
    assert_int_equal(got[3], 'B');
    free(got);
}

static bool malformed(const char *in, size_t len)
{
    struct addrlist l;
    addrlist_init(&l);
    addrlist_parse(&l, in, len);
    bool m = l.malformed;
    addrlist_free(&l);
    return m;
}

#define MALFORMED(s) malformed(s, sizeof s - 1)

/* What submission's From check refuses: anything skipped or left open. */
static void test_malformed(void **state)
{
    assert_false(MALFORMED("Alice <alice@x.test>"));
    assert_false(MALFORMED("\"Alice, A.\" <alice@x.test> (work), bob@y.test"));
    assert_false(MALFORMED("alice@x.test (Alice)"));
    assert_false(MALFORMED("undisclosed-recipients:;"));
    assert_false(MALFORMED("G: a@x.test, b@x.test;, c@x.test"));
    assert_false(MALFORMED("<@r.test:u@d.test>, , jdoe@example.org"));
    assert_false(MALFORMED("\"tab\there\" <a@x.test>"));
    assert_false(MALFORMED("=?utf-8?q?J=C3=B6rg?= <j@x.test>"));
    assert_true(MALFORMED("alice@x.test <bob@y.test>"));
    assert_true(MALFORMED("<alice@x.test> <bob@y.test>"));
    assert_true(MALFORMED("Alice <alice@x.test> <bob@y.test>"));
    assert_true(MALFORMED("alice@x.test bob@y.test"));
    assert_true(MALFORMED("alice@x.test (unclosed <bob@y.test>"));
    assert_true(MALFORMED("alice@x.test\rbob@y.test"));
    assert_true(MALFORMED("alice@x.test\nFrom: bob@y.test"));
    assert_true(MALFORMED("alice@x.test\0bob@y.test"));
    assert_true(MALFORMED("Name <a@x.test"));
    assert_true(MALFORMED("\"open <a@x.test>"));
    assert_true(MALFORMED("[1.2.3.4"));
    assert_true(MALFORMED("<a@x.test junk>"));
}

/* 200000 addresses: linear work, every one returned. */
static void test_long_list(void **state)
{
    struct buf in = BUF_INIT;
    for (int i = 0; i < 200000; i++)
        buf_printf(&in, "%sName %d <user%d@example.test>", i ? ", " : "", i, i);
    struct addrlist l;
    addrlist_init(&l);
    addrlist_parse(&l, in.data, in.len);
    assert_int_equal(l.n, 200000);
    assert_string_equal(addrlist_str(&l, l.v[199999].local), "user199999");
    assert_string_equal(addrlist_str(&l, l.v[199999].name), "Name 199999");
    addrlist_free(&l);
    buf_free(&in);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_mailboxes),
               cmocka_unit_test(test_malformed),
               cmocka_unit_test(test_groups),
               cmocka_unit_test(test_obsolete),
               cmocka_unit_test(test_missing_pieces),
               cmocka_unit_test(test_junk),
               cmocka_unit_test(test_long_list))
