/* test_delivery_log.c - tests of lib/global/delivery_log: the delay figures of the delivery
 * line in Postfix's shape (format_tv with two significant digits and at most two decimals,
 * trailing zeros dropped), so that a Posthorn log line reads like Postfix's. */
#include "unit_test.h"
#include <string.h>

#include "delivery_log.h"

static void check(double s, const char *want)
{
    char out[32];
    delivery_fmt_delay(out, sizeof out, s);
    if (strcmp(out, want) != 0)
        fail_msg("%g: got \"%s\", want \"%s\"", s, out, want);
}

static void test_delay_figures(void **state)
{
    check(0, "0");
    check(0.004, "0");
    check(0.04, "0.04");
    check(0.1, "0.1");
    check(0.154, "0.15");
    check(0.999, "1");
    check(1.0, "1");
    check(1.58, "1.6");
    check(8.53, "8.5");
    check(9.96, "10");
    check(54.3, "54");
    check(1017.4, "1017");
}

UNIT_TEST_MAIN(cmocka_unit_test(test_delay_figures))
