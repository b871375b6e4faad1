/* date.h - RFC 5322 sec 3.3 date-time for the Date: fields, Received: time stamps and DSN
 * date fields Posthorn writes: "Tue, 02 Jan 2024 15:04:05 +0100", in the local time zone
 * (TZ). Log lines and the CLI's queue listings keep their own shorter formats. Safe from any
 * thread (localtime_r); no I/O, no logging. Day and month names assume the C locale, which
 * Posthorn's programs never change. */
#ifndef POSTHORN_DATE_H
#define POSTHORN_DATE_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Room for either format, zone name included. */
#define MAIL_DATE_SIZE 80

/* Write the date-time of t into out[0..size); returns its length, or 0 with out "" when it
 * does not fit (or size is 0, then out is untouched). */
size_t mail_date_format(char *out, size_t size, time_t t);

/* The same followed by the zone's abbreviation as a comment, "... +0100 (CET)": the form of
 * smtpd's Received: time stamp (RFC 5322 sec 3.3 allows a comment after the zone). */
size_t mail_date_format_zone_comment(char *out, size_t size, time_t t);

/* Parse an RFC 5322 sec 3.3 date-time (with the obsolete forms of sec 4.3: two-digit years,
 * zone names, comments, folding): *tm gets the date and time as written (in its own zone) and
 * *zone_min its offset east of UTC in minutes (0 for an unknown zone). False when s holds no
 * date. */
bool mail_date_parse(const char *s, size_t len, struct tm *tm, int *zone_min);

#endif
