/* delivery_log.h - the one per-recipient delivery line, in Postfix's shape, written by the
 * agent that delivered (local-mda as posthorn/local) or by qmgr for what it decides itself:
 *   ID: to=<alice@x>, orig_to=<team@x>, relay=local, delay=0.12, delays=0.01/0/0/0.11,
 *   dsn=2.0.0, status=sent (delivered to maildir)
 * pflogsumm and operators' scripts parse it; doc/operator.md, "Logs". */
#ifndef POSTHORN_DELIVERY_LOG_H
#define POSTHORN_DELIVERY_LOG_H
#include <stdbool.h>
#include <stddef.h>

struct delivery_line {
    const char *queue_id;
    const char *to;
    const char *orig_to; /* NULL, or omitted when it equals to (case-insensitively) */
    const char *relay;   /* "local", a transport name or "none" */
    double delay;        /* seconds since the message arrived */
    double delays[4];    /* before the queue manager, in it, connection set-up, transmission */
    const char *dsn;     /* X.Y.Z */
    const char *status;  /* "sent", "defer" or "bounce" (logged sent, deferred, bounced) */
    const char *reason;
};

void delivery_log(const struct delivery_line *l);
/* soft_bounce (doc/operator.md): when *status is "bounce", make it "defer" and *dsn the
 * same code with class 4 (written into buf); true when it changed something. */
bool delivery_soften(const char **status, const char **dsn, char buf[16]);
/* orig_to= for a recipient: the address in its ORCPT ("rfc822;" + xtext, RFC 3461 sec
 * 4.2) when there is one, else the recipient itself. Malloc'ed. */
char *delivery_orig_to(const char *rcpt, const char *orcpt);
/* Wall-clock time in seconds, with microseconds. */
double delivery_now(void);
/* Postfix's delay format: "0" below 5 ms, two decimals below 10 s (trailing zeros dropped),
 * whole seconds above. */
void delivery_fmt_delay(char *out, size_t size, double seconds);

#endif
