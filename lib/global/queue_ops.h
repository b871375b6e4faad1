/* queue_ops.h - queue-directory operations shared by qmgr and the posthorn CLI (mailq, queue
 * hold/release/requeue/delete): find the queue that holds a message, move a message between
 * queues, list a queue, remove a message, and the per-message defer log SPOOL/defer/ID that
 * qmgr writes and mailq reads (format in doc/ipc.md). Queue state is the directory: a move is
 * one rename that never replaces another file. Functions return -1 with errno (or *err)
 * instead of logging. A message can vanish or move between two calls: callers treat ENOENT
 * as "someone else got there first". */
#ifndef POSTHORN_QUEUE_OPS_H
#define POSTHORN_QUEUE_OPS_H
#include <stdbool.h>
#include <stddef.h>

/* The message queues in the order queue_find searches them (NULL-terminated). */
extern const char *const queue_message_queues[];

/* Which queue holds ID: 0 with *queue set to one of queue_message_queues, or -1 with errno
 * (ENOENT when no queue holds it, EINVAL for a malformed ID). */
int queue_find(const char *spool, const char *id, const char **queue);
/* rename SPOOL/from/ID to SPOOL/to/ID, never replacing (EEXIST). 0 or -1 with errno. The
 * file's mtime is kept (a deferred file's mtime is its next retry time). */
int queue_move(const char *spool, const char *id, const char *from, const char *to);
/* The queue IDs in SPOOL/queue, sorted (IDs start with the time: oldest first). Names that
 * are not queue IDs are skipped. 0 or -1 with errno; free with queue_list_free. */
int queue_list(const char *spool, const char *queue, char ***ids, size_t *n);
void queue_list_free(char **ids, size_t n);
/* Unlink SPOOL/queue/ID and its defer log, then fsync the queue directory. 0, or -1 with
 * errno (ENOENT when the queue file was not there). */
int queue_remove(const char *spool, const char *queue, const char *id);

/* --- the defer log: why recipients were deferred and the current back-off --- */
struct defer_entry {
    char *addr;
    char *reason;
    char *dsn; /* "4.2.2" */
};

struct defer_log {
    long long backoff; /* seconds of the last back-off */
    struct defer_entry *v;
    size_t n;
};

void defer_log_add(struct defer_log *d, const char *addr, const char *reason, const char *dsn);
/* 1 read, 0 no defer log for ID, -1 unreadable or malformed (*err malloc'ed). */
int defer_log_read(const char *spool, const char *id, struct defer_log *d, char **err);
/* Replace SPOOL/defer/ID atomically (temp, fsync, rename, directory fsync). 0 or -1 errno. */
int defer_log_write(const char *spool, const char *id, const struct defer_log *d);
/* Unlink SPOOL/defer/ID; 0 also when there was none. */
int defer_log_remove(const char *spool, const char *id);
void defer_log_free(struct defer_log *d);

#endif
