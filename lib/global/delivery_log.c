/* delivery_log.c - the per-recipient delivery line (see delivery_log.h). */
#include "delivery_log.h"
#include "log.h"
#include "mem.h"
#include "xtext.h"
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

char *delivery_orig_to(const char *rcpt, const char *orcpt)
{
    const char *semi = orcpt ? strchr(orcpt, ';') : NULL;
    char *o = semi ? xtext_decode(semi + 1) : NULL;
    if (o && *o)
        return o;
    free(o);
    return xstrdup(rcpt);
}

double delivery_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* As Postfix's format_tv with its defaults (two significant digits, at most two decimals,
 * trailing zeros dropped): 0.04, 0.15, 1.6, 8.5, 54, 1017. */
void delivery_fmt_delay(char *out, size_t size, double s)
{
    if (s < 0.005) {
        snprintf(out, size, "0");
        return;
    }
    if (s >= 9.95) {
        snprintf(out, size, "%.0f", s);
        return;
    }
    snprintf(out, size, s >= 0.995 ? "%.1f" : "%.2f", s);
    char *p = out + strlen(out) - 1;
    while (*p == '0')
        *p-- = 0;
    if (*p == '.')
        *p = 0;
}

static const char *status_word(const char *status)
{
    return strcmp(status, "sent") == 0 ? "sent" : strcmp(status, "bounce") == 0 ? "bounced"
                                                                                 : "deferred";
}

void delivery_log(const struct delivery_line *l)
{
    char total[32], d[4][32], orig[600] = "";
    delivery_fmt_delay(total, sizeof total, l->delay);
    for (int i = 0; i < 4; i++)
        delivery_fmt_delay(d[i], sizeof d[i], l->delays[i]);
    if (l->orig_to && *l->orig_to && strcasecmp(l->orig_to, l->to) != 0)
        snprintf(orig, sizeof orig, " orig_to=<%s>,", l->orig_to);
    log_info("%s: to=<%s>,%s relay=%s, delay=%s, delays=%s/%s/%s/%s, dsn=%s, status=%s (%s)",
             l->queue_id, l->to, orig, l->relay, total, d[0], d[1], d[2], d[3], l->dsn,
             status_word(l->status), l->reason ? l->reason : "");
}

bool delivery_soften(const char **status, const char **dsn, char buf[16])
{
    if (strcmp(*status, "bounce") != 0)
        return false;
    snprintf(buf, 16, "%s", *dsn);
    buf[0] = '4';
    *dsn = buf;
    *status = "defer";
    return true;
}
