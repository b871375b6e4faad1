/* test_queue_listing.c - the streaming queue scan of lib/global/queue_listing.c: queues in
 * Postfix's order, only pending recipients, those with a defer reason first, unreadable
 * files skipped with a reason, an unreadable queue directory failing the listing, and long
 * fields cut. */
#include "unit_test.h"
#include "spool_fixture.h"

#include "mem.h"
#include "queue.h"
#include "queue_listing.h"
#include "queue_ops.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void rm_spool(char *spool)
{
    char *cmd = xasprintf("rm -rf '%s'", spool);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(spool);
}

/* A message from sender to rcpts (NULL-terminated) with a body of size bytes, moved to
 * queue; returns its ID (malloc'ed). */
static char *put(const char *spool, const char *queue, const char *sender,
                 const char *const *rcpts, size_t size)
{
    char *err = NULL;
    struct queue_writer *w = queue_create(spool, &err);
    assert_non_null(w);
    char *id = xstrdup(queue_writer_id(w));
    queue_put_str(w, REC_SENDER, sender);
    for (; *rcpts; rcpts++)
        queue_put_rcpt(w, *rcpts, "", "");
    queue_begin_message(w);
    char *body = xmalloc(size);
    memset(body, 'x', size);
    queue_write_body(w, body, size);
    free(body);
    assert_int_equal(queue_commit(w, true, &err), 0);
    if (strcmp(queue, QUEUE_INCOMING) != 0)
        assert_int_equal(queue_move(spool, id, QUEUE_INCOMING, queue), 0);
    return id;
}

/* Mark recipient index i of message id in queue done. */
static void mark_done(const char *spool, const char *queue, const char *id, size_t i)
{
    char *p = queue_path(spool, queue, id);
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    struct queue_msg m;
    char *err = NULL;
    assert_int_equal(queue_read(fd, id, &m, &err), 0);
    assert_int_equal(queue_mark_done(fd, &m.rcpts[i]), 0);
    queue_msg_free(&m);
    close(fd);
    free(p);
}

static const struct qlist_msg *next(struct qlist *q)
{
    const struct qlist_msg *m = NULL;
    char *err = NULL;
    assert_int_equal(qlist_next(q, &m, &err), QLIST_MSG);
    assert_null(err);
    return m;
}

static void test_queues_and_recipients(void **state)
{
    char *spool = make_spool();
    const char *const r1[] = {"a@x.test", "b@x.test", "c@x.test", "d@x.test", NULL};
    const char *const r2[] = {"e@x.test", NULL};
    char *held = put(spool, QUEUE_HOLD, "h@x.test", r2, 10);
    char *deferred = put(spool, QUEUE_DEFERRED, "", r1, 3000);
    char *active = put(spool, QUEUE_ACTIVE, "s@x.test", r2, 20);
    mark_done(spool, QUEUE_DEFERRED, deferred, 1); /* b: delivered */
    struct defer_log d = {0};
    defer_log_add(&d, "d@x.test", "mailbox full", "4.2.2");
    defer_log_add(&d, "b@x.test", "old reason", "4.0.0"); /* done since: not shown */
    defer_log_add(&d, "a@x.test", "no route", "4.4.0");
    assert_int_equal(defer_log_write(spool, deferred, &d), 0);
    defer_log_free(&d);

    struct qlist *q = qlist_open(spool, qlist_mailq_queues);
    const struct qlist_msg *m = next(q);
    assert_string_equal(m->queue, "active");
    assert_string_equal(m->id, active);
    assert_string_equal(m->sender, "s@x.test");
    assert_int_equal(m->size, 20);
    assert_true(m->arrival_time > 1600000000);
    assert_false(m->forced_expire);
    assert_int_equal(m->nrcpts, 1);
    assert_string_equal(m->rcpts[0].reason, "");
    m = next(q);
    assert_string_equal(m->queue, "deferred");
    assert_string_equal(m->sender, "");
    assert_int_equal(m->size, 3000);
    assert_int_equal(m->nrcpts, 3);
    assert_string_equal(m->rcpts[0].address, "d@x.test"); /* defer log order first */
    assert_string_equal(m->rcpts[0].reason, "mailbox full");
    assert_string_equal(m->rcpts[1].address, "a@x.test");
    assert_string_equal(m->rcpts[1].reason, "no route");
    assert_string_equal(m->rcpts[2].address, "c@x.test"); /* then the rest, file order */
    assert_string_equal(m->rcpts[2].reason, "");
    m = next(q);
    assert_string_equal(m->queue, "hold");
    assert_string_equal(m->id, held);
    const struct qlist_msg *last = NULL;
    char *err = NULL;
    assert_int_equal(qlist_next(q, &last, &err), QLIST_END);
    qlist_close(q);

    static const char *const only_hold[] = {QUEUE_HOLD, NULL};
    q = qlist_open(spool, only_hold);
    assert_string_equal(next(q)->id, held);
    assert_int_equal(qlist_next(q, &last, &err), QLIST_END);
    qlist_close(q);
    free(held), free(deferred), free(active);
    rm_spool(spool);
}

