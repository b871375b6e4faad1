/* test_ipc.c - lib/ipc: encode/decode round trips (values with %, CR, LF), %XX escapes in
 * both cases of hex, %00 and broken escapes refused, the 1 MB limit, repeated names, bad
 * names and lines, incomplete messages, the blocking connection with a passed descriptor
 * over a socketpair, the announcement check, and the indexed-group API (rcpt_0, rcpt_1 ...:
 * exact bytes, dense counts, gaps, repeats, malformed indexes, sparse optional groups). */
#include "unit_test.h"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "ipc.h"

/* Decode text as one complete message; returns ipc_decode's result. */
static int decode(const char *text, size_t len, struct attrs *a, char **err)
{
    size_t used = 0;
    *err = NULL;
    int r = ipc_decode(text, len, a, &used, err);
    if (r == 1)
        assert_int_equal(used, len);
    return r;
}

static void expect_refused(const char *text)
{
    struct attrs a = {0};
    char *err = NULL;
    assert_int_equal(decode(text, strlen(text), &a, &err), -1);
    assert_non_null(err);
    assert_int_equal(a.n, 0);
    free(err);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct attrs a = {0}, b = {0};
    attrs_add(&a, "request", "deliver");
    attrs_add(&a, "text", "50% off\r\nsecond line\n");
    attrs_add(&a, "empty", "");
    attrs_addf(&a, "n", "%d", 42);
    struct buf out = BUF_INIT;
    ipc_encode(&out, &a);
    assert_string_equal(buf_cstr(&out),
                        "request=deliver\ntext=50%25 off%0D%0Asecond line%0A\nempty=\nn=42\n\n");
    char *err;
    assert_int_equal(decode(out.data, out.len, &b, &err), 1);
    assert_int_equal(b.n, 4);
    for (size_t i = 0; i < a.n; i++) {
        assert_string_equal(a.v[i].name, b.v[i].name);
        assert_string_equal(a.v[i].value, b.v[i].value);
    }
    long long n;
    assert_true(attrs_get_ll(&b, "n", &n));
    assert_int_equal(n, 42);
    assert_false(attrs_get_ll(&b, "text", &n));
    assert_null(attrs_get(&b, "missing"));
    /* numbers only as the encoders write them (fuzz_qmgr_reply: "nrcpt=02" was taken as 2) */
    static const char *const refused[] = {"02", "-0", "-", "+1", " 1", "1 ", "00"};
    static const char *const taken[] = {"0", "-7", "10"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        struct attrs c = {0};
        attrs_add(&c, "v", refused[i]);
        assert_false(attrs_get_ll(&c, "v", &n));
        attrs_free(&c);
    }
    for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++) {
        struct attrs c = {0};
        attrs_add(&c, "v", taken[i]);
        assert_true(attrs_get_ll(&c, "v", &n));
        assert_int_equal(n, strtoll(taken[i], NULL, 10));
        attrs_free(&c);
    }
    buf_free(&out);
    attrs_free(&a);
    attrs_free(&b);
}

static void test_escapes(void **state)
{
    (void)state;
    struct attrs a = {0};
    char *err;
    const char *m = "v=%41%62%7e%7E%25x\n\n";
    assert_int_equal(decode(m, strlen(m), &a, &err), 1);
    assert_string_equal(attrs_get(&a, "v"), "Ab~~%x");
    attrs_free(&a);
    expect_refused("v=a%00b\n\n");  /* NUL never enters a value */
    expect_refused("v=%4\n\n");     /* short escape */
    expect_refused("v=%zz\n\n");    /* not hex */
    expect_refused("v=50%\n\n");    /* escape at the end */
}

static void test_bad_lines_refused(void **state)
{
    (void)state;
    expect_refused("novalue\n\n");
    expect_refused("=value\n\n");
    expect_refused("Name=upper\n\n");
    expect_refused("na-me=dash\n\n");
    expect_refused("a=1\nb=2\na=3\n\n"); /* repeated name */
    expect_refused("rcpt_0=x\nrcpt_0=x\n\n");
    static const char nul[] = "a=x\0y\n\n";
    struct attrs a = {0};
    char *err;
    assert_int_equal(decode(nul, sizeof nul - 1, &a, &err), -1);
    free(err);
}

