/* queue_listing.h - the queue as mailq shows it, one message at a time: the one listing code
 * path behind the showq service, `mailq`, `sendmail -bp`, `postqueue -p/-j` and
 * `posthorn queue list` (doc/operator.md, "The queue"; the showq protocol in doc/ipc.md).
 *
 * A scan walks the named queues in order, each in directory order (no sorting: memory stays
 * bounded by one message however large the queue is, as with Postfix's showq), reads each
 * queue file's envelope and its defer log, and hands out what mailq shows and nothing else:
 * queue, ID, arrival time, content size, sender, and the recipients still pending with the
 * reason they were deferred. Recipients are in Postfix's order: those with a recorded reason
 * first (in the defer log's order), then the rest (in the queue file's order). Strings are
 * the bytes of the queue file, cut to QLIST_FIELD_MAX (formatters make them printable).
 * A file that moves or vanishes during the scan (qmgr at work) is skipped silently; one that
 * cannot be read is reported and skipped. Functions return errors instead of logging. */
#ifndef POSTHORN_QUEUE_LISTING_H
#define POSTHORN_QUEUE_LISTING_H
#include <stdbool.h>
#include <stddef.h>

/* Longest sender, address or reason handed out (longer ones are cut): keeps every showq
 * record far below IPC_MAX_MESSAGE. */
#define QLIST_FIELD_MAX 16384

struct qlist_rcpt {
    char *address;
    char *reason; /* why delivery was deferred; "" when none is recorded */
};

struct qlist_msg {
    char *queue;            /* "active", "incoming", "deferred" or "hold" */
    char *id;
    long long arrival_time; /* seconds since the epoch */
    long long size;         /* content bytes (header and body) */
    bool forced_expire;     /* Postfix's postsuper -e/-f; Posthorn has none: always false */
    char *sender;           /* "" for the null sender */
    struct qlist_rcpt *rcpts;
    size_t nrcpts;
    char *warning;          /* set when the defer log could not be read (listed without
                             * reasons); NULL otherwise */
};

/* The queues mailq lists, in Postfix's order (NULL-terminated). */
extern const char *const qlist_mailq_queues[];

enum qlist_result {
    QLIST_FAILED = -1, /* a queue directory cannot be read: the listing stops; *err says why */
    QLIST_END = 0,     /* no more messages */
    QLIST_MSG = 1,     /* *m holds the next message */
    QLIST_SKIPPED = 2, /* a queue file could not be read; *err says why; call again */
};

struct qlist;
/* Start a scan of SPOOL/QUEUE for each of queues (names from queue.h, NULL-terminated; the
 * array must outlive the scan). Nothing is opened yet. */
struct qlist *qlist_open(const char *spool, const char *const *queues);
/* The next message into *m (which the scan owns: valid until the next call or the close);
 * *err is malloc'ed and the caller frees it. */
enum qlist_result qlist_next(struct qlist *q, const struct qlist_msg **m, char **err);
void qlist_close(struct qlist *q);

/* For the showq client, which builds messages from records: free what *m holds. */
void qlist_msg_clear(struct qlist_msg *m);
void qlist_msg_add_rcpt(struct qlist_msg *m, const char *address, const char *reason);

#endif