static void test_bad_files_and_dirs(void **state)
{
    char *spool = make_spool();
    const char *const r[] = {"a@x.test", NULL};
    char *good = put(spool, QUEUE_INCOMING, "s@x.test", r, 5);
    char *bad = xasprintf("%s/%s/6614BAD38FB4CEBAFB", spool, QUEUE_INCOMING);
    FILE *f = fopen(bad, "w");
    assert_non_null(f);
    fputs("not a queue file", f);
    fclose(f);
    char *other = xasprintf("%s/%s/README", spool, QUEUE_INCOMING); /* not an ID: ignored */
    f = fopen(other, "w");
    assert_non_null(f);
    fclose(f);

    static const char *const incoming[] = {QUEUE_INCOMING, NULL};
    struct qlist *q = qlist_open(spool, incoming);
    const struct qlist_msg *m;
    char *err = NULL;
    int msgs = 0, skipped = 0;
    enum qlist_result r2;
    while ((r2 = qlist_next(q, &m, &err)) != QLIST_END) {
        if (r2 == QLIST_MSG) {
            msgs++;
            assert_string_equal(m->id, good);
        } else {
            assert_int_equal(r2, QLIST_SKIPPED);
            assert_non_null(strstr(err, "6614BAD38FB4CEBAFB"));
            skipped++;
        }
        free(err);
        err = NULL;
    }
    assert_int_equal(msgs, 1);
    assert_int_equal(skipped, 1);
    qlist_close(q);

    static const char *const missing[] = {"nosuchqueue", NULL};
    q = qlist_open(spool, missing);
    assert_int_equal(qlist_next(q, &m, &err), QLIST_FAILED);
    assert_non_null(strstr(err, "nosuchqueue"));
    free(err);
    qlist_close(q);
    free(good), free(bad), free(other);
    rm_spool(spool);
}

static void test_long_fields_are_cut(void **state)
{
    char *spool = make_spool();
    char *lng = xmalloc(QLIST_FIELD_MAX + 100);
    memset(lng, 'l', QLIST_FIELD_MAX + 90);
    strcpy(lng + QLIST_FIELD_MAX + 90, "@x.test");
    const char *const r[] = {lng, NULL};
    char *id = put(spool, QUEUE_DEFERRED, lng, r, 1);
    struct qlist *q = qlist_open(spool, qlist_mailq_queues);
    const struct qlist_msg *m = next(q);
    assert_int_equal(strlen(m->sender), QLIST_FIELD_MAX);
    assert_int_equal(strlen(m->rcpts[0].address), QLIST_FIELD_MAX);
    qlist_close(q);
    free(lng), free(id);
    rm_spool(spool);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_queues_and_recipients), cmocka_unit_test(test_bad_files_and_dirs),
               cmocka_unit_test(test_long_fields_are_cut))
