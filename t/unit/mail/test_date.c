/* test_date.c - lib/mail/date: RFC 5322 date-time of a fixed time in UTC, in a +0130 and a
 * -0500 zone, the zone-comment form, and a buffer too small. */
#include "unit_test.h"

#include "date.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FIXED ((time_t)1700000000) /* 2023-11-14 22:13:20 UTC */

static void set_zone(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

static void test_utc(void **state)
{
    char out[MAIL_DATE_SIZE];
    set_zone("UTC");
    assert_int_equal(mail_date_format(out, sizeof out, FIXED), 31);
    assert_string_equal(out, "Tue, 14 Nov 2023 22:13:20 +0000");
    mail_date_format_zone_comment(out, sizeof out, FIXED);
    assert_string_equal(out, "Tue, 14 Nov 2023 22:13:20 +0000 (UTC)");
}

static void test_half_hour_zone(void **state)
{
    char out[MAIL_DATE_SIZE];
    set_zone("XYZ-01:30"); /* POSIX: 1h30 east of UTC */
    mail_date_format(out, sizeof out, FIXED);
    assert_string_equal(out, "Tue, 14 Nov 2023 23:43:20 +0130");
    mail_date_format_zone_comment(out, sizeof out, FIXED);
    assert_string_equal(out, "Tue, 14 Nov 2023 23:43:20 +0130 (XYZ)");
    mail_date_format(out, sizeof out, FIXED + 3600); /* past midnight: the next day */
    assert_string_equal(out, "Wed, 15 Nov 2023 00:43:20 +0130");
}

static void test_west_zone(void **state)
{
    char out[MAIL_DATE_SIZE];
    set_zone("EST+05");
    mail_date_format(out, sizeof out, FIXED);
    assert_string_equal(out, "Tue, 14 Nov 2023 17:13:20 -0500");
}

static void test_too_small(void **state)
{
    char out[16] = "untouched";
    set_zone("UTC");
    assert_int_equal(mail_date_format(out, sizeof out, FIXED), 0);
    assert_string_equal(out, "");
    char one[1] = {'x'};
    assert_int_equal(mail_date_format(one, 0, FIXED), 0);
    assert_int_equal(one[0], 'x'); /* size 0: nothing written */
}

UNIT_TEST_MAIN(cmocka_unit_test(test_utc),
               cmocka_unit_test(test_half_hour_zone),
               cmocka_unit_test(test_west_zone),
               cmocka_unit_test(test_too_small))
