/* test_queue.c - queue file writer/reader (lib/global/queue.c) and queue directory operations
 * (lib/global/queue_ops.c): round trips, many recipients, large bodies, recipient marks, and
 * malformed files that the reader must reject. */
#include "unit_test.h"
#include "spool_fixture.h"

#include "buf.h"
#include "fileio.h"
#include "mem.h"
#include "queue.h"
#include "queue_ops.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void rm_spool(char *spool)
{
    char *cmd = xasprintf("rm -rf '%s'", spool);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(spool);
}

static int open_queued(const char *spool, const char *queue, const char *id)
{
    char *p = queue_path(spool, queue, id);
    int fd = open(p, O_RDWR);
    free(p);
    assert_true(fd >= 0);
    return fd;
}

static int collect(void *ctx, const char *data, size_t len)
{
    buf_append(ctx, data, len);
    return 0;
}

/* Write a message with the given body; returns its ID (static storage). */
static const char *write_msg(const char *spool, const char *body, size_t len, size_t nrcpt)
{
    static char id[QUEUE_ID_SIZE];
    char *err = NULL;
    struct queue_writer *w = queue_create(spool, &err);
    assert_non_null(w);
    snprintf(id, sizeof id, "%s", queue_writer_id(w));
    assert_true(queue_id_valid(id));
    queue_put_str(w, REC_SENDER, "alice@example.test");
    queue_put_attr(w, "envid", "ID+2B1");
    queue_put_attr(w, "ret", "HDRS");
    for (size_t i = 0; i < nrcpt; i++) {
        char addr[64];
        snprintf(addr, sizeof addr, "user%zu@example.test", i);
        queue_put_rcpt(w, addr, i == 0 ? "rfc822;user0@example.test" : "", i == 0 ? "SUCCESS" : "");
    }
    queue_begin_message(w);
    /* Uneven pieces, to cross chunk boundaries at odd places. */
    for (size_t off = 0; off < len;) {
        size_t n = len - off < 70001 ? len - off : 70001;
        queue_write_body(w, body + off, n);
        off += n;
    }
    assert_false(queue_failed(w));
    assert_int_equal(queue_body_size(w), len);
    assert_int_equal(queue_commit(w, true, &err), 0);
    return id;
}

static void test_round_trip(void **state)
{
    char *spool = make_spool();
    const char *body = "Subject: hi\n\nhello\n";
    const char *id = write_msg(spool, body, strlen(body), 2);
    char *tmp = queue_path(spool, QUEUE_TMP, id);
    assert_int_equal(access(tmp, F_OK), -1); /* renamed away */
    free(tmp);
    int fd = open_queued(spool, QUEUE_INCOMING, id);
    struct queue_msg m;
    char *err = NULL;
    assert_int_equal(queue_read(fd, id, &m, &err), 0);
    assert_string_equal(m.sender, "alice@example.test");
    assert_string_equal(queue_msg_attr(&m, "envid"), "ID+2B1");
    assert_string_equal(queue_msg_attr(&m, "ret"), "HDRS");
    assert_null(queue_msg_attr(&m, "nothing"));
    assert_int_equal(m.nrcpts, 2);
    assert_string_equal(m.rcpts[0].addr, "user0@example.test");
    assert_string_equal(m.rcpts[0].orcpt, "rfc822;user0@example.test");
    assert_string_equal(m.rcpts[0].notify, "SUCCESS");
    assert_string_equal(m.rcpts[1].orcpt, "");
    assert_int_equal(m.body_size, strlen(body));
    assert_true(m.arrival_sec > 1600000000);
    struct buf b = BUF_INIT;
    assert_int_equal(queue_read_body(fd, &m, collect, &b, &err), 0);
    assert_int_equal(b.len, strlen(body));
    assert_memory_equal(b.data, body, b.len);
    /* Mark the second recipient done; a fresh read sees it. */
    assert_int_equal(queue_msg_pending(&m), 2);
    assert_int_equal(queue_mark_done(fd, &m.rcpts[1]), 0);
    assert_int_equal(queue_msg_pending(&m), 1);
    queue_msg_free(&m);
    assert_int_equal(queue_read(fd, id, &m, &err), 0);
    assert_false(m.rcpts[0].done);
    assert_true(m.rcpts[1].done);
    assert_int_equal(queue_msg_pending(&m), 1);
    queue_msg_free(&m);
    buf_free(&b);
    close(fd);
    rm_spool(spool);
}

