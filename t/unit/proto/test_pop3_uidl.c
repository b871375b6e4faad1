/* test_pop3_uidl.c - lib/proto/pop3_uidl: templates in Dovecot's notation give what Dovecot
 * serves (its default "%08Xu%08Xv", the formats its pop3 configuration lists for other
 * servers' UIDLs, Posthorn's former "%v-%u"), width, offset and case modifiers behave as
 * Dovecot's var_expand, unusable templates are refused, and the result is always a valid
 * RFC 1939 unique-id. */
#include "unit_test.h"
#include <stdlib.h>
#include <string.h>

#include "pop3_uidl.h"

static const struct pop3_uidl_vars vars = {
    .uid = 1234, .uidvalidity = 1700000000,
    .filename = "1700000001.M12P34.mail.example.test,S=100,W=103", .guid = NULL,
};

static void test_expand(void **state)
{
    static const struct {
        const char *fmt, *want;
    } t[] = {
        {"%08Xu%08Xv", "000004d26553f100"},            /* Dovecot's default */
        {"%v-%u", "1700000000-1234"},                 /* Posthorn's default */
        {"%08Xv%08Xu", "6553f100000004d2"},            /* UW ipop3d */
        {"%v.%u", "1700000000.1234"},                 /* Cyrus >= 2.1.4, Dovecot 0.99 */
        {"%u", "1234"},
        {"%{uidvalidity}-%{uid}", "1700000000-1234"},
        {"%f", "1700000001.M12P34.mail.example.test,S=100,W=103"},
        {"%g", "1700000001.M12P34.mail.example.test,S=100,W=103"},
        {"%Uf", "1700000001.M12P34.MAIL.EXAMPLE.TEST,S=100,W=103"},
        {"%XUu", "4D2"},                              /* in order: hex, then upper case */
        {"%UXu", "4d2"},
        {"%Xu", "4d2"},
        {"%02u", "1234"},                             /* zero padding never cuts */
        {"%2u", "12"},                                /* a width without 0 cuts */
        {"%-2u", "12"},                               /* negative: all but the last 2 */
        {"%3.2u", "4"},                               /* offset 3, width 2 */
        {"%-3.u", "234"},                             /* the last 3 */
        {"100%%-%u", "100%-1234"},
        {"x%u y", "x1234_y"},                         /* no space in a unique-id */
    };
    struct buf out = BUF_INIT;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (pop3_uidl_check(t[i].fmt) != NULL)
            fail_msg("%s: refused: %s", t[i].fmt, pop3_uidl_check(t[i].fmt));
        pop3_uidl_expand(t[i].fmt, &vars, &out);
        if (strcmp(buf_cstr(&out), t[i].want) != 0)
            fail_msg("%s: \"%s\", expected \"%s\"", t[i].fmt, buf_cstr(&out), t[i].want);
    }
    struct pop3_uidl_vars g = vars;
    g.guid = "0123456789abcdef";
    pop3_uidl_expand("%g", &g, &out);
    assert_string_equal(buf_cstr(&out), "0123456789abcdef");
    g.filename = "a name\twith:2,S";
    pop3_uidl_expand("%f", &g, &out);
    assert_string_equal(buf_cstr(&out), "a_name_with:2,S");
    pop3_uidl_expand("%f%f", &vars, &out); /* cut to 70 (RFC 1939 sec 7) */
    assert_int_equal(out.len, 70);
    buf_free(&out);
}

static void test_refused(void **state)
{
    static const char *const bad[] = {"", "%", "%m", "%{md5}", "%q", "%Mu", "%{uid",
                                      "%{nothing}", "%08", "%99999u", "abc%"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (pop3_uidl_check(bad[i]) == NULL)
            fail_msg("\"%s\" accepted", bad[i]);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_expand), cmocka_unit_test(test_refused))
