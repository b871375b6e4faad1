/* local.h - local-mda's shared state: the daemon, one delivery request, and the result of
 * one recipient. main.c speaks the protocol, recipient.c delivers one recipient and logs
 * each final target, expand.c turns a recipient into mailboxes, commands, files and
 * forward addresses (include.c reads :include: files), mailbox.c writes the message into a
 * mailbox, boxes.c keeps recently used mailboxes open, special.c hands commands and files
 * to the privileged helper (helper.c) that runs them as default_privs (pipe.c, mbox.c). */
#ifndef POSTHORN_LOCAL_H
#define POSTHORN_LOCAL_H
#include "list.h"
#include "alias_value.h"
#include "config.h"
#include "ipc_server.h"
#include "event.h"
#include "ipc.h"
#include "queue.h"
#include "resolve.h"
#include <stdbool.h>
#include <sys/types.h>

struct box;
struct boxes {
    DLIST_HEAD(struct box) list; /* most recently used first (boxes.c) */
    size_t n;
};

struct mda {
    struct config *cfg;
    struct resolver *res;
    struct ipc_peers peers; /* root, ourselves and mail_owner (qmgr) */
    long long once_keep; /* seconds exactly-once delivery records are kept */
    struct boxes boxes;
    bool unprivileged;   /* started by a user other than root: that user is the instance's */
    uid_t instance_uid;  /* that user (unprivileged only) */
    struct ipc_conn helper; /* to the helper that runs commands and writes files (helper.c);
                               fd -1 once it is gone */
};

/* Outcome for one recipient (or one mailbox). */
struct outcome {
    const char *status; /* "sent", "defer", "bounce": always one of these literals */
    char dsn[16];       /* RFC 3463 X.Y.Z */
    char *reason;
};

/* A mailbox already delivered to in this request, with its outcome (each mailbox gets at
 * most one copy per request, however many recipients lead to it). */
struct box_done {
    char *mailbox;
    struct outcome out;
};

/* A command or file already delivered to in this request, with its outcome. */
struct special_done {
    enum alias_kind kind;
    char *what, *owner;
    struct outcome out;
};

struct request {
    struct mda *mda;
    const char *queue_id;
    const char *sender;
    long long arrival; /* Unix seconds, from the request */
    double t_start;    /* when the request came (wall clock) */
    double delays[3];  /* qmgr's part of Postfix's delays=a/b/c/d (request "delays") */
    int fd;            /* the queue file, read-only */
    struct queue_msg msg;
    char **delivered_to; /* Delivered-To: values already in the message, lowercased */
    size_t ndelivered_to;
    struct box_done *boxes;
    size_t nboxes;
    struct special_done *specials;
    size_t nspecials;
};

/* The expansion of one recipient: local mailboxes and remote addresses, or a failure. */
struct target {
    char *mailbox;      /* lowercased user address without extension */
    char *delivered_to; /* the address as it reached this mailbox, domain in A-labels */
};

/* A command or file target, and the alias that listed it (RECIPIENT, Delivered-To). */
struct special {
    enum alias_kind kind; /* ALIAS_COMMAND or ALIAS_FILE */
    char *what;           /* the command or the path, as written in the aliases file */
    char *owner;          /* the alias address, domain in A-labels */
    char *extension;      /* the owner's address extension, or NULL */
};

struct expansion {
    struct target *local;
    size_t nlocal;
    struct special *special;
    size_t nspecial;
    char **remote;
    size_t nremote;
    char **unknown; /* alias members in our domains that do not exist */
    size_t nunknown;
    char *self_unknown; /* an alias that lists itself and has no mailbox */
    bool failed;
    struct outcome fail; /* when failed */
};

void outcome_set(struct outcome *o, const char *status, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void outcome_free(struct outcome *o);

/* expand.c */
void expand_recipient(struct request *rq, const char *rcpt, struct expansion *x);
void expansion_free(struct expansion *x);

/* mailbox.c */
/* Collect the Delivered-To: header values of the message; -1 with *err if unreadable. */
int scan_delivered_to(struct request *rq, char **err);
bool has_delivered_to(const struct request *rq, const char *addr);
/* The Return-Path: and Delivered-To: lines every copy starts with (RFC 5321 sec 4.4),
 * appended to h; envelope addresses written quoted where needed, without control
 * characters. */
struct buf;
void delivery_headers(struct buf *h, const char *sender, const char *delivered_to);
/* Deliver one copy to a mailbox (once per request); returns the recorded outcome. */
const struct outcome *deliver_mailbox(struct request *rq, const struct target *t);

/* boxes.c */
/* An open handle of the mailbox domain/localpart (created when missing), owned by the
 * cache: valid until the next boxes_get or boxes_expire. NULL with *err. */
struct mail_user *boxes_get(struct mda *m, const char *domain, const char *localpart, char **err);
/* Close the handles that have not been used for a while (called about once a second). */
void boxes_expire(struct mda *m);

/* include.c: read the :include: file path for expansion: its targets appended to list.
 * 0; or -1 with *err (malloc'ed; names the file and line, never its content) when it
 * cannot be read, is not a regular file owned by a trusted user (trusted_owner) and
 * writable by no one else, is larger than alias_include_size_limit, or has a bad line. */
int include_read(struct mda *m, const char *path, struct alias_list *list, char **err);
/* Is a file of this owner and mode trusted with commands and files: owned by root (or by
 * the instance's user when it runs unprivileged), writable by no one else? */
bool trusted_owner(const struct mda *m, uid_t uid, mode_t mode);

/* special.c: deliver the message to a command or file (once per request), through the
 * helper; returns the recorded outcome. */
const struct outcome *deliver_special(struct request *rq, const struct special *sp,
                                      const char *orig_rcpt);

/* helper.c: start the helper process (before privileges are dropped; listen_fd, the
 * service's listener or -1, is closed in it); the connection to it in m->helper. */
void helper_start(struct mda *m, int listen_fd);
/* The longest a helper job may take, in seconds (its command or lock limit and a margin). */
long long helper_job_limit(struct config *cfg);

/* The outcome of one recipient as in the reply (logged, one line per final target); orcpt
 * is its ORCPT ("rfc822;xtext") or NULL; forward is a "a,b" list or NULL. */
void process_recipient(struct request *rq, const char *rcpt, const char *orcpt,
                       struct outcome *out, char **forward);
/* Log the delivery line of one address of this request (recipient.c). */
void log_delivery(const struct request *rq, const char *to, const char *orig_to,
                  const struct outcome *o);

#endif
