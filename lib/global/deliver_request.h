/* deliver_request.h - the delivery agent's side of the deliver protocol (doc/ipc.md,
 * "deliver"): the strict check of a request=deliver message from qmgr into a struct, and
 * the per-recipient lines of the reply. Shared by local-mda and smtp-client so both refuse
 * exactly the same malformed requests.
 *
 * A request is accepted only when every attribute is known and appears once, request is
 * "deliver", queue_id is a queue ID, sender and arrival are there, nrcpt is 1..100000 and
 * rcpt_0 .. rcpt_{nrcpt-1} are all there and not empty; orcpt_i and notify_i are optional
 * (i < nrcpt), nexthop and delays are optional. Pure: no I/O, no logging. The strings of a parsed
 * request point into the attrs it was parsed from, which must outlive it. */
#ifndef POSTHORN_DELIVER_REQUEST_H
#define POSTHORN_DELIVER_REQUEST_H
#include "ipc.h"
#include <stddef.h>

#define DELIVER_MAX_RCPT 100000

struct deliver_rcpt {
    const char *addr;
    const char *orcpt;  /* "" when not given */
    const char *notify; /* "" when not given */
};

struct deliver_request {
    const char *queue_id;
    const char *sender;  /* "" for the null sender */
    const char *nexthop; /* "" when not given (local transport) */
    long long arrival;
    double delays[3];    /* delays=a/b/c (qmgr's part of the log's delays=), zeros if absent */
    size_t nrcpt;
    struct deliver_rcpt *rcpt; /* malloc'ed array of nrcpt */
};

/* 0, or -1 with *err (malloc'ed) when the request is malformed (the agent then closes the
 * connection; qmgr defers the request). */
int deliver_request_parse(const struct attrs *a, struct deliver_request *r, char **err);
void deliver_request_free(struct deliver_request *r);

/* Append recipient k's result to a reply: status_k (sent|defer|bounce), dsn_k, reason_k. */
void deliver_reply_add(struct attrs *rep, size_t k, const char *status, const char *dsn,
                       const char *reason);

#endif
