/* test_deliver_request.c - lib/global/deliver_request: the strict check both delivery
 * agents apply to qmgr's request=deliver (doc/ipc.md): a valid request with every optional
 * part, and each way a request must be refused (missing or bad fields, unknown, repeated or
 * out-of-range attributes, recipient groups that do not match nrcpt, empty recipients). */
#include "unit_test.h"
#include <stdlib.h>
#include <string.h>

#include "deliver_request.h"

/* "name=value" pairs separated by '|'. */
static void build(struct attrs *a, const char *spec)
{
    char *copy = strdup(spec), *save = NULL;
    for (char *tok = strtok_r(copy, "|", &save); tok; tok = strtok_r(NULL, "|", &save)) {
        char *eq = strchr(tok, '=');
        assert_non_null(eq);
        *eq = 0;
        attrs_add(a, tok, eq + 1);
    }
    free(copy);
}

#define BASE "request=deliver|queue_id=6614BAD38FB4CEBAFB|sender=a@example.test|arrival=1700000000"

static int parse(const char *spec, struct deliver_request *r)
{
    struct attrs a = {0};
    char *err = NULL;
    build(&a, spec);
    int rc = deliver_request_parse(&a, r, &err);
    if (rc < 0) {
        assert_non_null(err);
        free(err);
    } else {
        deliver_request_free(r);
    }
    attrs_free(&a);
    return rc;
}

static void test_valid(void **state)
{
    struct attrs a = {0};
    struct deliver_request r;
    char *err = NULL;
    build(&a, BASE "|nexthop=example.net|nrcpt=2|rcpt_0=x@example.net|rcpt_1=y@example.net|"
                   "orcpt_1=rfc822;Y@example.net|notify_0=SUCCESS,FAILURE");
    assert_int_equal(deliver_request_parse(&a, &r, &err), 0);
    assert_string_equal(r.queue_id, "6614BAD38FB4CEBAFB");
    assert_string_equal(r.nexthop, "example.net");
    assert_true(r.arrival == 1700000000);
    assert_int_equal(r.nrcpt, 2);
    assert_string_equal(r.rcpt[0].addr, "x@example.net");
    assert_string_equal(r.rcpt[0].orcpt, "");
    assert_string_equal(r.rcpt[0].notify, "SUCCESS,FAILURE");
    assert_string_equal(r.rcpt[1].orcpt, "rfc822;Y@example.net");
    deliver_request_free(&r);
    attrs_free(&a);
    struct deliver_request r2;
    assert_int_equal(parse(BASE "|sender=|nrcpt=1|rcpt_0=z@d", &r2), -1); /* sender twice */
    assert_int_equal(parse("request=deliver|queue_id=6614BAD38FB4CEBAFB|sender=|arrival=1|"
                           "nrcpt=1|rcpt_0=z@d", &r2), 0); /* the null sender, no nexthop */
}

static void test_refused(void **state)
{
    static const char *const bad[] = {
        "request=deliver|sender=|arrival=1|nrcpt=1|rcpt_0=x@d",          /* no queue_id */
        "request=deliver|queue_id=../x|sender=|arrival=1|nrcpt=1|rcpt_0=x@d",
        "request=other|queue_id=6614BAD38FB4CEBAFB|sender=|arrival=1|nrcpt=1|rcpt_0=x@d",
        BASE "|nrcpt=0",
        BASE "|nrcpt=100001|rcpt_0=x@d",
        BASE "|nrcpt=2|rcpt_0=x@d",                                       /* a missing rcpt */
        BASE "|nrcpt=1|rcpt_0=x@d|rcpt_1=y@d",                            /* one too many */
        BASE "|nrcpt=1|rcpt_0=",                                          /* empty */
        BASE "|nrcpt=1|rcpt_0=x@d|orcpt_1=rfc822;y@d",                    /* out of range */
        BASE "|nrcpt=1|rcpt_00=x@d",                                      /* malformed index */
        BASE "|nrcpt=1|rcpt_0=x@d|color=blue",                            /* unknown */
        BASE "|nrcpt=1|rcpt_0=x@d|rcpt_0=y@d",                            /* repeated */
        BASE "|nrcpt=x|rcpt_0=x@d",
    };
    struct deliver_request r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (parse(bad[i], &r) != -1)
            fail_msg("accepted: %s", bad[i]);
}

static void test_reply_lines(void **state)
{
    struct attrs a = {0};
    deliver_reply_add(&a, 3, "bounce", "5.1.1", "no such user");
    assert_string_equal(attrs_get(&a, "status_3"), "bounce");
    assert_string_equal(attrs_get(&a, "dsn_3"), "5.1.1");
    assert_string_equal(attrs_get(&a, "reason_3"), "no such user");
    attrs_free(&a);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_valid), cmocka_unit_test(test_refused),
               cmocka_unit_test(test_reply_lines))
