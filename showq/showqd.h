/* showqd.h - the showq daemon's state (doc/showq.md; the protocol: doc/ipc.md, "showq").
 *
 * showq lets every local user list the queue, as Postfix's showq does: master starts it as
 * mail_owner on the public socket SPOOL/public/showq (master.cf private column n), where any
 * local user may connect. It answers one request=list per connection with the listing of
 * lib/global/queue_listing.h streamed in the records of lib/global/showq_proto.h: what
 * mailq prints (IDs, sizes, times, addresses, defer reasons) and never message content.
 *
 * Each event-driven process serves up to showq_client_limit clients at once (master.cf runs
 * two, sharing the listener, so reloads overlap: doc/showq.md). Each client has its
 * own scan of the queue, advanced only while its output buffer holds less than
 * SHOWQ_HIGH_WATER bytes, so a huge queue or a client that reads slowly costs one message's
 * worth of memory, and a client that sends no request or stops reading for showq_timeout
 * is dropped. Event loop thread only. */
#ifndef SHOWQ_SHOWQD_H
#define SHOWQ_SHOWQD_H
#include "list.h"
#include "server.h"

#define SHOWQ_HIGH_WATER 65536 /* listing bytes buffered per client before waiting for it */
#define SHOWQ_REQUEST_MAX 4096 /* a request is one short attribute message */
#define SHOWQ_FILES_PER_TURN 256 /* queue files read for one client before the others' turn */

struct showq_conn;

struct showqd {
    struct server *srv;
    unsigned client_limit; /* showq_client_limit */
    long long timeout_ms;  /* showq_timeout */
    unsigned nclients;
    DLIST_HEAD(struct showq_conn) clients;
};

/* clients.c */
void showq_accept(struct showqd *sq, int fd);
/* Drop the clients that made no progress for timeout_ms. */
void showq_expire(struct showqd *sq);

#endif
