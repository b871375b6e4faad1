/* test_dsn.c - RFC 3464 reports (lib/global/dsn.c, dsn_queue.c): NOTIFY semantics, the
 * report's structure and fields, RET=HDRS and the size limit, internationalized addresses,
 * and queueing a report as a new message from the null sender. */
#include "unit_test.h"
#include "spool_fixture.h"

#include "buf.h"
#include "dsn.h"
#include "mem.h"
#include "queue.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const original =
    "From: alice@example.test\nTo: bob@example.test\nSubject: hello\n\nThe body line.\n";

static void report_base(struct dsn_report *r, struct dsn_rcpt *rc, enum dsn_kind kind)
{
    memset(rc, 0, sizeof *rc);
    rc->addr = "bob@example.test";
    rc->orcpt = "rfc822;Bob+2BX@example.test";
    rc->action = kind == DSN_FAILURE ? "failed" : kind == DSN_DELAY ? "delayed" : "delivered";
    rc->status = kind == DSN_FAILURE ? "5.1.1" : kind == DSN_DELAY ? "4.2.2" : "2.0.0";
    rc->diag = "unknown user";
    rc->last_attempt = 1700000100;
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->hostname = "mail.example.test";
    r->from_local = "MAILER-DAEMON";
    r->queue_id = "0123456789ABCDEF01";
    r->sender = "alice@example.test";
    r->envid = "QQ+2B7";
    r->arrival = 1700000000;
    r->now = 1700000200;
    r->rcpts = rc;
    r->nrcpts = 1;
    r->size_limit = 50000;
}

static char *compose(const struct dsn_report *r, const char *content, bool complete)
{
    struct buf b = BUF_INIT;
    dsn_compose(&b, r, "FEDCBA987654321001", content, strlen(content), complete);
    buf_cstr(&b);
    return buf_steal(&b);
}

static void must_have(const char *text, const char *what)
{
    if (!strstr(text, what))
        fail_msg("missing \"%s\" in:\n%s", what, text);
}

static void must_not_have(const char *text, const char *what)
{
    if (strstr(text, what))
        fail_msg("unexpected \"%s\" in:\n%s", what, text);
}

static void test_notify(void **state)
{
    assert_true(dsn_notify_wants("", DSN_FAILURE));
    assert_false(dsn_notify_wants("", DSN_SUCCESS));
    assert_false(dsn_notify_wants("", DSN_DELAY));
    assert_false(dsn_notify_wants("NEVER", DSN_FAILURE));
    assert_true(dsn_notify_wants("SUCCESS,FAILURE", DSN_FAILURE));
    assert_true(dsn_notify_wants("success", DSN_SUCCESS));
    assert_false(dsn_notify_wants("SUCCESS", DSN_FAILURE)); /* NOTIFY without FAILURE */
    assert_true(dsn_notify_wants("DELAY,SUCCESS", DSN_DELAY));
    assert_false(dsn_notify_wants("FAILUREX", DSN_FAILURE));
}

static void test_failure_report(void **state)
{
    struct dsn_report r;
    struct dsn_rcpt rc;
    report_base(&r, &rc, DSN_FAILURE);
    char *t = compose(&r, original, true);
    must_have(t, "From: Mail Delivery System <MAILER-DAEMON@mail.example.test>\n");
    must_have(t, "To: <alice@example.test>\n");
    must_have(t, "Message-Id: <FEDCBA987654321001.dsn@mail.example.test>\n");
    must_have(t, "Auto-Submitted: auto-replied\n");
    must_have(t, "MIME-Version: 1.0\n");
    must_have(t, "Content-Type: multipart/report; report-type=delivery-status;");
    must_have(t, "Content-Type: text/plain; charset=us-ascii\n");
    must_have(t, "<bob@example.test>: unknown user\n");
    must_have(t, "Content-Type: message/delivery-status\n");
    must_have(t, "Reporting-MTA: dns; mail.example.test\n");
    must_have(t, "Original-Envelope-Id: QQ+7\n");
    must_have(t, "Arrival-Date: ");
    must_have(t, "\n\nFinal-Recipient: rfc822; bob@example.test\n"
                 "Original-Recipient: rfc822;Bob+X@example.test\n"
                 "Action: failed\nStatus: 5.1.1\n"
                 "Diagnostic-Code: x-posthorn; unknown user\nLast-Attempt-Date: ");
    must_have(t, "Content-Type: message/rfc822\n\n");
    must_have(t, original);
    must_not_have(t, "Will-Retry-Until");
    must_not_have(t, "Content-Transfer-Encoding");
    /* Three parts and a closing delimiter, with the boundary from the header. */
    const char *bp = strstr(t, "boundary=\"");
    assert_non_null(bp);
    bp += 10;
    char boundary[80];
    size_t blen = strcspn(bp, "\"");
    assert_true(blen < sizeof boundary - 8);
    snprintf(boundary, sizeof boundary, "\n--%.*s", (int)blen, bp);
    int parts = 0;
    for (const char *p = t; (p = strstr(p, boundary)) != NULL; p += strlen(boundary))
        parts++;
    assert_int_equal(parts, 4);
    strcat(boundary, "--\n");
    assert_non_null(strstr(t, boundary));
    assert_string_equal(t + strlen(t) - strlen(boundary), boundary);
    free(t);
}

