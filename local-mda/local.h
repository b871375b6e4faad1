/* local.h - local-mda's shared state: the daemon, one delivery request, and the result of
 * one recipient. main.c speaks the protocol, expand.c turns a recipient into mailboxes and
 * forward addresses, mailbox.c writes the message into a mailbox, boxes.c keeps recently
 * used mailboxes open. */
#ifndef POSTHORN_LOCAL_H
#define POSTHORN_LOCAL_H
#include "list.h"
#include "config.h"
#include "ipc_server.h"
#include "event.h"
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
};

/* Outcome for one recipient (or one mailbox). */
struct outcome {
    const char *status; /* "sent", "defer", "bounce" */
    char dsn[16];       /* RFC 3463 X.Y.Z */
    char *reason;
};

/* A mailbox already delivered to in this request, with its outcome (each mailbox gets at
 * most one copy per request, however many recipients lead to it). */
struct box_done {
    char *mailbox;
    struct outcome out;
};

struct request {
    struct mda *mda;
    const char *queue_id;
    const char *sender;
    long long arrival; /* Unix seconds, from the request */
    int fd;            /* the queue file, read-only */
    struct queue_msg msg;
    char **delivered_to; /* Delivered-To: values already in the message, lowercased */
    size_t ndelivered_to;
    struct box_done *boxes;
    size_t nboxes;
};

/* The expansion of one recipient: local mailboxes and remote addresses, or a failure. */
struct target {
    char *mailbox;      /* lowercased user address without extension */
    char *delivered_to; /* the address as it reached this mailbox, domain in A-labels */
};

struct expansion {
    struct target *local;
    size_t nlocal;
    char **remote;
    size_t nremote;
    char **unknown; /* alias members in our domains that do not exist */
    size_t nunknown;
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
/* Deliver one copy to a mailbox (once per request); returns the recorded outcome. */
const struct outcome *deliver_mailbox(struct request *rq, const struct target *t);

/* boxes.c */
/* An open handle of the mailbox domain/localpart (created when missing), owned by the
 * cache: valid until the next boxes_get or boxes_expire. NULL with *err. */
struct mail_user *boxes_get(struct mda *m, const char *domain, const char *localpart, char **err);
/* Close the handles that have not been used for a while (called about once a second). */
void boxes_expire(struct mda *m);

/* The outcome of one recipient as in the reply; forward is a "a,b" list or NULL. */
void process_recipient(struct request *rq, const char *rcpt, struct outcome *out, char **forward);

#endif
