/* date.c - RFC 5322 date-time (see date.h). The formats stay literal at each strftime so
 * the compiler checks them (-Wformat=2). */
#include "date.h"
#include <stdbool.h>

/* The broken-down local time of t; false (out "") when there is none or no room at all. */
static bool local_time(char *out, size_t size, time_t t, struct tm *tm)
{
    if (size == 0)
        return false;
    out[0] = 0;
    return localtime_r(&t, tm) != NULL;
}

static size_t finished(char *out, size_t n)
{
    if (n == 0)
        out[0] = 0;
    return n;
}

size_t mail_date_format(char *out, size_t size, time_t t)
{
    struct tm tm;
    if (!local_time(out, size, t, &tm))
        return 0;
    return finished(out, strftime(out, size, "%a, %d %b %Y %H:%M:%S %z", &tm));
}

size_t mail_date_format_zone_comment(char *out, size_t size, time_t t)
{
    struct tm tm;
    if (!local_time(out, size, t, &tm))
        return 0;
    return finished(out, strftime(out, size, "%a, %d %b %Y %H:%M:%S %z (%Z)", &tm));
}