static void test_headers_only(void **state)
{
    struct dsn_report r;
    struct dsn_rcpt rc;
    report_base(&r, &rc, DSN_FAILURE);
    r.ret_hdrs = true; /* RET=HDRS */
    char *t = compose(&r, original, true);
    must_have(t, "Content-Type: text/rfc822-headers\n\nFrom: alice@example.test\n");
    must_have(t, "Subject: hello\n");
    must_not_have(t, "The body line.");
    must_have(t, "the headers of your original message");
    free(t);
    /* Too large for bounce_size_limit: headers only as well. */
    report_base(&r, &rc, DSN_FAILURE);
    r.size_limit = 70;
    t = compose(&r, original, true);
    must_have(t, "text/rfc822-headers");
    must_not_have(t, "The body line.");
    free(t);
    /* Only part of the message available: never claims to return it whole. */
    report_base(&r, &rc, DSN_FAILURE);
    t = compose(&r, original, false);
    must_have(t, "text/rfc822-headers");
    free(t);
    /* A header section longer than the limit is cut at a line end. */
    report_base(&r, &rc, DSN_FAILURE);
    r.size_limit = 30;
    t = compose(&r, original, false);
    must_have(t, "text/rfc822-headers\n\nFrom: alice@example.test\n\n--");
    must_not_have(t, "To: bob");
    free(t);
    /* A message that starts with its empty line has no headers to return: none of its
     * body comes back as if it were headers. */
    report_base(&r, &rc, DSN_FAILURE);
    r.ret_hdrs = true;
    t = compose(&r, "\nsecret body\n\nmore\n", true);
    must_have(t, "Content-Type: text/rfc822-headers\n\n\n\n--");
    must_not_have(t, "secret body");
    free(t);
}

static void test_success_and_delay(void **state)
{
    struct dsn_report r;
    struct dsn_rcpt rc;
    report_base(&r, &rc, DSN_SUCCESS);
    rc.action = "expanded";
    char *t = compose(&r, original, true);
    must_have(t, "Subject: Delivery success report\n");
    must_have(t, "Action: expanded\nStatus: 2.0.0\n");
    must_have(t, "text/rfc822-headers"); /* success reports return headers only */
    must_not_have(t, "The body line.");
    free(t);
    report_base(&r, &rc, DSN_DELAY);
    rc.will_retry_until = 1700400000;
    r.envid = NULL;
    t = compose(&r, original, true);
    must_have(t, "Action: delayed\nStatus: 4.2.2\n");
    must_have(t, "Will-Retry-Until: ");
    must_not_have(t, "Original-Envelope-Id");
    free(t);
}

static void test_international_and_hostile(void **state)
{
    struct dsn_report r;
    struct dsn_rcpt rc;
    report_base(&r, &rc, DSN_FAILURE);
    rc.addr = "j\xc3\xb6rg@example.test";
    rc.orcpt = NULL;
    rc.diag = "line one\r\nInjected: header\x01";
    char *t = compose(&r, "Subject: gr\xc3\xbc\xc3\x9f\n\nbody\n", true);
    must_have(t, "Content-Type: message/global-delivery-status\n");
    must_have(t, "Final-Recipient: utf-8; j\xc3\xb6rg@example.test\n");
    must_have(t, "Content-Type: message/global\n");
    must_have(t, "Content-Transfer-Encoding: 8bit\n");
    must_not_have(t, "Original-Recipient");
    must_not_have(t, "\nInjected: header");
    must_have(t, "Diagnostic-Code: x-posthorn; line one??Injected: header?\n");
    free(t);
}

static int collect(void *ctx, const char *data, size_t len)
{
    buf_append(ctx, data, len);
    return 0;
}

static void test_queue_report(void **state)
{
    char *spool = make_spool(), *err = NULL;
    struct queue_writer *w = queue_create(spool, &err);
    assert_non_null(w);
    char orig_id[QUEUE_ID_SIZE];
    snprintf(orig_id, sizeof orig_id, "%s", queue_writer_id(w));
    queue_put_str(w, REC_SENDER, "alice@example.test");
    queue_put_rcpt(w, "bob@example.test", "", "");
    queue_begin_message(w);
    queue_write_body(w, original, strlen(original));
    assert_int_equal(queue_commit(w, true, &err), 0);
    char *path = queue_path(spool, QUEUE_INCOMING, orig_id);
    int fd = open(path, O_RDONLY);
    free(path);
    assert_true(fd >= 0);
    struct queue_msg m;
    assert_int_equal(queue_read(fd, orig_id, &m, &err), 0);

    struct dsn_report r;
    struct dsn_rcpt rc;
    report_base(&r, &rc, DSN_FAILURE);
    r.queue_id = orig_id;
    char id[QUEUE_ID_SIZE];
    assert_int_equal(dsn_queue(spool, &r, fd, &m, id, &err), 0);
    queue_msg_free(&m);
    close(fd);

    path = queue_path(spool, QUEUE_INCOMING, id);
    fd = open(path, O_RDONLY);
    free(path);
    assert_true(fd >= 0);
    assert_int_equal(queue_read(fd, id, &m, &err), 0);
    assert_string_equal(m.sender, "");
    assert_int_equal(m.nrcpts, 1);
    assert_string_equal(m.rcpts[0].addr, "alice@example.test");
    assert_string_equal(queue_msg_attr(&m, "dsn_for"), orig_id);
    struct buf b = BUF_INIT;
    assert_int_equal(queue_read_body(fd, &m, collect, &b, &err), 0);
    must_have(buf_cstr(&b), "Action: failed\n");
    must_have(buf_cstr(&b), original);
    char mid[80];
    snprintf(mid, sizeof mid, "Message-Id: <%s.dsn@", id);
    must_have(buf_cstr(&b), mid);
    buf_free(&b);
    queue_msg_free(&m);
    close(fd);
    char *cmd = xasprintf("rm -rf '%s'", spool);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(spool);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_notify),
               cmocka_unit_test(test_failure_report),
               cmocka_unit_test(test_headers_only),
               cmocka_unit_test(test_success_and_delay),
               cmocka_unit_test(test_international_and_hostile),
               cmocka_unit_test(test_queue_report))