static void test_incomplete_needs_more(void **state)
{
    (void)state;
    struct attrs a = {0};
    char *err;
    assert_int_equal(decode("a=1\nb=", 6, &a, &err), 0);
    assert_int_equal(decode("a=1\n", 4, &a, &err), 0);
    assert_int_equal(decode("", 0, &a, &err), 0);
    assert_null(err);
    /* A complete message followed by the start of the next: only the first is used. */
    size_t used;
    assert_int_equal(ipc_decode("a=1\n\nb=2\n", 9, &a, &used, &err), 1);
    assert_int_equal(used, 5);
    assert_int_equal(a.n, 1);
    attrs_free(&a);
}

static void test_size_limit(void **state)
{
    (void)state;
    size_t big = IPC_MAX_MESSAGE + 10;
    char *m = malloc(big + 1);
    memset(m, 'x', big);
    memcpy(m, "v=", 2);
    struct attrs a = {0};
    char *err = NULL;
    /* Unterminated and over the limit: refused without waiting for more. */
    assert_int_equal(decode(m, big, &a, &err), -1);
    free(err);
    /* Complete but over the limit: refused too. */
    m[big - 2] = '\n';
    m[big - 1] = '\n';
    assert_int_equal(decode(m, big, &a, &err), -1);
    free(err);
    /* Just under the limit: fine. */
    size_t ok = IPC_MAX_MESSAGE;
    m[ok - 2] = '\n';
    m[ok - 1] = '\n';
    assert_int_equal(decode(m, ok, &a, &err), 1);
    assert_int_equal(strlen(attrs_get(&a, "v")), ok - 4);
    attrs_free(&a);
    free(m);
}

