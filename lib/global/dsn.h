/* dsn.h - delivery status notifications (RFC 3464) and the DSN parameters of RFC 3461.
 *
 * A DSN is a multipart/report; report-type=delivery-status message with three parts: a
 * human-readable explanation, a message/delivery-status part (per-message fields, then one
 * block per recipient) and the returned message (message/rfc822) or only its headers
 * (text/rfc822-headers). qmgr queues it from the null sender <> to the original envelope
 * sender. dsn_compose() builds the text (LF line ends, like every queued message);
 * dsn_queue() (dsn_queue.c) reads the original content from its queue file and queues the
 * report. The xtext of ENVID/ORCPT is lib/mail/xtext.h, the dates lib/mail/date.h.
 *
 * Size (doc/queue-format.md, "Delivery status notifications"): the notice (the first two
 * parts) is at most notice_limit bytes, or DSN_NOTICE_MIN when that is smaller: recipients
 * that do not fit are counted, not listed ("N more recipients not listed"), and the first
 * one is always listed (RFC 3464 sec 2.1 wants at least one per-recipient group). Every
 * field of a recipient group is cut to a fixed length, so one group always fits in
 * DSN_NOTICE_MIN. The returned part is at most size_limit bytes of the original. The whole
 * report is therefore at most notice_limit + size_limit + DSN_FRAME_MAX bytes. */
#ifndef POSTHORN_DSN_H
#define POSTHORN_DSN_H
#include "buf.h"
#include "queue.h"
#include <stdbool.h>
#include <stddef.h>

#define DSN_NOTICE_MIN 8192 /* smallest notice limit: the fixed text and one recipient */
#define DSN_FRAME_MAX 4096  /* the report's header and MIME framing, at most */
#define DSN_ORCPT_SHOWN 256 /* Original-Recipient addresses are cut to this many bytes */

enum dsn_kind {
    DSN_FAILURE, /* Action: failed */
    DSN_DELAY,   /* Action: delayed */
    DSN_SUCCESS  /* Action: delivered / expanded / relayed */
};

struct dsn_rcpt {
    const char *addr;           /* final recipient */
    const char *orcpt;          /* ORCPT as received ("rfc822;xtext"), NULL or "" when none */
    const char *action;         /* "failed", "delayed", "delivered", "expanded", "relayed" */
    const char *status;         /* RFC 3463 code, "5.1.1" */
    const char *diag;           /* diagnostic text, NULL when none */
    const char *diag_type;      /* "smtp" for SMTP replies; NULL means "x-posthorn" */
    long long last_attempt;     /* Unix seconds; 0 omits Last-Attempt-Date */
    long long will_retry_until; /* delayed only; 0 omits Will-Retry-Until */
};

struct dsn_report {
    enum dsn_kind kind;
    const char *hostname;     /* Reporting-MTA and Message-Id */
    const char *origin;       /* domain of From: and of the postmaster address (myorigin,
                                 a domain we receive mail for); NULL: hostname */
    const char *from_local;   /* local part of From: (bounce_notice_sender) */
    const char *queue_id;     /* the original message's queue ID */
    const char *sender;       /* the original envelope sender: the report's recipient */
    const char *envid;        /* ENVID as received (xtext) or NULL */
    bool ret_hdrs;            /* RET=HDRS: return headers only */
    bool hdrs_only;           /* return headers only whatever RET says (qmgr: a loop or
                                 policy failure reported outside our domains, backscatter) */
    long long arrival;        /* Unix seconds */
    long long now;            /* Unix seconds: the report's Date */
    const struct dsn_rcpt *rcpts;
    size_t nrcpts;
    size_t size_limit;        /* a failed message larger than this comes back as headers only */
    size_t notice_limit;      /* the first two parts at most (bounce_notice_size_limit) */
};

/* Is a failure with this RFC 3463 status one whose report returns only the headers to a
 * sender outside our domains? A mail loop (5.4.6: the body is whatever went round, often
 * sent with a forged sender) or a refusal by policy (5.7.x: the content was refused, so it
 * is not sent back to someone who perhaps never sent it). */
bool dsn_status_hdrs_only(const char *status);

/* Build the complete report message (header and body) into out. content/len is the start
 * of the original message and complete says whether it is all of it; the caller supplies at
 * least size_limit + 1 bytes (or all of a shorter message) so the size decision is exact.
 * new_id names the report's own queue file (for its Message-Id). */
void dsn_compose(struct buf *out, const struct dsn_report *r, const char *new_id,
                 const char *content, size_t len, bool complete);

/* Does the report need RFC 6533 (internationalized addresses: 8-bit sender or recipient)? */
bool dsn_report_is_global(const struct dsn_report *r);

/* Compose the report for the message m (queue file open at fd) and queue it durably from
 * <> to r->sender. 0 with new_id filled, or -1 with *err (malloc'ed). */
int dsn_queue(const char *spool, const struct dsn_report *r, int fd, const struct queue_msg *m,
              char new_id[QUEUE_ID_SIZE], char **err);

/* Does a recipient's NOTIFY value ("" when none was given, "NEVER", or a comma list of
 * SUCCESS, DELAY, FAILURE) ask for this kind of report? RFC 3461 section 4.1: without
 * NOTIFY we report failures (and, at our discretion, no delays). */
bool dsn_notify_wants(const char *notify, enum dsn_kind kind);

#endif
