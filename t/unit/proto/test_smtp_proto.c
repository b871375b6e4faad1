/* test_smtp_proto.c - table-driven tests of lib/proto/smtp_proto: commands, RFC 5321 paths
 * (source routes, quoting, address literals, UTF-8), MAIL/RCPT parameters (xtext in ENVID
 * and ORCPT), BDAT and the relay-trick detector, with malformed input throughout. xtext
 * and UTF-8 themselves are tested in t/unit/mail/test_xtext.c and t/unit/util/test_utf8.c. */
#include "unit_test.h"
#include <string.h>

#include "smtp_proto.h"

static void test_commands(void **state)
{
    static const struct {
        const char *line;
        enum smtp_verb verb;
        const char *args;
    } t[] = {
        {"EHLO client.example", SMTP_EHLO, "client.example"},
        {"ehlo   x", SMTP_EHLO, "x"},
        {"HeLo x", SMTP_HELO, "x"},
        {"MAIL FROM:<a@b>", SMTP_MAIL, "FROM:<a@b>"},
        {"rcpt to:<a@b>", SMTP_RCPT, "to:<a@b>"},
        {"DATA", SMTP_DATA, ""},
        {"BDAT 10 LAST", SMTP_BDAT, "10 LAST"},
        {"RSET", SMTP_RSET, ""},
        {"noop hello", SMTP_NOOP, "hello"},
        {"QUIT", SMTP_QUIT, ""},
        {"VRFY postmaster", SMTP_VRFY, "postmaster"},
        {"STARTTLS", SMTP_STARTTLS, ""},
        {"starttls ", SMTP_STARTTLS, ""},
        {"HELP", SMTP_HELP, ""},
        {"EXPN list", SMTP_EXPN, "list"},
        {"", SMTP_UNKNOWN, ""},
        {" EHLO x", SMTP_UNKNOWN, "EHLO x"},
        {"EHLOX", SMTP_UNKNOWN, ""},
        {"MAILFROM:<a@b>", SMTP_UNKNOWN, ""},
        {"DATAX", SMTP_UNKNOWN, ""},
        {"GET / HTTP/1.0", SMTP_UNKNOWN, "/ HTTP/1.0"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const char *args = NULL;
        enum smtp_verb v = smtp_parse_command(t[i].line, &args);
        if (v != t[i].verb || strcmp(args, t[i].args) != 0)
            fail_msg("command \"%s\": verb %d args \"%s\"", t[i].line, (int)v, args);
    }
    assert_string_equal(smtp_verb_name(SMTP_STARTTLS), "STARTTLS");
}

struct path_case {
    const char *in;
    bool ok;
    const char *addr;   /* expected internal form */
    const char *local;
    const char *domain;
    bool route, quoted, utf8, null;
    const char *rest;   /* what remains after the path */
};

static void test_paths(void **state)
{
    static const struct path_case t[] = {
        {"<user@example.test>", true, "user@example.test", "user", "example.test", 0, 0, 0, 0, ""},
        {"<>", true, "", "", "", 0, 0, 0, 1, ""},
        {"<> SIZE=1", true, "", "", "", 0, 0, 0, 1, " SIZE=1"},
        {"<a.b-c+tag@sub.example.test> X", true, "a.b-c+tag@sub.example.test", "a.b-c+tag",
         "sub.example.test", 0, 0, 0, 0, " X"},
        {"<@relay.example:user@example.test>", true, "user@example.test", "user",
         "example.test", 1, 0, 0, 0, ""},
        {"<@a.example,@b.example:u@d.example>", true, "u@d.example", "u", "d.example", 1, 0, 0, 0, ""},
        {"<\"john smith\"@example.test>", true, "\"john smith\"@example.test", "john smith",
         "example.test", 0, 1, 0, 0, ""},
        {"<\"a\\\"b\"@example.test>", true, "\"a\\\"b\"@example.test", "a\"b", "example.test", 0, 1, 0, 0, ""},
        {"<\"a@b\"@example.test>", true, "\"a@b\"@example.test", "a@b", "example.test", 0, 1, 0, 0, ""},
        /* a quoted local part that is a Dot-string needs no quotes: one mailbox, one form */
        {"<\"alice\"@example.test>", true, "alice@example.test", "alice", "example.test", 0, 1, 0, 0, ""},
        {"<\"x> Bcc: <v@evil.test\"@remote.example>", true,
         "\"x> Bcc: <v@evil.test\"@remote.example", "x> Bcc: <v@evil.test", "remote.example",
         0, 1, 0, 0, ""},
        {"<\"a\\\\b\"@example.test>", true, "\"a\\\\b\"@example.test", "a\\b", "example.test", 0, 1, 0, 0, ""},
        {"<\"\"@example.test>", true, "\"\"@example.test", "", "example.test", 0, 1, 0, 0, ""},
        {"<user%other@example.test>", true, "user%other@example.test", "user%other",
         "example.test", 0, 0, 0, 0, ""},
        {"<other!user@example.test>", true, "other!user@example.test", "other!user",
         "example.test", 0, 0, 0, 0, ""},
        {"<u@[192.0.2.1]>", true, "u@[192.0.2.1]", "u", "[192.0.2.1]", 0, 0, 0, 0, ""},
        {"<u@[IPv6:2001:db8::1]>", true, "u@[IPv6:2001:db8::1]", "u", "[IPv6:2001:db8::1]", 0, 0, 0, 0, ""},
        {"<u@[x-tag:stuff]>", true, "u@[x-tag:stuff]", "u", "[x-tag:stuff]", 0, 0, 0, 0, ""},
        {"<Postmaster>", true, "Postmaster", "Postmaster", "", 0, 0, 0, 0, ""},
        {"<j\xc3\xb6rg@b\xc3\xbc" "cher.example>", true, "j\xc3\xb6rg@b\xc3\xbc" "cher.example",
         "j\xc3\xb6rg", "b\xc3\xbc" "cher.example", 0, 0, 1, 0, ""},
        {"<a.b.c@example.test>", true, "a.b.c@example.test", "a.b.c", "example.test", 0, 0, 0, 0, ""},
        {"<\"a..b\"@example.test>", true, "\"a..b\"@example.test", "a..b", "example.test", 0, 1, 0, 0, ""},
        {"<1@2.3>", true, "1@2.3", "1", "2.3", 0, 0, 0, 0, ""},
        /* malformed */
        {.in = "user@example.test", .ok = false},
        {.in = "<user@example.test", .ok = false},
        {.in = "<user@>", .ok = false},
        {.in = "<@example.test>", .ok = false},
        {.in = "<user@-bad.example>", .ok = false},
        {.in = "<user@bad-.example>", .ok = false},
        {.in = "<user@bad..example>", .ok = false},
        /* RFC 5321 sec 4.1.2 Dot-string: Atom *("." Atom), unquoted */
        {.in = "<a..b@example.test>", .ok = false},
        {.in = "<.a@example.test>", .ok = false},
        {.in = "<a.@example.test>", .ok = false},
        {.in = "<.@example.test>", .ok = false},
        {.in = "<@relay.example:a..b@example.test>", .ok = false},
        {.in = "<user@example.test.>", .ok = false},
        {.in = "<user@exa_mple.test>", .ok = false},
        {.in = "<us er@example.test>", .ok = false},
        {.in = "<user@example.test >", .ok = false},
        {.in = "<user@[300.1.1.1]>", .ok = false},
        {.in = "<user@[IPv6:zz::1]>", .ok = false},
        {.in = "<user@[1.2.3.4>", .ok = false},
        {.in = "<user@[]>", .ok = false},
        {.in = "<\"unterminated@example.test>", .ok = false},
        {.in = "<\"ctl\x01\"@example.test>", .ok = false},
        {.in = "<a\x01@example.test>", .ok = false},
        {.in = "<\xff@example.test>", .ok = false},
        {.in = "<\xc3@example.test>", .ok = false},
        {.in = "<\xc0\xaf@example.test>", .ok = false},
        {.in = "<@relay.example user@example.test>", .ok = false},
        {.in = "<@relay.example:>", .ok = false},
        {.in = "<@:user@example.test>", .ok = false},
        {.in = "<@relay.example:postmaster>", .ok = false},
        {.in = "<\"quoted\">", .ok = false},
        {.in = "<a@b@c.example>", .ok = false},
        {"<>>", true, "", "", "", 0, 0, 0, 1, ">"},
        {.in = "", .ok = false},
        {.in = "<", .ok = false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct smtp_path p;
        struct smtp_error e;
        const char *s = t[i].in;
        bool ok = smtp_parse_path(&s, &p, &e);
        if (ok != t[i].ok)
            fail_msg("path \"%s\": ok=%d, expected %d", t[i].in, ok, t[i].ok);
        if (!ok) {
            assert_int_equal(e.code, 501);
            continue;
        }
        if (strcmp(p.addr, t[i].addr) || strcmp(p.local, t[i].local) ||
            strcmp(p.domain, t[i].domain) || p.route != t[i].route ||
            p.quoted != t[i].quoted || p.utf8 != t[i].utf8 || p.null != t[i].null ||
            strcmp(s, t[i].rest))
            fail_msg("path \"%s\": addr \"%s\" local \"%s\" domain \"%s\" route %d quoted %d "
                     "utf8 %d null %d rest \"%s\"",
                     t[i].in, p.addr, p.local, p.domain, p.route, p.quoted, p.utf8, p.null, s);
    }
}

static void test_path_length(void **state)
{
    char in[SMTP_ADDR_MAX + 40];
    struct smtp_path p;
    struct smtp_error e;
    /* A local part that fills the whole buffer does not fit with its domain. */
    in[0] = '<';
    memset(in + 1, 'a', SMTP_ADDR_MAX - 5);
    strcpy(in + SMTP_ADDR_MAX - 4, "@example.test>");
    const char *s = in;
    assert_false(smtp_parse_path(&s, &p, &e));
    /* 200 bytes is fine. */
    memset(in + 1, 'a', 200);
    strcpy(in + 201, "@example.test>");
    s = in;
    assert_true(smtp_parse_path(&s, &p, &e));
    assert_int_equal(strlen(p.local), 200);
}

struct mail_case {
    const char *args;
    int code;            /* 0: accepted */
    const char *status;
    long long size;
    enum smtp_body body;
    bool smtputf8;
    enum smtp_ret ret;
    const char *envid;
};

static void test_mail(void **state)
{
    static const struct mail_case t[] = {
        {"FROM:<a@b.example>", 0, NULL, -1, SMTP_BODY_NONE, 0, SMTP_RET_NONE, ""},
        {"from:<a@b.example>", 0, NULL, -1, SMTP_BODY_NONE, 0, SMTP_RET_NONE, ""},
        {"FROM: <a@b.example>", 0, NULL, -1, SMTP_BODY_NONE, 0, SMTP_RET_NONE, ""},
        {"FROM:<>", 0, NULL, -1, SMTP_BODY_NONE, 0, SMTP_RET_NONE, ""},
        {"FROM:<a@b.example> SIZE=12345", 0, NULL, 12345, SMTP_BODY_NONE, 0, SMTP_RET_NONE, ""},
        {"FROM:<a@b.example> size=0 body=8bitmime", 0, NULL, 0, SMTP_BODY_8BITMIME, 0, SMTP_RET_NONE, ""},
        {"FROM:<a@b.example> BODY=7BIT", 0, NULL, -1, SMTP_BODY_7BIT, 0, SMTP_RET_NONE, ""},
        {"FROM:<a@b.example>  RET=HDRS   ENVID=QQ+2B314", 0, NULL, -1, SMTP_BODY_NONE, 0, SMTP_RET_HDRS, "QQ+2B314"},
        {"FROM:<a@b.example> RET=full", 0, NULL, -1, SMTP_BODY_NONE, 0, SMTP_RET_FULL, ""},
        {"FROM:<j\xc3\xb6rg@b.example> SMTPUTF8", 0, NULL, -1, SMTP_BODY_NONE, 1, SMTP_RET_NONE, ""},
        {"FROM:<a@b.example> SMTPUTF8 BODY=8BITMIME", 0, NULL, -1, SMTP_BODY_8BITMIME, 1, SMTP_RET_NONE, ""},
        {"FROM:<@r.example:a@b.example>", 0, NULL, -1, SMTP_BODY_NONE, 0, SMTP_RET_NONE, ""},
        /* RFC 4954 sec 5: AUTH=<> or xtext, taken and not passed on */
        {"FROM:<a@b.example> AUTH=<>", 0, NULL, -1, SMTP_BODY_NONE, 0, SMTP_RET_NONE, ""},
        {"FROM:<a@b.example> AUTH=a+2Bb@c.example SIZE=5", 0, NULL, 5, SMTP_BODY_NONE, 0, SMTP_RET_NONE, ""},
        /* refused */
        {.args = "FROM:<j\xc3\xb6rg@b.example>", .code = 553, .status = "5.6.7"},
        {.args = "FROM:a@b.example", .code = 501, .status = "5.5.4"},
        {.args = "FROM <a@b.example>", .code = 501, .status = "5.5.4"},
        {.args = "TO:<a@b.example>", .code = 501, .status = "5.5.4"},
        {.args = "", .code = 501, .status = "5.5.4"},
        {.args = "FROM:<a@b.example", .code = 501, .status = "5.1.7"},
        {.args = "FROM:<a@>", .code = 501, .status = "5.1.7"},
        {.args = "FROM:<postmaster>", .code = 501, .status = "5.1.7"},
        {.args = "FROM:<a@b.example>SIZE=1", .code = 501, .status = "5.5.4"},
        {.args = "FROM:<a@b.example> SIZE=", .code = 501, .status = "5.5.4"},
        {.args = "FROM:<a@b.example> SIZE=12x", .code = 501, .status = "5.5.4"},
        {.args = "FROM:<a@b.example> SIZE=-1", .code = 501, .status = "5.5.4"},
        {.args = "FROM:<a@b.example> SIZE=1234567890123456789012", .code = 501, .status = "5.5.4"},
        {.args = "FROM:<a@b.example> SIZE=1 SIZE=2", .code = 501, .status = "5.5.4"},
        {.args = "FROM:<a@b.example> BODY=BINARYMIME", .code = 555, .status = "5.5.4"},
        {.args = "FROM:<a@b.example> BODY=9BIT", .code = 501, .status = "5.5.4"},
        {.args = "FROM:<a@b.example> BODY", .code = 501, .status = "5.5.4"},
        {.args = "FROM:<a@b.example> SMTPUTF8=yes", .code = 501, .status = "5.5.4"},
        {.args = "FROM:<a@b.example> RET=ALL", .code = 501, .status = "5.5.4"},
        {.args = "FROM:<a@b.example> ENVID=a+2", .code = 501, .status = "5.5.4"},
        {.args = "FROM:<a@b.example> ENVID=a+2b", .code = 501, .status = "5.5.4"},
        {.args = "FROM:<a@b.example> ENVID=", .code = 501, .status = "5.5.4"},
        {.args = "FROM:<a@b.example> AUTH=a+2", .code = 501, .status = "5.5.4"},
        {.args = "FROM:<a@b.example> AUTH", .code = 501, .status = "5.5.4"},
        {.args = "FROM:<a@b.example> AUTH=<> AUTH=<>", .code = 501, .status = "5.5.4"},
        {.args = "FROM:<a@b.example> XFOO", .code = 555, .status = "5.5.4"},
        {.args = "FROM:<a@b.example> =x", .code = 501, .status = "5.5.4"},
        {.args = "FROM:<a@b.example> SIZE==1", .code = 501, .status = "5.5.4"},
        {.args = "FROM:<a@b.example> ENVID=\xff", .code = 501, .status = "5.5.4"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct smtp_mail m;
        struct smtp_error e = {0};
        bool ok = smtp_parse_mail(t[i].args, &m, &e);
        if (ok != (t[i].code == 0))
            fail_msg("MAIL \"%s\": ok=%d (%d %s %s)", t[i].args, ok, e.code,
                     e.status ? e.status : "", e.text ? e.text : "");
        if (!ok) {
            if (e.code != t[i].code || strcmp(e.status, t[i].status))
                fail_msg("MAIL \"%s\": %d %s, expected %d %s", t[i].args, e.code, e.status,
                         t[i].code, t[i].status);
            continue;
        }
        if (m.size != t[i].size || m.body != t[i].body || m.smtputf8 != t[i].smtputf8 ||
            m.ret != t[i].ret || strcmp(m.envid, t[i].envid))
            fail_msg("MAIL \"%s\": parameters parsed wrong", t[i].args);
    }
    /* ENVID longer than RFC 3461's 100 characters. */
    char longer[200] = "FROM:<a@b.example> ENVID=";
    memset(longer + strlen(longer), 'x', 101);
    struct smtp_mail m;
    struct smtp_error e;
    assert_false(smtp_parse_mail(longer, &m, &e));
}

struct rcpt_case {
    const char *args;
    bool smtputf8;
    int code;
    const char *status;
    const char *addr;
    unsigned notify;
    const char *orcpt;
};

static void test_rcpt(void **state)
{
    static const struct rcpt_case t[] = {
        {"TO:<u@example.test>", 0, 0, NULL, "u@example.test", 0, ""},
        {"to: <u@example.test>", 0, 0, NULL, "u@example.test", 0, ""},
        {"TO:<Postmaster>", 0, 0, NULL, "Postmaster", 0, ""},
        {"TO:<u@example.test> NOTIFY=NEVER", 0, 0, NULL, "u@example.test", SMTP_NOTIFY_NEVER, ""},
        {"TO:<u@example.test> NOTIFY=SUCCESS,FAILURE,DELAY", 0, 0, NULL, "u@example.test",
         SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY, ""},
        {"TO:<u@example.test> notify=failure ORCPT=rfc822;u+40example.test", 0, 0, NULL,
         "u@example.test", SMTP_NOTIFY_FAILURE, "rfc822;u+40example.test"},
        {"TO:<u@example.test> ORCPT=utf-8;j\xc3\xb6rg@example.test", 1, 0, NULL, "u@example.test",
         0, "utf-8;j\xc3\xb6rg@example.test"},
        {"TO:<j\xc3\xb6rg@example.test>", 1, 0, NULL, "j\xc3\xb6rg@example.test", 0, ""},
        {"TO:<@ours.example:u@other.example>", 0, 0, NULL, "u@other.example", 0, ""},
        /* refused */
        {.args = "TO:<j\xc3\xb6rg@example.test>", .smtputf8 = 0, .code = 553, .status = "5.6.7"},
        {.args = "TO:<>", .smtputf8 = 0, .code = 501, .status = "5.1.3"},
        {.args = "TO:u@example.test", .smtputf8 = 0, .code = 501, .status = "5.5.4"},
        {.args = "FROM:<u@example.test>", .smtputf8 = 0, .code = 501, .status = "5.5.4"},
        {.args = "TO:<u@example.test", .smtputf8 = 0, .code = 501, .status = "5.1.3"},
        {.args = "TO:<u@example.test> NOTIFY=NEVER,SUCCESS", .smtputf8 = 0, .code = 501, .status = "5.5.4"},
        {.args = "TO:<u@example.test> NOTIFY=SUCCESS,SUCCESS", .smtputf8 = 0, .code = 501, .status = "5.5.4"},
        {.args = "TO:<u@example.test> NOTIFY=SUCCESS,", .smtputf8 = 0, .code = 501, .status = "5.5.4"},
        {.args = "TO:<u@example.test> NOTIFY=", .smtputf8 = 0, .code = 501, .status = "5.5.4"},
        {.args = "TO:<u@example.test> NOTIFY=ALWAYS", .smtputf8 = 0, .code = 501, .status = "5.5.4"},
        {.args = "TO:<u@example.test> NOTIFY=NEVER NOTIFY=NEVER", .smtputf8 = 0, .code = 501, .status = "5.5.4"},
        {.args = "TO:<u@example.test> ORCPT=u@example.test", .smtputf8 = 0, .code = 501, .status = "5.5.4"},
        {.args = "TO:<u@example.test> ORCPT=rfc822;", .smtputf8 = 0, .code = 501, .status = "5.5.4"},
        {.args = "TO:<u@example.test> ORCPT=;u@example.test", .smtputf8 = 0, .code = 501, .status = "5.5.4"},
        {.args = "TO:<u@example.test> ORCPT=rfc822;a+4", .smtputf8 = 0, .code = 501, .status = "5.5.4"},
        {.args = "TO:<u@example.test> ORCPT=rfc822;a+zz", .smtputf8 = 0, .code = 501, .status = "5.5.4"},
        {.args = "TO:<u@example.test> ORCPT=rfc 822;a", .smtputf8 = 0, .code = 501, .status = "5.5.4"},
        {.args = "TO:<u@example.test> ORCPT=rfc822;a ORCPT=rfc822;b", .smtputf8 = 0, .code = 501, .status = "5.5.4"},
        {.args = "TO:<u@example.test> ORCPT=utf-8;\xff", .smtputf8 = 1, .code = 501, .status = "5.5.4"},
        {.args = "TO:<u@example.test> SIZE=10", .smtputf8 = 0, .code = 555, .status = "5.5.4"},
        {.args = "TO:<u@example.test> SMTPUTF8", .smtputf8 = 1, .code = 555, .status = "5.5.4"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct smtp_rcpt r;
        struct smtp_error e = {0};
        bool ok = smtp_parse_rcpt(t[i].args, t[i].smtputf8, &r, &e);
        if (ok != (t[i].code == 0))
            fail_msg("RCPT \"%s\": ok=%d (%d %s)", t[i].args, ok, e.code, e.text ? e.text : "");
        if (!ok) {
            if (e.code != t[i].code || strcmp(e.status, t[i].status))
                fail_msg("RCPT \"%s\": %d %s, expected %d %s", t[i].args, e.code, e.status,
                         t[i].code, t[i].status);
            continue;
        }
        if (strcmp(r.to.addr, t[i].addr) || r.notify != t[i].notify || strcmp(r.orcpt, t[i].orcpt))
            fail_msg("RCPT \"%s\": addr \"%s\" notify %u orcpt \"%s\"", t[i].args, r.to.addr,
                     r.notify, r.orcpt);
    }
}

static void test_bdat(void **state)
{
    static const struct {
        const char *args;
        bool ok;
        unsigned long long size;
        bool last;
    } t[] = {
        {"0 LAST", true, 0, true},
        {"100", true, 100, false},
        {"100 last", true, 100, true},
        {"100   LAST  ", true, 100, true},
        {"18446744073709551615", true, 18446744073709551615ULL, false},
        {.args = "18446744073709551616", .ok = false},
        {.args = "", .ok = false},
        {.args = "LAST", .ok = false},
        {.args = "-1", .ok = false},
        {.args = "10x", .ok = false},
        {.args = "10 LAST x", .ok = false},
        {.args = "10 FIRST", .ok = false},
        {.args = "10 LASTX", .ok = false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        unsigned long long size = 0;
        bool last = false;
        bool ok = smtp_parse_bdat(t[i].args, &size, &last);
        if (ok != t[i].ok || (ok && (size != t[i].size || last != t[i].last)))
            fail_msg("BDAT \"%s\"", t[i].args);
    }
}

static void test_helo_and_routes(void **state)
{
    assert_true(smtp_helo_valid("mail.example.test"));
    assert_true(smtp_helo_valid("[192.0.2.1]"));
    assert_false(smtp_helo_valid(""));
    assert_false(smtp_helo_valid("two words"));
    assert_false(smtp_helo_valid("tab\there"));
    assert_false(smtp_helo_valid("h\xc3\xa9"));
    assert_true(smtp_local_part_routes("user%other"));
    assert_true(smtp_local_part_routes("other!user"));
    assert_true(smtp_local_part_routes("a@b"));
    assert_false(smtp_local_part_routes("user+tag"));
    assert_false(smtp_local_part_routes("first.last"));
}

UNIT_TEST_MAIN(cmocka_unit_test(test_commands),
               cmocka_unit_test(test_paths),
               cmocka_unit_test(test_path_length),
               cmocka_unit_test(test_mail),
               cmocka_unit_test(test_rcpt),
               cmocka_unit_test(test_bdat),
               cmocka_unit_test(test_helo_and_routes))