static void test_many_and_large(void **state)
{
    char *spool = make_spool();
    size_t len = 3 * QUEUE_CHUNK + 12345;
    char *body = xmalloc(len);
    for (size_t i = 0; i < len; i++)
        body[i] = (char)(i * 131 + (i >> 7)); /* every byte value, NULs included */
    const char *id = write_msg(spool, body, len, 2000);
    int fd = open_queued(spool, QUEUE_INCOMING, id);
    struct queue_msg m;
    char *err = NULL;
    assert_int_equal(queue_read(fd, id, &m, &err), 0);
    assert_int_equal(m.nrcpts, 2000);
    assert_string_equal(m.rcpts[1999].addr, "user1999@example.test");
    assert_int_equal(m.body_size, len);
    struct buf b = BUF_INIT;
    assert_int_equal(queue_read_body(fd, &m, collect, &b, &err), 0);
    assert_int_equal(b.len, len);
    assert_memory_equal(b.data, body, len);
    queue_msg_free(&m);
    buf_free(&b);
    free(body);
    close(fd);
    /* Many messages: unique IDs, all listed in order. */
    for (int i = 0; i < 50; i++)
        write_msg(spool, "x\n", 2, 1);
    char **ids;
    size_t n;
    assert_int_equal(queue_list(spool, QUEUE_INCOMING, &ids, &n), 0);
    assert_int_equal(n, 51);
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(ids[i - 1], ids[i]) < 0);
    queue_list_free(ids, n);
    rm_spool(spool);
}

/* --- malformed files --- */

static void rec(struct buf *b, char type, const void *data, size_t len)
{
    unsigned char h[5] = {(unsigned char)type, (unsigned char)(len >> 24), (unsigned char)(len >> 16),
                          (unsigned char)(len >> 8), (unsigned char)len};
    buf_append(b, h, 5);
    buf_append(b, data, len);
}

static void rec_s(struct buf *b, char type, const char *s) { rec(b, type, s, strlen(s)); }

/* A valid file: V T S R M B E. */
static void good_file(struct buf *b)
{
    rec_s(b, 'V', "1");
    rec_s(b, 'T', "1700000000.5");
    rec_s(b, 'S', "a@b.test");
    rec(b, 'R', "c@d.test\0\0", 10);
    rec_s(b, 'M', "");
    rec_s(b, 'B', "Subject: x\n\nbody\n");
    rec_s(b, 'E', "");
}

static int read_bytes(const struct buf *b, char **err)
{
    char path[] = "/tmp/posthorn-test-qfile-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write_full(fd, b->data, b->len), 0);
    struct queue_msg m;
    int r = queue_read(fd, "0123456789ABCDEF01", &m, err);
    if (r == 0)
        queue_msg_free(&m);
    close(fd);
    return r;
}

static void expect_reject(struct buf *b, const char *why)
{
    char *err = NULL;
    assert_int_equal(read_bytes(b, &err), -1);
    assert_non_null(err);
    if (!strstr(err, why))
        fail_msg("expected \"%s\", got \"%s\"", why, err);
    free(err);
    buf_free(b);
}

static void test_good_file(void **state)
{
    struct buf b = BUF_INIT;
    char *err = NULL;
    good_file(&b);
    assert_int_equal(read_bytes(&b, &err), 0);
    buf_free(&b);
}

static void test_truncated_header(void **state)
{
    struct buf b = BUF_INIT;
    good_file(&b);
    buf_truncate(&b, b.len - 3); /* the END record's header cut short */
    expect_reject(&b, "truncated record header");
}

