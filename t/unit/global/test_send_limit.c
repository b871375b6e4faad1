/* test_send_limit.c - submission's per-user sending limits (lib/global/send_limit.h): the
 * rate limits refuse without counting, tries count towards the hard limits, going past one
 * holds the user's mail for the hold time, and a new time unit starts the counts over. */
#include "unit_test.h"
#include "send_limit.h"
#include <string.h>

static const struct send_limits lim = {.unit_ms = 1000, .max_messages = 2, .max_recipients = 3,
                                       .hard_messages = 4, .hard_recipients = 0, .hold_ms = 5000};

static struct send_verdict add(struct send_count *c, long long now, unsigned m, unsigned r)
{
    struct send_verdict v;
    send_count_add(c, now, &lim, m, r, &v);
    return v;
}

static void test_rates(void **state)
{
    struct send_count c = {0};
    assert_true(add(&c, 10, 1, 0).ok);
    assert_true(add(&c, 10, 0, 3).ok);
    struct send_verdict v = add(&c, 10, 0, 1); /* the 4th recipient */
    assert_false(v.ok);
    assert_int_equal(v.recipients, 3);
    assert_true(add(&c, 20, 1, 0).ok);
    assert_false(add(&c, 20, 1, 0).ok); /* the 3rd message */
    assert_false(add(&c, 20, 1, 0).held);
    v = add(&c, 1010, 1, 1); /* a new unit */
    assert_true(v.ok);
    assert_int_equal(v.messages, 1);
    assert_int_equal(v.recipients, 1);
}

static void test_hard_limit_holds(void **state)
{
    struct send_count c = {0};
    for (int i = 0; i < 4; i++) /* 2 sent, 2 refused: 4 tried */
        assert_false(add(&c, 100, 1, 0).held);
    struct send_verdict v = add(&c, 100, 1, 0); /* the 5th try */
    assert_true(v.tripped && v.held && !v.ok);
    v = add(&c, 200, 1, 0);
    assert_true(v.held && !v.tripped); /* tripped once */
    v = add(&c, 2000, 1, 0); /* a new unit: within the limits, still held */
    assert_true(v.ok && v.held && !v.tripped);
    assert_true(send_count_keep_until(&c, &lim) == 5100);
    v = add(&c, 5200, 1, 0); /* the hold is over */
    assert_true(v.ok && !v.held);
}

/* The monotonic clock starts near 0 at boot: a counter's first unit starts at its first
 * event, not at 0 (a machine up for less than a unit once counted every user from boot). */
static void test_unit_starts_at_first_event(void **state)
{
    struct send_count c = {0};
    assert_true(add(&c, 500, 1, 0).ok);
    struct send_verdict v = add(&c, 1200, 1, 0); /* within 500's unit */
    assert_true(v.ok);
    assert_int_equal(v.messages, 2);
    assert_true(c.started && c.start_ms == 500);
    assert_false(add(&c, 1300, 1, 0).ok); /* the 3rd message of that unit */
    assert_true(send_count_keep_until(&c, &lim) == 1500);
}

static void test_no_limits(void **state)
{
    static const struct send_limits none = {.unit_ms = 1000};
    struct send_count c = {0};
    struct send_verdict v;
    for (int i = 0; i < 1000; i++) {
        send_count_add(&c, i, &none, 1, 10, &v);
        assert_true(v.ok && !v.held);
    }
}

UNIT_TEST_MAIN(cmocka_unit_test(test_rates), cmocka_unit_test(test_hard_limit_holds),
               cmocka_unit_test(test_unit_starts_at_first_event),
               cmocka_unit_test(test_no_limits))
