/* test_mta_sts.c - lib/proto/mta_sts: the _mta-sts TXT record and the policy file of RFC
 * 8461 parsed strictly (sec 3.1, 3.2), and MX matching with the "*." rule (sec 4.1). */
#include "unit_test.h"
#include "mta_sts.h"
#include <stdlib.h>
#include <string.h>

static int txt(const char *s, char *id)
{
    const char *err = NULL;
    return mta_sts_txt_parse(s, strlen(s), id, &err);
}

static void test_txt_records(void **state)
{
    char id[MTA_STS_ID_MAX + 1];
    assert_int_equal(txt("v=STSv1; id=20160831085700Z;", id), 1);
    assert_string_equal(id, "20160831085700Z");
    assert_int_equal(txt("v=STSv1;id=abc", id), 1);
    assert_string_equal(id, "abc");
    assert_int_equal(txt("v=STSv1 ; ext=x.y ; id=a1 ; id=b2", id), 1);
    assert_string_equal(id, "a1"); /* the first instance counts */
    assert_int_equal(txt("v=spf1 -all", id), 0);
    assert_int_equal(txt("v=STSv10; id=1", id), 0);
    assert_int_equal(txt("v=STSv1", id), -1);              /* no id */
    assert_int_equal(txt("v=STSv1; ext=1", id), -1);
    assert_int_equal(txt("v=STSv1; id=", id), -1);
    assert_int_equal(txt("v=STSv1; id=a-b", id), -1);      /* not ALPHA / DIGIT */
    assert_int_equal(txt("v=STSv1; id=123456789012345678901234567890123", id), -1); /* 33 */
    assert_int_equal(txt("v=STSv1 id=1", id), -1);         /* no delimiter */
    assert_int_equal(txt("v=STSv1; id=1 2", id), -1);
    assert_int_equal(txt("v=STSv1; =1; id=2", id), -1);
}

static void test_txt_select(void **state)
{
    char id[MTA_STS_ID_MAX + 1];
    const char *err = NULL;
    const char *two[] = {"v=spf1 -all", "v=STSv1; id=x1"};
    size_t lens[] = {strlen(two[0]), strlen(two[1])};
    assert_int_equal(mta_sts_txt_select(two, lens, 2, id, &err), 1);
    assert_string_equal(id, "x1");
    const char *dup[] = {"v=STSv1; id=x1", "v=STSv1; id=x2"};
    size_t dl[] = {14, 14};
    assert_int_equal(mta_sts_txt_select(dup, dl, 2, id, &err), -1);
    assert_int_equal(mta_sts_txt_select(two, lens, 1, id, &err), 0);
}

static int policy(const char *s, struct mta_sts_policy *p)
{
    char *err = NULL;
    int r = mta_sts_policy_parse(s, strlen(s), p, &err);
    free(err);
    return r;
}

static void test_policy_ok(void **state)
{
    struct mta_sts_policy p;
    assert_int_equal(policy("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
                            "mx: *.Example.NET\r\nmax_age: 604800\r\n", &p), 0);
    assert_int_equal(p.mode, MTA_STS_ENFORCE);
    assert_int_equal(p.max_age, 604800);
    assert_int_equal(p.nmx, 2);
    assert_string_equal(p.mx[1], "*.example.net");
    mta_sts_policy_free(&p);
    /* LF line ends, unknown fields, no final line end, a first field that repeats */
    assert_int_equal(policy("version:STSv1\nmode: testing\nmode: enforce\nfoo_bar: some thing\n"
                            "mx: a.example\nmax_age: 99999999999", &p), -1); /* 11 digits */
    assert_int_equal(policy("version:STSv1\nmode: testing\nmode: enforce\nfoo_bar: some thing\n"
                            "mx: a.example\nmax_age: 9999999999", &p), 0);
    assert_int_equal(p.mode, MTA_STS_TESTING);
    assert_int_equal(p.max_age, MTA_STS_MAX_AGE_MAX); /* capped */
    mta_sts_policy_free(&p);
    assert_int_equal(policy("version: STSv1\nmode: none\nmax_age: 0\n\n", &p), 0);
    assert_int_equal(p.mode, MTA_STS_NONE);
    mta_sts_policy_free(&p);
}

static void test_policy_bad(void **state)
{
    static const char *const bad[] = {
        "",
        "mode: enforce\nmx: a.example\nmax_age: 1\n",                     /* no version */
        "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
        "version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmax_age: 1\n",                    /* no mx */
        "version: STSv1\nmode: enforce\nmx: a.example\n",                 /* no max_age */
        "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n",
        "version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmx: a.example.\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmx: -a.example\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmx: a_b.example\nmax_age: 1\n",
        "version: STSv1\n\nmode: enforce\nmx: a.example\nmax_age: 1\n",   /* empty line */
        "version: STSv1\nmode enforce\nmx: a.example\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\rmx: a.example\nmax_age: 1\n",
        "version: STSv1\nmode:\nmx: a.example\nmax_age: 1\n",
        "<html>version: STSv1</html>\n",
    };
    struct mta_sts_policy p;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (policy(bad[i], &p) != -1)
            fail_msg("accepted: %s", bad[i]);
    }
}

static void test_mx_match(void **state)
{
    assert_true(mta_sts_pattern_match("mail.example.com", "MAIL.example.com."));
    assert_true(mta_sts_pattern_match("*.example.com", "mx1.example.com"));
    assert_false(mta_sts_pattern_match("*.example.com", "example.com"));
    assert_false(mta_sts_pattern_match("*.example.com", "a.b.example.com"));
    assert_false(mta_sts_pattern_match("*.example.com", ".example.com"));
    assert_false(mta_sts_pattern_match("mail.example.com", "mail.example.co"));
    assert_false(mta_sts_pattern_match("mail.example.com", "xmail.example.com"));
}

UNIT_TEST_MAIN(cmocka_unit_test(test_txt_records), cmocka_unit_test(test_txt_select),
               cmocka_unit_test(test_policy_ok), cmocka_unit_test(test_policy_bad),
               cmocka_unit_test(test_mx_match))
