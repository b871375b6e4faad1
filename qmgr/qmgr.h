/* qmgr.h - the queue manager's shared state (see main.c for the overall contract).
 *
 * Threads: the event loop (main thread) owns all scheduling state: the active message list,
 * per-recipient results, logging of results, the listener's clients. Blocking work runs on
 * worker threads as tasks: one pool per transport (delivery requests, at most the
 * transport's concurrency limit at once) and one "finish" pool (DSNs, defer logs, removal),
 * so neither a slow delivery agent nor an fsync ever stalls the loop. A task is handed to
 * exactly one thread at a time; while a message has tasks out, workers only read the parts
 * of it that the loop does not change (envelope, descriptors) and write their results into
 * the task; the loop applies them when the task comes back through its pool's worker. */
#ifndef QMGR_QMGR_H
#define QMGR_QMGR_H
#include "config.h"
#include "event.h"
#include "list.h"
#include "queue.h"
#include "queue_ops.h"
#include "resolve.h"
#include "server.h"
#include "worker.h"
#include <stdbool.h>
#include <stddef.h>

struct qmgr;
struct task;
struct qclient;

/* --- worker pools (pool.c) --- */
typedef void (*task_run_fn)(struct task *t);
typedef void (*task_done_fn)(struct qmgr *q, struct task *t);

struct task {
    struct worker_job wj; /* the pool's worker (lib/util/worker.h) */
    task_run_fn run;   /* on a worker thread */
    task_done_fn done; /* back on the loop; frees the task */
    bool cancelled;    /* dropped from a queue before it ran (drain): done still runs */
};

struct pool {
    const char *name;
    struct qmgr *q;
    struct worker *worker;
};

/* Start the pool's worker on q's loop (fatal when it cannot start). */
void pool_init(struct pool *p, struct qmgr *q, const char *name, unsigned max_threads);
void pool_submit(struct pool *p, struct task *t);
/* Take every queued (not yet running) task off the queue and complete it as cancelled. */
void pool_cancel_queued(struct pool *p);

/* --- transports (transport.c) --- */
struct transport {
    const char *name;      /* "local", "smtp" */
    const char *socket;    /* relative to the spool: "private/local" */
    bool by_nexthop;       /* one request per recipient domain, with nexthop= */
    bool optional;         /* a missing socket means "not installed": defer, do not try */
    bool exactly_once;     /* the agent recognises a repeated request and does not deliver
                            * twice (local-mda): done-marks need not be synced (deliver.c) */
    unsigned rcpt_limit;   /* recipients per request */
    struct pool pool;
};

/* --- active messages (message.c) --- */
/* RS_DONE: finished in an earlier run (done in the queue file); the rest describe this run. */
enum rcpt_state { RS_DONE, RS_PENDING, RS_BUSY, RS_SENT, RS_BOUNCED, RS_DEFERRED };

struct rcpt_result {
    enum rcpt_state state;
    char dsn[16];
    char *reason;
    bool expanded;     /* forwarded to further addresses (success DSN: "expanded") */
    char relayed;      /* sent on by SMTP (relayed_i): 'd' to a next hop with DSN (it reports
                        * success itself), 'p' to one without (our success DSN: "relayed") */
    double last_try;   /* wall clock of the last attempt */
};

struct qmsg {
    struct qmgr *q;
    struct qmsg *prev, *next;
    char id[QUEUE_ID_SIZE];
    int fd;   /* O_RDWR: queue_mark_done and fdatasync */
    int rdfd; /* O_RDONLY: passed to delivery agents */
    struct queue_msg m;
    struct rcpt_result *res; /* one per m.rcpts */
    double t_active;         /* wall clock of activation */
    long long prev_backoff;  /* from the defer log; 0 when never deferred */
    bool has_defer_log;      /* SPOOL/defer/ID existed at activation */
    unsigned tasks_out;      /* delivery or finish tasks not yet back */
    bool abandoned;          /* drain dropped a request: leave the file in active/ */
};

struct qmgr {
    struct server *srv;
    struct config *cfg;
    const char *spool;
    struct resolver *resolver;
    struct transport *transports;
    size_t ntransports;
    struct pool finish_pool;
    /* active messages */
    DLIST_HEAD(struct qmsg) active;
    size_t nactive, active_limit;
    unsigned tasks_out; /* all tasks not yet completed on the loop */
    /* scanning */
    long long next_full_scan_ms, next_deferred_ms;
    bool incoming_scan_pending, backlog;
    unsigned long scan_timer;
    bool draining;
    /* clients of private/qmgr (listen.c) */
    DLIST_HEAD(struct qclient) clients;
    unsigned nclients;
    /* configuration snapshot */
    long long min_backoff, max_backoff, max_lifetime, bounce_lifetime, run_delay, ipc_timeout;
    const char *hostname, *origin, *notice_sender;
    long long bounce_size_limit, bounce_notice_limit;
    bool soft_bounce;
};

