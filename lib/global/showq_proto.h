/* showq_proto.h - the showq protocol (doc/ipc.md, "showq"): how any local user lists the
 * queue without access to the spool. showq (running as mail_owner) listens on
 * SPOOL/public/showq, announces protocol=showq version=1, takes one request=list (with
 * queue=hold for the mail on hold only) and streams the listing: per message one record
 * (queue, queue_id, arrival_time, message_size, forced_expire, sender, nrcpt) followed by
 * nrcpt recipient records (address, and reason when one is recorded), then end=ok, or
 * end=error with a reason when the scan failed. Only what mailq prints travels: never
 * message content. Readers are strict and fail closed.
 *
 * Server side: showq_parse_request() and the encoders. Client side: showq_connect() (or
 * showq_client_on() on a connected descriptor) and showq_next(), which hands out the same
 * struct qlist_msg as a direct scan (queue_listing.h), so both feed one formatter. */
#ifndef POSTHORN_SHOWQ_PROTO_H
#define POSTHORN_SHOWQ_PROTO_H
#include "buf.h"
#include "ipc.h"
#include "queue_listing.h"

#define SHOWQ_PROTOCOL "showq"
#define SHOWQ_SOCKET "public/showq" /* under queue_directory */

/* --- server --- */
/* Check a request; *queues is the NULL-terminated list to scan (static storage). 0, or -1
 * with *err (malloc'ed). */
int showq_parse_request(const struct attrs *req, const char *const **queues, char **err);
/* Append the records of one message (header, then one per recipient). */
void showq_encode_msg(struct buf *out, const struct qlist_msg *m);
/* Append the final record: end=ok, or end=error with reason when error is not NULL. */
void showq_encode_end(struct buf *out, const char *error);

/* --- client --- */
struct showq_client;
/* Connect to SPOOL/public/showq, check the announcement and send the request (only_queue:
 * NULL for mailq's queues, or "hold"). timeout_ms bounds each wait for the server. NULL
 * with errno from connect() (ENOENT or ECONNREFUSED: showq does not run; EACCES ...) and
 * *err (malloc'ed) saying what failed. */
struct showq_client *showq_connect(const char *spool, const char *only_queue, int timeout_ms,
                                   char **err);
/* The same over an already connected descriptor (taken over: closed by showq_close). */
struct showq_client *showq_client_on(int fd, const char *only_queue, int timeout_ms,
                                     char **err);
/* QLIST_MSG with *m (valid until the next call), QLIST_END after end=ok, or QLIST_FAILED
 * with *err: the server reported an error, or its data was malformed, short or late. */
enum qlist_result showq_next(struct showq_client *c, const struct qlist_msg **m, char **err);
void showq_close(struct showq_client *c);

#endif
