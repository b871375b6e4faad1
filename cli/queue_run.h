/* queue_run.h - the queue changes behind `posthorn queue delete|hold|release|requeue|flush`,
 * postsuper -d/-h/-H/-r and postqueue -f/-i/-s: one implementation, each front end choosing
 * only its words. A run applies one operation to messages named by ID or to ALL of them:
 * each move is one rename that never replaces a file (lib/global/queue_ops.h); the
 * directories touched are fsynced once at the end, and qmgr is woken when mail moved.
 *
 * Messages in active/ belong to qmgr while it delivers them: an operation takes them only
 * when active is named explicitly among the queues (only), which the front ends allow only
 * while the mail system is stopped. */
#ifndef POSTHORN_QUEUE_RUN_H
#define POSTHORN_QUEUE_RUN_H
#include "cli.h"

struct queue_op {
    const char *name;        /* "delete", "hold", "release", "requeue", "flush" */
    const char *const *from; /* queues it takes messages from (NULL-terminated) */
    const char *to;          /* destination queue, NULL to delete */
    bool reset_backoff;      /* drop the defer log */
    bool names_active;       /* over ALL, mail left in active/ is named in a warning */
    const char *logged;      /* "removed", "placed on hold", ... (log line and summaries) */
};

/* The operation called name, or NULL. */
const struct queue_op *queue_op_find(const char *name);

struct queue_run {
    struct cli *c;
    const char *prog;           /* name in messages */
    const struct queue_op *op;
    const char *const *only;    /* NULL: op->from; else only these queues */
    size_t done;                /* messages changed */
    bool failed;                /* an I/O error (printed) */
    bool touched[8];            /* per index in queue_message_queues: fsync at the end */
};

enum queue_one {
    QUEUE_ONE_DONE,
    QUEUE_ONE_BAD_ID,    /* not a queue ID: never used as a path */
    QUEUE_ONE_NOT_FOUND, /* in no queue (maybe delivered meanwhile) */
    QUEUE_ONE_ACTIVE,    /* in active/, not named among the queues: left to qmgr */
    QUEUE_ONE_ELSEWHERE, /* in a queue the operation does not take from (*queue) */
    QUEUE_ONE_ERROR,     /* the move or removal failed (printed, run->failed set) */
};

/* Apply the run's operation to one message; *queue: where it was found (or NULL). */
enum queue_one queue_run_one(struct queue_run *r, const char *id, const char **queue);
/* Apply it to every message in the queues it may take from. */
void queue_run_all(struct queue_run *r);
/* fsync the touched directories and wake qmgr when mail moved. */
void queue_run_finish(struct queue_run *r);
/* Is name one of the message queues (incoming, active, deferred, hold, corrupt)? */
bool queue_run_known(const char *name);

/* qmgr's request=flush (doc/ipc.md): 0 done, 1 qmgr is not running, -1 error (*err). */
int queue_flush_request(struct cli *c, char **err);

/* The "flush" run on every deferred message with a pending recipient in the domain site
 * (postqueue -s, sendmail -qR). */
void queue_run_site(struct queue_run *r, const char *site);

#endif
