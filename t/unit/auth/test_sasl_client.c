/* test_sasl_client.c - the client side of SASL PLAIN and LOGIN (lib/auth/sasl_client),
 * checked against the server side's parser (lib/auth/sasl) and RFC 4616's example. */
#include "unit_test.h"
#include <string.h>

#include "sasl.h"
#include "sasl_client.h"

static void test_pick(void **state)
{
    (void)state;
    assert_int_equal(sasl_client_pick("LOGIN PLAIN"), SASL_CLIENT_PLAIN);
    assert_int_equal(sasl_client_pick("cram-md5 login"), SASL_CLIENT_LOGIN);
    assert_int_equal(sasl_client_pick("  plain\t"), SASL_CLIENT_PLAIN);
    assert_int_equal(sasl_client_pick("XPLAIN LOGINX CRAM-MD5"), SASL_CLIENT_NONE);
    assert_int_equal(sasl_client_pick(""), SASL_CLIENT_NONE);
}

/* The response decodes to what the server-side parser accepts, field by field. */
static void check_plain(const char *z, const char *c, const char *p)
{
    struct buf b64 = BUF_INIT, raw = BUF_INIT;
    assert_true(sasl_client_plain(z, c, p, &b64));
    assert_true(base64_decode(b64.data, b64.len, &raw));
    struct sasl_creds creds = {0};
    assert_true(sasl_plain_parse(raw.data, raw.len, &creds));
    if (z && *z)
        assert_string_equal(creds.authzid, z);
    else
        assert_null(creds.authzid);
    assert_string_equal(creds.authcid, c);
    assert_string_equal(creds.passwd, p);
    sasl_creds_free(&creds);
    buf_free(&b64);
    buf_free(&raw);
}

static void test_plain(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    /* RFC 4616 sec 4: "\0tim\0tanstaaftanstaaf" */
    assert_true(sasl_client_plain(NULL, "tim", "tanstaaftanstaaf", &b));
    assert_string_equal(buf_cstr(&b), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    buf_free(&b);
    check_plain(NULL, "alice@example.test", "secret");
    check_plain("admin", "alice", "p w:d");
    char big[256];
    memset(big, 'x', 255);
    big[255] = '\0';
    check_plain(big, big, big);
}

static void test_plain_refused(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    char big[257];
    memset(big, 'x', 256);
    big[256] = '\0';
    assert_false(sasl_client_plain(NULL, "", "pw", &b));
    assert_false(sasl_client_plain(NULL, "u", "", &b));
    assert_false(sasl_client_plain(NULL, big, "pw", &b));
    assert_false(sasl_client_plain(NULL, "u", big, &b));
    assert_false(sasl_client_plain(big, "u", "pw", &b));
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_login(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_true(sasl_client_login(0, "alice", "secret", &b));
    assert_string_equal(buf_cstr(&b), "YWxpY2U=");
    buf_reset(&b);
    assert_true(sasl_client_login(1, "alice", "secret", &b));
    assert_string_equal(buf_cstr(&b), "c2VjcmV0");
    buf_reset(&b);
    assert_false(sasl_client_login(2, "alice", "secret", &b));
    assert_false(sasl_client_login(0, "", "secret", &b));
    assert_false(sasl_client_login(1, "alice", "", &b));
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_pick),
               cmocka_unit_test(test_plain),
               cmocka_unit_test(test_plain_refused),
               cmocka_unit_test(test_login))