static void test_record_longer_than_file(void **state)
{
    struct buf b = BUF_INIT;
    rec_s(&b, 'V', "1");
    rec_s(&b, 'S', "a@b.test");
    unsigned char h[5] = {'B', 0, 0, 1, 0}; /* says 256 bytes, has 3 */
    buf_append(&b, h, 5);
    buf_append(&b, "abc", 3);
    expect_reject(&b, "record longer than file");
}

static void test_missing_end(void **state)
{
    struct buf b = BUF_INIT;
    good_file(&b);
    buf_truncate(&b, b.len - 5);
    expect_reject(&b, "missing END");
}

static void test_data_after_end(void **state)
{
    struct buf b = BUF_INIT;
    good_file(&b);
    rec_s(&b, 'B', "smuggled");
    expect_reject(&b, "data after END");
}

static void test_unknown_type(void **state)
{
    struct buf b = BUF_INIT;
    rec_s(&b, 'V', "1");
    rec_s(&b, 'S', "a@b.test");
    rec_s(&b, 'Z', "what");
    rec_s(&b, 'M', "");
    rec_s(&b, 'E', "");
    expect_reject(&b, "unknown record type");
}

static void test_bad_recipient(void **state)
{
    struct buf b = BUF_INIT;
    rec_s(&b, 'V', "1");
    rec_s(&b, 'S', "a@b.test");
    rec(&b, 'R', "c@d.test\0only-two-fields", 24);
    rec_s(&b, 'M', "");
    rec_s(&b, 'E', "");
    expect_reject(&b, "malformed recipient");
    rec_s(&b, 'V', "1");
    rec_s(&b, 'S', "a@b.test");
    rec(&b, 'R', "c@d.test\0\0\0four", 15);
    rec_s(&b, 'M', "");
    rec_s(&b, 'E', "");
    expect_reject(&b, "malformed recipient");
}

static void test_missing_sender(void **state)
{
    struct buf b = BUF_INIT;
    rec_s(&b, 'V', "1");
    rec(&b, 'R', "c@d.test\0\0", 10);
    rec_s(&b, 'M', "");
    rec_s(&b, 'E', "");
    expect_reject(&b, "missing sender");
}

static void test_other_malformed(void **state)
{
    struct buf b = BUF_INIT;
    rec_s(&b, 'S', "a@b.test"); /* no version first */
    rec_s(&b, 'M', "");
    rec_s(&b, 'E', "");
    expect_reject(&b, "missing version");
    rec_s(&b, 'V', "3");
    expect_reject(&b, "unsupported version");
    rec_s(&b, 'V', "1");
    rec_s(&b, 'V', "1");
    expect_reject(&b, "second version");
    rec_s(&b, 'V', "1");
    rec_s(&b, 'S', "a@b.test");
    rec_s(&b, 'B', "body before M");
    expect_reject(&b, "before message start");
    rec_s(&b, 'V', "1");
    rec(&b, 'S', "a\0b", 3);
    expect_reject(&b, "NUL byte");
    rec_s(&b, 'V', "1");
    rec_s(&b, 'S', "a@b.test");
    rec_s(&b, 'S', "c@b.test");
    expect_reject(&b, "second sender");
    rec_s(&b, 'V', "1");
    rec_s(&b, 'S', "a@b.test");
    rec_s(&b, 'M', "");
    rec_s(&b, 'R', "late");
    expect_reject(&b, "unexpected record in message content");
    rec_s(&b, 'V', "1");
    rec_s(&b, 'A', "no-equals-sign");
    expect_reject(&b, "without '='");
    expect_reject(&b, "missing END"); /* an empty file */
}

/* A version 2 file: content, then REC_PREPEND records, then END. */
static void prepend_file(struct buf *b, const char *version)
{
    rec_s(b, 'V', version);
    rec_s(b, 'S', "a@b.test");
    rec_s(b, 'M', "");
    rec_s(b, 'B', "Subject: x\n\nbody\n");
    rec_s(b, 'H', "DKIM-Signature: one\n");
    rec_s(b, 'H', "DKIM-Signature: two\n");
    rec_s(b, 'E', "");
}

