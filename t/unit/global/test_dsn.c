/* test_dsn.c - RFC 3464 reports (lib/global/dsn.c, dsn_queue.c): NOTIFY semantics, the
 * report's structure and fields, RET=HDRS and the size limit, internationalized addresses,
 * the backscatter rule (headers only for loops and policy failures), the bounded notice
 * (recipients that do not fit are counted, ORCPT cut, the worst-case fields within
 * DSN_NOTICE_MIN and DSN_FRAME_MAX), and queueing a report as a new message from <>. */
#include "unit_test.h"
#include "spool_fixture.h"

#include "buf.h"
#include "config.h"
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

/* RFC 3464 sec 2.3.5, 2.3.6: a remote server's answer (smtp-client's "host NAME[ADDR]
 * said: REPLY (in reply to CMD command)") gives Remote-MTA and an smtp Diagnostic-Code. */
static void test_remote_mta(void **state)
{
    struct dsn_report r;
    struct dsn_rcpt rc;
    report_base(&r, &rc, DSN_FAILURE);
    rc.diag = "host mx.example.com[192.0.2.1] said: 550 5.1.1 <bob@example.test>: no such user "
              "(in reply to RCPT TO command)";
    char *t = compose(&r, original, true);
    must_have(t, "Action: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.example.com\n"
                 "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.test>: no such user\n"
                 "Last-Attempt-Date: ");
    free(t);
    /* without the command (after the end of data it is "end of DATA": the same shape) */
    rc.diag = "host [192.0.2.7][192.0.2.7] said: 554 5.7.1 spam";
    t = compose(&r, original, true);
    must_have(t, "Remote-MTA: dns; [192.0.2.7]\nDiagnostic-Code: smtp; 554 5.7.1 spam\n");
    free(t);
    /* anything else stays our own text */
    static const char *const ours[] = {"lost connection with host mx[192.0.2.1] while sending",
                                       "host  said: x", "host mx said: 550 x", "host [] said: "};
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++) {
        rc.diag = ours[i];
        t = compose(&r, original, true);
        must_not_have(t, "Remote-MTA");
        must_have(t, "Diagnostic-Code: x-posthorn; ");
        free(t);
    }
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

static void test_hdrs_only_statuses(void **state)
{
    assert_true(dsn_status_hdrs_only("5.4.6"));  /* mail loop */
    assert_true(dsn_status_hdrs_only("5.7.1"));  /* policy */
    assert_true(dsn_status_hdrs_only("5.7.0"));
    assert_true(dsn_status_hdrs_only("5.7.26"));
    assert_false(dsn_status_hdrs_only("5.1.1")); /* unknown user: the body comes back */
    assert_false(dsn_status_hdrs_only("5.4.7")); /* expired */
    assert_false(dsn_status_hdrs_only("5.4.60"));
    assert_false(dsn_status_hdrs_only("4.7.1"));
    assert_false(dsn_status_hdrs_only("4.4.6"));
    assert_false(dsn_status_hdrs_only(""));
    assert_false(dsn_status_hdrs_only(NULL));
}

static void test_hdrs_only_report(void **state)
{
    struct dsn_report r;
    struct dsn_rcpt rc;
    report_base(&r, &rc, DSN_FAILURE);
    rc.status = "5.4.6";
    r.hdrs_only = true; /* RET=FULL (or none), small and complete: still headers only */
    char *t = compose(&r, original, true);
    must_have(t, "Content-Type: text/rfc822-headers\n\nFrom: alice@example.test\n");
    must_have(t, "the headers of your original message");
    must_not_have(t, "The body line.");
    must_not_have(t, "message/rfc822");
    free(t);
}

/* Content of part n (1-based) of a composed report, after its MIME header; *len its length
 * without the line end that belongs to the next delimiter. */
static const char *part_body(const char *t, int n, size_t *len)
{
    const char *bp = strstr(t, "boundary=\"");
    assert_non_null(bp);
    bp += 10;
    char delim[80];
    snprintf(delim, sizeof delim, "\n--%.*s", (int)strcspn(bp, "\""), bp);
    const char *p = t;
    for (int i = 0; i < n; i++) {
        p = strstr(p + 1, delim);
        assert_non_null(p);
    }
    p = strstr(p, "\n\n");
    assert_non_null(p);
    p += 2;
    const char *end = strstr(p, delim);
    assert_non_null(end);
    *len = (size_t)(end - p);
    return p;
}

