/* smtp_stats.c - per-command counts of an SMTP server session (smtp_stats.h). */
#include "smtp_stats.h"
#include <ctype.h>
#include <string.h>

/* The order of the disconnect line; the last slot counts unrecognized verbs. */
static const struct {
    enum smtp_verb verb;
    const char *name;
} slots[] = {
    {SMTP_HELO, "helo"}, {SMTP_EHLO, "ehlo"}, {SMTP_STARTTLS, "starttls"}, {SMTP_AUTH, "auth"},
    {SMTP_MAIL, "mail"}, {SMTP_RCPT, "rcpt"}, {SMTP_DATA, "data"},         {SMTP_BDAT, "bdat"},
    {SMTP_RSET, "rset"}, {SMTP_NOOP, "noop"}, {SMTP_VRFY, "vrfy"},         {SMTP_EXPN, "expn"},
    {SMTP_HELP, "help"}, {SMTP_ETRN, "etrn"}, {SMTP_QUIT, "quit"},         {SMTP_UNKNOWN, "unknown"},
};
_Static_assert(sizeof slots / sizeof slots[0] == SMTP_STATS_SLOTS, "one slot per verb");

void smtp_stats_init(struct smtp_stats *st)
{
    memset(st, 0, sizeof *st);
    st->pending = -1;
}

static int slot_of(enum smtp_verb v)
{
    for (int i = 0; i < SMTP_STATS_SLOTS - 1; i++)
        if (slots[i].verb == v)
            return i;
    return SMTP_STATS_SLOTS - 1;
}

void smtp_stats_command(struct smtp_stats *st, enum smtp_verb v)
{
    int i = slot_of(v);
    st->given[i]++;
    st->pending = v == SMTP_UNKNOWN ? -1 : i; /* an unknown verb never succeeds */
}

void smtp_stats_reply(struct smtp_stats *st, const char *line)
{
    if (st->pending < 0)
        return;
    for (int i = 0; i < 3; i++)
        if (!isdigit((unsigned char)line[i]))
            return;
    if (line[3] != ' ' && line[3] != 0)
        return; /* "250-": more lines follow */
    if (strncmp(line, "334", 3) == 0 || strncmp(line, "354", 3) == 0)
        return; /* the command goes on */
    if (line[0] == '2')
        st->ok[st->pending]++;
    st->pending = -1;
}

void smtp_stats_format(const struct smtp_stats *st, struct buf *out)
{
    unsigned ok = 0, given = 0;
    for (int i = 0; i < SMTP_STATS_SLOTS; i++) {
        if (!st->given[i])
            continue;
        buf_printf(out, " %s=%u", slots[i].name, st->ok[i]);
        if (st->ok[i] != st->given[i])
            buf_printf(out, "/%u", st->given[i]);
        ok += st->ok[i];
        given += st->given[i];
    }
    buf_printf(out, " commands=%u", ok);
    if (ok != given || given == 0)
        buf_printf(out, "/%u", given);
}
