/* local_submit.h - queueing a message submitted on this host (doc/pickup.md): sendmail(1)
 * does it itself for root and the instance's user, the pickup service (SPOOL/public/pickup)
 * for every other local user. The same steps either way: the envelope checked and
 * qualified with myorigin, a Received field naming the submitting uid on top, From, Date
 * and Message-ID added when missing (RFC 6409 sec 8), the queue file written, signed with
 * DKIM by the dkim service (doc/dkim.md), committed durably, logged in Postfix's pickup
 * shape ("ID: uid=N from=<S>") and qmgr woken. */
#ifndef POSTHORN_LOCAL_SUBMIT_H
#define POSTHORN_LOCAL_SUBMIT_H
#include "config.h"
#include "queue.h"
#include "submit_message.h"
#include <stdbool.h>
#include <sys/types.h>

struct local_rcpt {
    char *addr;   /* canonical and qualified (local_submit_address) */
    char *orcpt;  /* RFC 3461 ORCPT as given ("rfc822;" xtext), or NULL */
    char *notify; /* RFC 3461 NOTIFY in upper case (local_submit_notify), or NULL */
};

struct local_envelope {
    uid_t uid;            /* who submitted: the Received field and the log line name it */
    char *sender;         /* canonical (local_submit_address), "" for the null sender */
    struct local_rcpt *rcpts; /* no address twice */
    size_t nrcpts;
    const char *ret;      /* RFC 3461 RET, "FULL" or "HDRS", or NULL */
    const char *envid;    /* RFC 3461 ENVID in xtext (local_submit_envid), or NULL */
    const char *fullname; /* the display name of a From: field added when missing, or NULL */
};
/* Add a recipient (the strings are copied; addr must be canonical) unless the address is
 * there already (a second copy of the same address is pointless). */
void local_envelope_add(struct local_envelope *e, const char *addr, const char *orcpt,
                        const char *notify);
/* Free what the envelope owns: sender, recipients. */
void local_envelope_free(struct local_envelope *e);

/* The canonical form of an address given on a command line ("alice", "a@b", "<a@b>",
 * "\"a b\"@c"): an RFC 5321 mailbox (sec 4.1.2), a bare local part qualified with
 * @$myorigin. NULL when it is not one; "" for an empty one when null_ok (the sender). A
 * sender (null_ok) may also be plain text whose local part needs quoting ("a,b@c" becomes
 * "\"a,b\"@c"), as Postfix's sendmail -f takes it. Malloc'ed. */
char *local_submit_address(struct config *cfg, const char *in, bool null_ok);
/* Is notify a valid NOTIFY value (RFC 3461 sec 4.1: NEVER, or SUCCESS, FAILURE and DELAY
 * in any combination)? It is written back in upper case into out (64 bytes). */
bool local_submit_notify(const char *notify, char out[64]);
/* Is envid a well-formed ENVID (xtext of at most 100 bytes, RFC 3461 sec 4.4)? */
bool local_submit_envid(const char *envid);

/* sendmail -bv: how addr (canonical) would be delivered, as text (malloc'ed) such as
 * "deliverable: mailbox alice@example.com" or "undeliverable: unknown user"; returns
 * EX_OK, EX_NOUSER or EX_TEMPFAIL. Nothing is sent. */
struct resolver;
int local_submit_verify(struct resolver *r, const char *addr, char **text);

/* Queue message m for envelope e into spool: EX_OK with the queue ID in id, or a sysexits
 * status (EX_TEMPFAIL, EX_DATAERR) with *err (malloc'ed) saying why. log_name is the
 * program name the log line is written under by the caller's log (the line itself is
 * written here). */
int local_submit_queue(struct config *cfg, const char *spool, const struct local_envelope *e,
                       const struct submit_message *m, char id[QUEUE_ID_SIZE], char **err);

#endif