static size_t count(const char *t, const char *what)
{
    size_t n = 0;
    for (const char *p = t; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

/* NOTIFY=SUCCESS for 300 recipients with 500-character ORCPTs (the attack of issue 12). */
static void test_notice_limit(void **state)
{
    enum { N = 300 };
    struct dsn_rcpt *v = xcalloc(N, sizeof *v);
    char **addrs = xcalloc(N, sizeof *addrs), **orcpts = xcalloc(N, sizeof *orcpts);
    struct dsn_report r;
    report_base(&r, &v[0], DSN_SUCCESS);
    for (int i = 0; i < N; i++) {
        addrs[i] = xasprintf("bob+%d@example.test", i);
        char local[600];
        memset(local, 'a', sizeof local);
        local[500 - strlen("rfc822;@example.test")] = 0;
        orcpts[i] = xasprintf("rfc822;%s@example.test", local);
        assert_int_equal(strlen(orcpts[i]), 500);
        v[i] = (struct dsn_rcpt){.addr = addrs[i], .orcpt = orcpts[i], .action = "delivered",
                                 .status = "2.0.0", .diag = "delivered to maildir",
                                 .last_attempt = 1700000100};
    }
    r.rcpts = v;
    r.nrcpts = N;
    r.notice_limit = 32768;
    char *t = compose(&r, original, true);
    size_t hl, sl, rl;
    part_body(t, 1, &hl);
    const char *status = part_body(t, 2, &sl);
    part_body(t, 3, &rl);
    assert_true(hl + sl <= r.notice_limit);
    assert_true(strlen(t) - hl - sl - rl <= DSN_FRAME_MAX);
    size_t listed = count(t, "\nFinal-Recipient: ");
    assert_true(listed > 10 && listed < N);
    char *note = xasprintf("\n%zu more recipients are not listed: this report is limited to "
                           "32768 bytes.\n", N - listed);
    must_have(t, note);
    free(note);
    note = xasprintf("X-Posthorn-Unlisted-Recipients: %zu\n\nFinal-Recipient: ", N - listed);
    must_have(status, note);
    free(note);
    /* The listed ones are the first ones, in order. */
    must_have(t, "Final-Recipient: rfc822; bob+0@example.test\n");
    char *last = xasprintf("Final-Recipient: rfc822; bob+%zu@example.test\n", listed - 1);
    must_have(t, last);
    free(last);
    /* Original-Recipient: present (RFC 3461 sec 6.3 (d)), cut to DSN_ORCPT_SHOWN bytes. */
    const char *o = strstr(status, "Original-Recipient: rfc822;");
    assert_non_null(o);
    o += strlen("Original-Recipient: rfc822;");
    assert_int_equal(strcspn(o, "\n"), DSN_ORCPT_SHOWN);
    assert_memory_equal(o + DSN_ORCPT_SHOWN - 3, "...", 3);
    free(t);
    /* A limit below DSN_NOTICE_MIN counts as DSN_NOTICE_MIN. */
    r.notice_limit = 100;
    t = compose(&r, original, true);
    part_body(t, 1, &hl);
    part_body(t, 2, &sl);
    assert_true(hl + sl <= DSN_NOTICE_MIN);
    must_have(t, "this report is limited to 8192 bytes.");
    free(t);
    /* Everything fits: no note. */
    r.nrcpts = 3;
    r.notice_limit = 32768;
    t = compose(&r, original, true);
    assert_int_equal(count(t, "\nFinal-Recipient: "), 3);
    must_not_have(t, "not listed");
    must_not_have(t, "X-Posthorn-Unlisted-Recipients");
    free(t);
    for (int i = 0; i < N; i++) {
        free(addrs[i]);
        free(orcpts[i]);
    }
    free(addrs);
    free(orcpts);
    free(v);
}

/* The longest field of every kind: the first recipient still fits in DSN_NOTICE_MIN (so it
 * is always listed within the limit), the header and framing in DSN_FRAME_MAX. */
static void test_worst_case_fields(void **state)
{
    char *big = xmalloc(3001), *xt = xmalloc(3001);
    memset(big, 'x', 3000);
    big[3000] = 0;
    char *addr = xasprintf("\"%.900s \\\" %.90s\"@%.250s", big, big, big); /* needs quoting */
    for (size_t i = 0; i < 3000; i++)
        xt[i] = i % 2 ? '@' : '"';
    xt[3000] = 0;
    char *orcpt = xasprintf("%.100s;%.400s", big, big);
    struct dsn_rcpt rc[2] = {{.addr = addr, .orcpt = orcpt, .action = big, .status = big,
                              .diag = xt, .diag_type = big, .last_attempt = 1700000100,
                              .will_retry_until = 1700400000}};
    rc[1] = rc[0];
    struct dsn_report r;
    struct dsn_rcpt unused;
    report_base(&r, &unused, DSN_DELAY);
    r.hostname = big;
    r.origin = big;
    r.from_local = big;
    r.queue_id = big;
    r.sender = addr;
    r.envid = big;
    r.rcpts = rc;
    r.nrcpts = 2;
    r.notice_limit = 0;
    char *t = compose(&r, original, true);
    size_t hl, sl, rl;
    part_body(t, 1, &hl);
    part_body(t, 2, &sl);
    part_body(t, 3, &rl);
    print_message("worst case: notice %zu of %d, frame %zu of %d\n", hl + sl, DSN_NOTICE_MIN,
                  strlen(t) - hl - sl - rl, DSN_FRAME_MAX);
    assert_true(hl + sl <= DSN_NOTICE_MIN);
    assert_true(strlen(t) - hl - sl - rl <= DSN_FRAME_MAX);
    assert_int_equal(count(t, "\nFinal-Recipient: "), 1);
    must_have(t, "\n1 more recipient is not listed");
    must_have(t, "X-Posthorn-Unlisted-Recipients: 1\n");
    free(t);
    free(addr);
    free(orcpt);
    free(big);
    free(xt);
}

/* main.cf cannot ask for less than the notice always needs. */
static void test_notice_param(void **state)
{
    const struct param_def *p = param_find("bounce_notice_size_limit");
    assert_non_null(p);
    assert_int_equal(p->min, DSN_NOTICE_MIN);
    assert_non_null(param_find("soft_bounce"));
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
               cmocka_unit_test(test_remote_mta),
               cmocka_unit_test(test_failure_report),
               cmocka_unit_test(test_headers_only),
               cmocka_unit_test(test_success_and_delay),
               cmocka_unit_test(test_international_and_hostile),
               cmocka_unit_test(test_hdrs_only_statuses),
               cmocka_unit_test(test_hdrs_only_report),
               cmocka_unit_test(test_notice_limit),
               cmocka_unit_test(test_worst_case_fields),
               cmocka_unit_test(test_notice_param),
               cmocka_unit_test(test_queue_report))