static void test_prepend_records(void **state)
{
    struct buf b = BUF_INIT;
    char *err = NULL;
    prepend_file(&b, "2");
    assert_int_equal(read_bytes(&b, &err), 0);
    buf_free(&b);
    prepend_file(&b, "1"); /* version 1 has no such records */
    expect_reject(&b, "unexpected record in message content");
    rec_s(&b, 'V', "2");
    rec_s(&b, 'S', "a@b.test");
    rec_s(&b, 'M', "");
    rec_s(&b, 'H', "X: y\n");
    rec_s(&b, 'B', "content after a prepended field");
    rec_s(&b, 'E', "");
    expect_reject(&b, "unexpected record in message content");
    rec_s(&b, 'V', "2");
    rec_s(&b, 'S', "a@b.test");
    rec_s(&b, 'H', "X: y\n");
    expect_reject(&b, "before message start");
}

/* The DKIM path: write, read the unfinished file through a second descriptor, add a
 * field to prepend, commit; every reader then sees the field first. Twice: a small body
 * (the version record still buffered at commit) and one past the writer's batch (the
 * version record already in the file). */
static void prepend_round_trip(size_t len)
{
    char *spool = make_spool();
    char *err = NULL;
    struct queue_writer *w = queue_create(spool, &err);
    char id[QUEUE_ID_SIZE];
    snprintf(id, sizeof id, "%s", queue_writer_id(w));
    queue_put_str(w, REC_SENDER, "alice@example.test");
    queue_put_rcpt(w, "bob@example.test", "", "");
    queue_begin_message(w);
    char *body = xmalloc(len);
    for (size_t i = 0; i < len; i++)
        body[i] = (char)('a' + i % 26);
    memcpy(body, "Subject: s\n\n", 13);
    queue_write_body(w, body, len);
    int rfd = queue_writer_reader(w, &err);
    assert_true(rfd >= 0);
    struct queue_msg m;
    struct buf got = BUF_INIT;
    assert_int_equal(queue_read_draft(rfd, id, &m, &err), 0);
    assert_int_equal(m.body_size, len);
    assert_int_equal(queue_read_body(rfd, &m, collect, &got, &err), 0);
    assert_int_equal(got.len, len);
    assert_memory_equal(got.data, body, len);
    queue_msg_free(&m);
    buf_reset(&got);
    assert_int_equal(queue_read(rfd, id, &m, &err), -1); /* not finished: no END */
    free(err);
    err = NULL;
    const char *sig = "DKIM-Signature: v=1; a=ed25519-sha256;\n\tb=abc\n";
    queue_prepend(w, sig, strlen(sig));
    assert_int_equal(queue_body_size(w), len + strlen(sig));
    assert_int_equal(queue_commit(w, true, &err), 0);
    close(rfd);
    int fd = open_queued(spool, QUEUE_INCOMING, id);
    assert_int_equal(queue_read(fd, id, &m, &err), 0);
    assert_int_equal(m.version, 2);
    assert_int_equal(m.body_size, len + strlen(sig));
    assert_int_equal(queue_read_body(fd, &m, collect, &got, &err), 0);
    assert_int_equal(got.len, len + strlen(sig));
    assert_memory_equal(got.data, sig, strlen(sig));
    assert_memory_equal(got.data + strlen(sig), body, len);
    assert_int_equal(queue_read_draft(fd, id, &(struct queue_msg){0}, &err), -1);
    free(err);
    queue_msg_free(&m);
    buf_free(&got);
    free(body);
    close(fd);
    rm_spool(spool);
}

static void test_prepend_small(void **state) { prepend_round_trip(100); }
static void test_prepend_large(void **state) { prepend_round_trip(5 * QUEUE_CHUNK + 7); }

/* The paced reader (the SMTP client's DATA) hands out the same bytes as queue_read_body:
 * prepended fields first, one longer than a chunk (so it comes in pieces), then the body. */