/* scan.c */
void scan_recover(struct qmgr *q);
void scan_incoming_soon(struct qmgr *q);
void scan_incoming(struct qmgr *q);
void scan_deferred(struct qmgr *q, bool all);
int scan_flush(struct qmgr *q);

/* message.c */
void message_activate(struct qmgr *q, const char *from_queue, const char *id);
void message_apply(struct qmsg *msg, size_t i, const char *status, const char *dsn,
                   const char *reason, const char *relay, const double delays[4]);
void message_apply_agent(struct qmsg *msg, size_t i, const char *status, const char *dsn,
                         const char *reason, const char *relay, const double delays[4],
                         bool agent_logged);
/* Log "to=<ADDR>, orig_to=<rcpt i>, ... status=sent (forwarded as FWD_ID)" for each
 * address of the comma-separated list (an agent's forward_i that qmgr queued). */
void message_log_forwards(struct qmsg *msg, size_t i, const char *list, const char *fwd_id,
                          const char *relay, const double d[4]);
void message_task_back(struct qmsg *msg);
void message_free(struct qmsg *msg);
double wall_now(void);
/* Arrival time of the message as a wall clock value. */
double msg_arrival(const struct qmsg *msg);

/* dispatch.c */
void dispatch_message(struct qmsg *msg);

/* deliver.c: one delivery request on a worker thread */
struct job_rcpt {
    size_t index;    /* into msg->m.rcpts */
    char status[8];  /* "sent", "defer", "bounce" */
    char dsn[16];
    char *reason;
    char *forward;   /* forward_i from the agent, NULL when none */
    char *relay;     /* relay_i: the server that answered ("host[addr]:port"), or NULL */
    char relayed;    /* relayed_i: 'd' (dsn), 'p' (plain) or 0 */
    char fwd_id[QUEUE_ID_SIZE]; /* queue ID of the forwarded copy */
    bool changed;    /* qmgr changed the agent's result (the forwarded copy failed) */
};

struct job {
    struct task task;
    struct qmsg *msg;
    struct transport *tp;
    char *nexthop;
    struct job_rcpt *r;
    size_t n;
    double t_queued, t_start, t_conn, t_done;
    double setup;     /* the agent's connection set-up time (its reply's setup=), or 0 */
    bool connected;
    bool queued_mail; /* forwarded copies were queued: scan incoming */
    bool agent_logged; /* the reply said logged=yes: the agent logged each recipient */
};

struct job *job_new(struct qmsg *msg, struct transport *tp, const char *nexthop);
void job_add_rcpt(struct job *j, size_t index);
void deliver_run(struct task *t);
/* reply.c: fill j->r[] from the agent's reply a; 0, or -1 with *err (malloc'ed) when the
 * reply is not exactly nrcpt=N, the optional logged=yes and setup, and status_k, dsn_k,
 * reason_k (forward_k and relayed_k with sent only, relay_k optional) for k < N, each once,
 * nothing else. */
struct attrs;
int deliver_parse_reply(struct job *j, const struct attrs *a, char **err);
void deliver_done(struct qmgr *q, struct task *t);
/* forward.c: queue the copies for forward_i answers (worker thread). */
void forward_all(struct job *j);

/* finish.c: DSNs, defer log and removal on the finish pool */
void finish_message(struct qmsg *msg);

/* transport.c */
void transports_init(struct qmgr *q);
/* Transport for a recipient, with its next hop (malloc'ed, "" for local) or NULL with a
 * deferral reason in *why ("4.x.x text"). */
struct transport *transport_for(struct qmgr *q, const char *addr, char **nexthop, char **why);
/* Is the envelope sender's domain one of ours (resolve_domain_is_ours)? false when it is
 * not or cannot be told (no resolver, a lookup error). Event loop only, like the resolver. */
bool sender_is_ours(struct qmgr *q, const char *sender);

/* listen.c */
void listen_accept(struct qmgr *q, int fd);
void listen_tick(struct qmgr *q);

/* Helpers shared by the files. */
const char *domain_of(const char *addr);

#endif