static void test_indexed_bytes_and_lookup(void **state)
{
    (void)state;
    struct attrs a = {0};
    attrs_add(&a, "nrcpt", "2");
    attrs_add_indexed(&a, "rcpt", 0, "a@x.test");
    attrs_add_indexed(&a, "orcpt", 0, "rfc822;a@x.test");
    attrs_add_indexed(&a, "rcpt", 1, "b@x.test");
    struct buf out = BUF_INIT;
    ipc_encode(&out, &a);
    assert_string_equal(buf_cstr(&out),
                        "nrcpt=2\nrcpt_0=a@x.test\norcpt_0=rfc822;a@x.test\nrcpt_1=b@x.test\n\n");
    assert_string_equal(attrs_get_indexed(&a, "rcpt", 1), "b@x.test");
    assert_null(attrs_get_indexed(&a, "rcpt", 2));
    assert_null(attrs_get_indexed(&a, "orcpt", 1));
    size_t n = 99;
    char *err = NULL;
    assert_int_equal(attrs_group_count(&a, "rcpt", &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(attrs_group_count(&a, "dsn", &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(attrs_group_check_sparse(&a, "orcpt", 2, &err), 0);
    assert_int_equal(attrs_group_check_sparse(&a, "orcpt", 0, &err), -1); /* index 0 >= 0 */
    free(err);
    buf_free(&out);
    attrs_free(&a);
}

static void test_name_indexed(void **state)
{
    (void)state;
    size_t k = 7;
    assert_true(attrs_name_indexed("rcpt_0", "rcpt", &k));
    assert_int_equal(k, 0);
    assert_true(attrs_name_indexed("rcpt_120", "rcpt", &k));
    assert_int_equal(k, 120);
    assert_false(attrs_name_indexed("rcpt_", "rcpt", &k));
    assert_false(attrs_name_indexed("rcpt_01", "rcpt", &k));
    assert_false(attrs_name_indexed("rcpt_1a", "rcpt", &k));
    assert_false(attrs_name_indexed("rcpt_-1", "rcpt", &k));
    assert_false(attrs_name_indexed("rcpt_1234567890", "rcpt", &k));
    assert_false(attrs_name_indexed("orcpt_1", "rcpt", &k));
    assert_false(attrs_name_indexed("rcpt1", "rcpt", &k));
    assert_false(attrs_name_indexed("rcpts_1", "rcpt", &k));
}

/* Decode text, then count group g: the count, or -1 when refused. */
static long long count_of(const char *text, const char *g)
{
    struct attrs a = {0};
    char *err = NULL;
    assert_int_equal(decode(text, strlen(text), &a, &err), 1);
    size_t n;
    int r = attrs_group_count(&a, g, &n, &err);
    if (r < 0) {
        assert_non_null(err);
        free(err);
    }
    attrs_free(&a);
    return r < 0 ? -1 : (long long)n;
}

static void test_group_count_strict(void **state)
{
    (void)state;
    assert_int_equal(count_of("rcpt_1=b\nrcpt_0=a\nrcpt_2=c\n\n", "rcpt"), 3); /* any order */
    assert_int_equal(count_of("rcpt_0=a\nrcpt_2=c\n\n", "rcpt"), -1);           /* gap */
    assert_int_equal(count_of("rcpt_1=b\n\n", "rcpt"), -1);                     /* no 0 */
    assert_int_equal(count_of("rcpt_0=a\nrcpt_00=a\n\n", "rcpt"), -1);          /* malformed */
    assert_int_equal(count_of("rcpt_0=a\nrcpt_x=a\n\n", "rcpt"), -1);
    assert_int_equal(count_of("rcpt_0=a\norcpt_5=z\n\n", "rcpt"), 1); /* other groups ignored */
    /* A repeat inside one group (built in memory; the decoder already refuses it). */
    struct attrs a = {0};
    attrs_add_indexed(&a, "rcpt", 0, "a");
    attrs_add_indexed(&a, "rcpt", 0, "b");
    size_t n;
    char *err = NULL;
    assert_int_equal(attrs_group_count(&a, "rcpt", &n, &err), -1);
    free(err);
    err = NULL;
    assert_int_equal(attrs_group_check_sparse(&a, "rcpt", 5, &err), -1);
    free(err);
    attrs_free(&a);
}

static void test_conn_with_descriptor(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct ipc_conn server, client;
    ipc_conn_init(&server, sv[0], 2000);
    ipc_conn_init(&client, sv[1], 2000);
    assert_int_equal(ipc_announce(&server, "deliver"), 0);
    char *err = NULL;
    assert_int_equal(ipc_expect(&client, "deliver", &err), 0);
    int file = open("/dev/null", O_RDONLY);
    struct attrs req = {0}, got = {0};
    attrs_add(&req, "request", "deliver");
    assert_int_equal(ipc_send(&client, &req, file), 0);
    assert_int_equal(ipc_recv(&server, &got, &err), 1);
    assert_string_equal(attrs_get(&got, "request"), "deliver");
    assert_true(server.passed_fd >= 0);
    struct stat s1, s2;
    fstat(file, &s1);
    fstat(server.passed_fd, &s2);
    assert_true(s1.st_ino == s2.st_ino && s1.st_dev == s2.st_dev);
    attrs_free(&got);
    /* A second descriptor while one is still held: the next message is refused. */
    assert_int_equal(ipc_send(&client, &req, file), 0);
    assert_int_equal(ipc_recv(&server, &got, &err), -1);
    assert_non_null(err);
    free(err);
    err = NULL;
    /* The wrong protocol in an announcement is refused. */
    assert_int_equal(ipc_announce(&client, "qmgr"), 0);
    assert_int_equal(ipc_expect(&server, "deliver", &err), -1);
    free(err);
    attrs_free(&req);
    close(file);
    ipc_conn_close(&server);
    ipc_conn_close(&client);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_round_trip),
               cmocka_unit_test(test_escapes),
               cmocka_unit_test(test_bad_lines_refused),
               cmocka_unit_test(test_incomplete_needs_more),
               cmocka_unit_test(test_size_limit),
               cmocka_unit_test(test_indexed_bytes_and_lookup),
               cmocka_unit_test(test_name_indexed),
               cmocka_unit_test(test_group_count_strict),
               cmocka_unit_test(test_conn_with_descriptor))