static void test_body_next_prepend(void **state)
{
    char *spool = make_spool();
    char *err = NULL;
    struct queue_writer *w = queue_create(spool, &err);
    char id[QUEUE_ID_SIZE];
    snprintf(id, sizeof id, "%s", queue_writer_id(w));
    queue_put_str(w, REC_SENDER, "alice@example.test");
    queue_put_rcpt(w, "bob@example.test", "", "");
    queue_begin_message(w);
    size_t blen = 2 * QUEUE_CHUNK + 3, plen = QUEUE_CHUNK + 10;
    char *body = xmalloc(blen), *big = xmalloc(plen);
    for (size_t i = 0; i < blen; i++)
        body[i] = (char)('a' + i % 26);
    memset(big, 'x', plen);
    memcpy(big, "X-Big: ", 7);
    big[plen - 1] = '\n';
    queue_write_body(w, body, blen);
    queue_prepend(w, big, plen);
    queue_prepend(w, "X-Small: 1\n", 11);
    assert_int_equal(queue_commit(w, true, &err), 0);
    int fd = open_queued(spool, QUEUE_INCOMING, id);
    struct queue_msg m;
    assert_int_equal(queue_read(fd, id, &m, &err), 0);
    struct queue_body_cursor c;
    queue_body_start(&m, &c);
    char *chunk = xmalloc(QUEUE_CHUNK);
    struct buf got = BUF_INIT;
    size_t len, pieces = 0;
    int r;
    while ((r = queue_body_next(fd, &m, &c, chunk, &len, &err)) > 0) {
        assert_true(len <= QUEUE_CHUNK);
        buf_append(&got, chunk, len);
        pieces++;
    }
    assert_int_equal(r, 0);
    assert_int_equal(got.len, plen + 11 + blen);
    assert_int_equal(got.len, m.body_size);
    assert_memory_equal(got.data, big, plen);
    assert_memory_equal(got.data + plen, "X-Small: 1\n", 11);
    assert_memory_equal(got.data + plen + 11, body, blen);
    assert_true(pieces >= 5);
    assert_int_equal(queue_body_next(fd, &m, &c, chunk, &len, &err), 0); /* stays at the end */
    queue_msg_free(&m);
    buf_free(&got);
    free(chunk);
    free(big);
    free(body);
    close(fd);
    rm_spool(spool);
}

/* A file without prepended fields stays version 1. */
static void test_version_1_kept(void **state)
{
    char *spool = make_spool();
    const char *id = write_msg(spool, "x\n", 2, 1);
    int fd = open_queued(spool, QUEUE_INCOMING, id);
    struct queue_msg m;
    char *err = NULL;
    assert_int_equal(queue_read(fd, id, &m, &err), 0);
    assert_int_equal(m.version, 1);
    assert_int_equal(m.prepend_offset, 0);
    queue_msg_free(&m);
    close(fd);
    rm_spool(spool);
}

static void test_ids(void **state)
{
    assert_true(queue_id_valid("0123456789ABCDEF01"));
    assert_false(queue_id_valid("0123456789abcdef01"));
    assert_false(queue_id_valid("0123456789ABCDEF0"));
    assert_false(queue_id_valid("../../etc/passwd00"));
    assert_false(queue_id_valid(""));
}

static void test_commit_failure(void **state)
{
    char *spool = make_spool();
    char *err = NULL;
    struct queue_writer *w = queue_create(spool, &err);
    assert_non_null(w);
    char id[QUEUE_ID_SIZE];
    snprintf(id, sizeof id, "%s", queue_writer_id(w));
    char *inc = xasprintf("%s/%s", spool, QUEUE_INCOMING);
    assert_int_equal(rmdir(inc), 0);
    queue_put_str(w, REC_SENDER, "");
    queue_begin_message(w);
    assert_int_equal(queue_commit(w, true, &err), -1);
    assert_non_null(err);
    free(err);
    char *tmp = queue_path(spool, QUEUE_TMP, id);
    assert_int_equal(access(tmp, F_OK), -1); /* no leftover */
    free(tmp);
    free(inc);
    rm_spool(spool);
}

