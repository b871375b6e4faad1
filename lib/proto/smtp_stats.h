/* smtp_stats.h - an SMTP server session's per-command counts, for the "disconnect from"
 * log line in Postfix's shape (doc/smtpd.md, "Logs"):
 *     disconnect from unknown[192.0.2.1] ehlo=1 mail=1 rcpt=0/1 data=0/1 quit=1 commands=3/5
 * Each command given at least once appears, in a fixed order, as name=SUCCEEDED, followed by
 * /GIVEN when some failed; "unknown" counts unrecognized verbs (never successful); then
 * commands=SUCCEEDED[/GIVEN], always with /GIVEN when nothing was given ("commands=0/0").
 *
 * A command is counted when it is dispatched; its success is decided by its final reply: the
 * first reply line after it that is not a continuation ("250-") nor an intermediate reply
 * (334 for AUTH, 354 for DATA) - 2xx succeeded, anything else failed. A command whose final
 * reply never comes (the client left during DATA) counts as given, not succeeded. */
#ifndef POSTHORN_SMTP_STATS_H
#define POSTHORN_SMTP_STATS_H
#include "buf.h"
#include "smtp_proto.h"

#define SMTP_STATS_SLOTS 16

struct smtp_stats {
    unsigned given[SMTP_STATS_SLOTS];
    unsigned ok[SMTP_STATS_SLOTS];
    int pending; /* the slot of the command awaiting its final reply; -1: none */
};

void smtp_stats_init(struct smtp_stats *st);
/* A command line was dispatched as verb v (SMTP_UNKNOWN: an unrecognized verb). */
void smtp_stats_command(struct smtp_stats *st, enum smtp_verb v);
/* A reply line (without CRLF) went out. */
void smtp_stats_reply(struct smtp_stats *st, const char *line);
/* Append " name=N[/M] ... commands=N[/M]" to out. */
void smtp_stats_format(const struct smtp_stats *st, struct buf *out);

#endif
