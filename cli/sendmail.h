/* sendmail.h - the pieces of the sendmail(1) front end (doc/pickup.md): sendmail.c
 * (options, the envelope, submitting), sendmail_smtp.c (-bs) and sendmail_modes.c (-q, -bv).
 * Messages go to stderr as "sendmail: ..."; statuses are sysexits(3) codes. */
#ifndef POSTHORN_CLI_SENDMAIL_H
#define POSTHORN_CLI_SENDMAIL_H
#include "cli.h"
#include "local_submit.h"
#include <stdbool.h>

enum sm_mode { SM_DELIVER, SM_SMTP, SM_MAILQ, SM_NEWALIASES, SM_VERIFY, SM_FLUSH };

struct sm_opts {
    enum sm_mode mode;
    const char *sender;   /* -f/-r, NULL: the invoking user */
    const char *fullname; /* -F */
    bool extract;         /* -t */
    bool ignore_dots;     /* -i, -oi */
    bool verbose;         /* -v */
    char notify[64];      /* -N, upper case, "" when not given */
    const char *ret;      /* -R: "FULL", "HDRS" or NULL */
    char *envid;          /* -V, as xtext, or NULL */
    const char *site;     /* -qR SITE, -qS SITE */
    char **rcpts;         /* the addresses of the arguments */
    size_t nrcpts, nargs;
};

void sm_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* May we write the queue ourselves (root, who becomes mail_owner here, or the instance's
 * user)? Otherwise the pickup service does it for us. */
bool sm_direct_access(struct cli *c);
/* Queue message m for e (e->uid is set here): directly when we may write the spool, else
 * through the pickup service. EX_OK with the ID, else a sysexits status (printed). */
int sm_submit(struct cli *c, struct local_envelope *e, const struct submit_message *m,
              char id[QUEUE_ID_SIZE]);
/* -bs: an SMTP session (RFC 5321) on standard input and output. */
int sm_smtp_session(struct cli *c, const struct sm_opts *o);
/* -q: ask qmgr to deliver the deferred mail now; -qR SITE: the mail for that domain (root
 * and the instance's user; for others the whole queue, through the pickup service). */
int sm_flush(struct cli *c, const char *site);
/* -bv: say for each recipient how it would be delivered; nothing is sent. */
int sm_verify(struct cli *c, const struct sm_opts *o);
/* One address as -bv sees it: EX_OK, EX_NOUSER (unknown here) or EX_TEMPFAIL; *text
 * (malloc'ed or NULL) says why. */
int sm_verify_one(struct cli *c, const char *addr, char **text);

#endif
