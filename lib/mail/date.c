/* date.c - RFC 5322 date-time (see date.h). The formats stay literal at each strftime so
 * the compiler checks them (-Wformat=2). */
#include "date.h"
#include <string.h>
#include <strings.h>
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

/* --- parsing --- */

struct scan {
    const char *p, *end;
};

/* Skip white space, line ends and (nested) comments. */
static void cfws(struct scan *sc)
{
    int depth = 0;
    for (; sc->p < sc->end; sc->p++) {
        char c = *sc->p;
        if (c == '(')
            depth++;
        else if (c == ')' && depth > 0)
            depth--;
        else if (depth == 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n')
            return;
        else if (c == '\\' && depth > 0 && sc->p + 1 < sc->end)
            sc->p++;
    }
}

static bool number(struct scan *sc, int max_digits, int *out)
{
    int n = 0, v = 0;
    while (sc->p < sc->end && *sc->p >= '0' && *sc->p <= '9' && n < max_digits)
        v = v * 10 + (*sc->p++ - '0'), n++;
    *out = v;
    return n > 0;
}

static int word_index(struct scan *sc, const char *const *words, int count)
{
    for (int i = 0; i < count; i++)
        if (sc->end - sc->p >= 3 && strncasecmp(sc->p, words[i], 3) == 0) {
            sc->p += 3;
            while (sc->p < sc->end && ((*sc->p >= 'a' && *sc->p <= 'z') || (*sc->p >= 'A' && *sc->p <= 'Z')))
                sc->p++; /* "Monday", "February" */
            return i;
        }
    return -1;
}

static int zone(struct scan *sc)
{
    static const struct {
        const char *name;
        int minutes;
    } names[] = {{"UT", 0},     {"GMT", 0},    {"Z", 0},      {"EST", -300}, {"EDT", -240},
                 {"CST", -360}, {"CDT", -300}, {"MST", -420}, {"MDT", -360}, {"PST", -480},
                 {"PDT", -420}};
    if (sc->p < sc->end && (*sc->p == '+' || *sc->p == '-')) {
        int sign = *sc->p++ == '-' ? -1 : 1, hhmm;
        return number(sc, 4, &hhmm) ? sign * (hhmm / 100 * 60 + hhmm % 100) : 0;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = strlen(names[i].name);
        if ((size_t)(sc->end - sc->p) >= n && strncasecmp(sc->p, names[i].name, n) == 0)
            return names[i].minutes;
    }
    return 0;
}

bool mail_date_parse(const char *s, size_t len, struct tm *tm, int *zone_min)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct scan sc = {s, s + len};
    memset(tm, 0, sizeof *tm);
    *zone_min = 0;
    cfws(&sc);
    if (word_index(&sc, days, 7) >= 0) {
        cfws(&sc);
        if (sc.p < sc.end && *sc.p == ',')
            sc.p++;
        cfws(&sc);
    }
    int day, year, hour = 0, min = 0, sec = 0;
    if (!number(&sc, 2, &day) || day < 1 || day > 31)
        return false;
    cfws(&sc);
    int mon = word_index(&sc, months, 12);
    cfws(&sc);
    if (mon < 0 || !number(&sc, 4, &year))
        return false;
    if (sc.p - s >= 2 && year < 100) /* RFC 5322 sec 4.3: 00-49 is 20xx, 50-99 is 19xx */
        year += year < 50 ? 2000 : 1900;
    cfws(&sc);
    if (number(&sc, 2, &hour) && sc.p < sc.end && *sc.p == ':') {
        sc.p++;
        number(&sc, 2, &min);
        if (sc.p < sc.end && *sc.p == ':') {
            sc.p++;
            number(&sc, 2, &sec);
        }
        cfws(&sc);
        *zone_min = zone(&sc);
    }
    tm->tm_mday = day;
    tm->tm_mon = mon;
    tm->tm_year = year - 1900;
    tm->tm_hour = hour > 23 ? 0 : hour;
    tm->tm_min = min > 59 ? 0 : min;
    tm->tm_sec = sec > 60 ? 0 : sec;
    return true;
}