static void test_queue_ops(void **state)
{
    char *spool = make_spool();
    char id[QUEUE_ID_SIZE];
    snprintf(id, sizeof id, "%s", write_msg(spool, "x\n", 2, 1));
    const char *where;
    assert_int_equal(queue_find(spool, id, &where), 0);
    assert_string_equal(where, QUEUE_INCOMING);
    assert_int_equal(queue_move(spool, id, QUEUE_INCOMING, QUEUE_HOLD), 0);
    assert_int_equal(queue_find(spool, id, &where), 0);
    assert_string_equal(where, QUEUE_HOLD);
    assert_int_equal(queue_move(spool, id, QUEUE_INCOMING, QUEUE_ACTIVE), -1);
    assert_int_equal(errno, ENOENT);
    /* A move never replaces a file of the same name. */
    char *other = queue_path(spool, QUEUE_DEFERRED, id);
    assert_int_equal(write_file_atomic(other, "x", 1, 0600), 0);
    assert_int_equal(queue_move(spool, id, QUEUE_HOLD, QUEUE_DEFERRED), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(unlink(other), 0);
    free(other);
    assert_int_equal(queue_find(spool, "0123456789abcdef01", &where), -1);
    assert_int_equal(errno, EINVAL);
    /* Defer log round trip, then removal of both files. */
    struct defer_log d = {.backoff = 600}, r;
    defer_log_add(&d, "a@x.test", "mailbox full\nsecond line 100%", "4.2.2");
    defer_log_add(&d, "b@x.test", "", "4.4.1");
    assert_int_equal(defer_log_write(spool, id, &d), 0);
    char *err = NULL;
    assert_int_equal(defer_log_read(spool, id, &r, &err), 1);
    assert_int_equal(r.backoff, 600);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.v[0].reason, "mailbox full\nsecond line 100%");
    assert_string_equal(r.v[1].addr, "b@x.test");
    assert_string_equal(r.v[1].dsn, "4.4.1");
    defer_log_free(&r);
    defer_log_free(&d);
    assert_int_equal(queue_remove(spool, QUEUE_HOLD, id), 0);
    assert_int_equal(queue_find(spool, id, &where), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(defer_log_read(spool, id, &r, &err), 0);
    assert_int_equal(queue_remove(spool, QUEUE_HOLD, id), -1);
    assert_int_equal(errno, ENOENT);
    rm_spool(spool);
}

static void test_defer_log_malformed(void **state)
{
    char *spool = make_spool();
    const char *id = "0123456789ABCDEF01";
    char *path = queue_path(spool, QUEUE_DEFER_LOG, id);
    static const char *const bad[] = {
        "backoff=60\nrcpt_0=a@b\nreason_0=x\n\n",            /* dsn_0 missing */
        "backoff=60\nrcpt_1=a@b\nreason_1=x\ndsn_1=4.0.0\n\n", /* gap: no recipient 0 */
        "backoff=abc\n\n",
        "backoff=60\nextra=1\n\n",
        "backoff=60\n",                                    /* no end of message */
        "backoff=60\n\nbackoff=61\n\n",                    /* two messages */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(write_file_atomic(path, bad[i], strlen(bad[i]), 0600), 0);
        struct defer_log d;
        char *err = NULL;
        if (defer_log_read(spool, id, &d, &err) != -1)
            fail_msg("accepted bad defer log %zu", i);
        free(err);
    }
    free(path);
    rm_spool(spool);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_round_trip),
               cmocka_unit_test(test_many_and_large),
               cmocka_unit_test(test_good_file),
               cmocka_unit_test(test_truncated_header),
               cmocka_unit_test(test_record_longer_than_file),
               cmocka_unit_test(test_missing_end),
               cmocka_unit_test(test_data_after_end),
               cmocka_unit_test(test_unknown_type),
               cmocka_unit_test(test_bad_recipient),
               cmocka_unit_test(test_missing_sender),
               cmocka_unit_test(test_other_malformed),
               cmocka_unit_test(test_prepend_records),
               cmocka_unit_test(test_prepend_small),
               cmocka_unit_test(test_prepend_large),
               cmocka_unit_test(test_body_next_prepend),
               cmocka_unit_test(test_version_1_kept),
               cmocka_unit_test(test_ids),
               cmocka_unit_test(test_commit_failure),
               cmocka_unit_test(test_queue_ops),
               cmocka_unit_test(test_defer_log_malformed))
