/* smtpc.h - smtp-client's shared state (doc/smtp-client.md).
 *
 * One event-driven process serves many delivery requests from qmgr at once (agent.c speaks
 * the deliver protocol of doc/ipc.md). A request is a struct delivery (delivery.c): its
 * next hop becomes a destination (route.c: transport_maps, relayhost, or the recipient
 * domain's MX hosts, resolved with lib/io/dns), whose addresses are tried in order by SMTP
 * sessions (session.c, session_txn.c, session_tls.c), each one struct conn on the loop.
 * Per destination (dest.c) at most smtp_destination_concurrency_limit deliveries run at
 * once; the others wait and get the connection of the one before them when it ends well.
 *
 * Lifetime: a session is freed only at the end of an entry point from the loop (its conn
 * callbacks, its timer, its connect completion) once marked dead, so code inside never
 * frees it under its own feet; a session reports to its delivery as the last thing it does
 * with it (the delivery may finish and be freed in that call). Everything here runs on the
 * loop thread; libunbound's thread only delivers through lib/io/dns. */
#ifndef SMTPC_SMTPC_H
#define SMTPC_SMTPC_H
#include "buf.h"
#include "conn.h"
#include "deliver_request.h"
#include "dns.h"
#include "dotstuff.h"
#include "ipc.h"
#include "list.h"
#include "mta_sts.h"
#include "queue.h"
#include "server.h"
#include "smtp_ehlo.h"
#include "smtp_reply.h"
#include "tls.h"
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>

/* In the order of smtp_tls_security_level's choices. */
enum tls_level { TLSL_NONE, TLSL_MAY, TLSL_ENCRYPT, TLSL_DANE, TLSL_VERIFY, TLSL_SECURE };
enum addr_pref { PREF_ANY, PREF_IPV4, PREF_IPV6 };

#define SMTP_PORT 25
#define RELAY_MAX (DNS_NAME_MAX + INET6_ADDRSTRLEN + 16) /* "host[addr]:port" */

struct smtpc_params {
    const char *helo_name, *myhostname, *relayhost, *bind4, *bind6;
    long long t_connect, t_helo, t_starttls, t_mail, t_rcpt, t_data_init, t_data_xfer,
        t_data_done, t_rset, t_quit; /* milliseconds */
    unsigned mx_address_limit, mx_session_limit, dest_concurrency;
    size_t line_length_limit;    /* smtp_line_length_limit; 0: lines are never broken */
    bool cache_on_demand, skip_5xx_greeting, sasl_enable, soft_bounce, chunking;
    long long cache_time_ms, reuse_time_ms;
    long long rate_delay_ms;     /* smtp_destination_rate_delay; 0: none */
    enum addr_pref address_pref;
    enum tls_level tls_level;
};

struct agent;
struct delivery;
struct session;
struct dest;
struct maplist;
struct sts;
struct sts_entry;

struct smtpc {
    struct server *srv;
    struct smtpc_params p;
    struct dns *dns;
    SSL_CTX *tls;
    struct maplist *transport_maps, *sasl_maps, *tls_policy_maps;
    struct sts *sts;          /* MTA-STS (sts.c), NULL when off */
    char **own_addrs; /* this host's interface addresses (loop detection) */
    size_t nown_addrs;
    DLIST_HEAD(struct agent) agents;
    DLIST_HEAD(struct session) sessions;
    DLIST_HEAD(struct dest) dests;
    unsigned nagents, nsessions, ndeliveries;
};

/* --- a target: one address of one mail host, in the order it is tried --- */
struct target {
    char host[DNS_NAME_MAX];     /* MX host name (or the address for a numeric [addr]) */
    char addr[INET6_ADDRSTRLEN];
    int port;
    unsigned pref;
    bool no_tls;                 /* a retry in plaintext after a failed opportunistic TLS */
    bool dnssec;                 /* its MX and address records were DNSSEC-validated */
    bool sts_checked;            /* route.c held its host against the MTA-STS policy */
    enum mta_sts_mode sts;       /* the MTA-STS policy applied to its session */
};

/* TLSA records for a session (DANE, dane.c): owned copies. */
struct tlsa_set {
    struct tls_tlsa *rr;
    size_t n;
};

/* --- one recipient of a delivery --- */
enum rcpt_state { RC_PENDING, RC_FINAL };

struct drcpt {
    const char *addr, *orcpt, *notify; /* from the request */
    enum rcpt_state state;
    const char *status;  /* final: "sent" or "bounce" */
    char dsn[16];
    char *reason;        /* final reason, or the last soft error while pending */
    char relay[RELAY_MAX]; /* where the final answer came from, "" for none */
    bool accepted;       /* RCPT got 2xx in the current transaction */
    bool dsn_passed;     /* it went to a server with DSN, which got its NOTIFY (RFC 3461) */
};

/* --- a delivery: one request from qmgr --- */
struct delivery {
    struct smtpc *sc;
    struct agent *agent;      /* NULL once qmgr went away: the result is dropped */
    struct delivery *wait_next; /* in its destination's wait list */
    struct attrs attrs;       /* the request message (the strings below point into it) */
    struct deliver_request req;
    int qfd;                  /* the queue file, read-only */
    struct queue_msg msg;
    struct drcpt *r;
    size_t n;
    /* where to */
    char nexthop[DNS_NAME_MAX];  /* the recipient domain qmgr grouped by */
    char dest_name[DNS_NAME_MAX]; /* the host or domain to look up */
    int dest_port;
    bool use_mx;
    char dest_key[DNS_NAME_MAX + 16];
    struct dest *dest;
    enum tls_level tls_level;
    bool tls_policy_entry;    /* smtp_tls_policy_maps decided tls_level */
    bool dest_is_domain;      /* the next hop is the recipient domain (no relayhost or
                               * transport_maps next hop) */
    /* MTA-STS (sts.c) */
    struct dns_query *sts_q;  /* the _mta-sts TXT lookup */
    struct sts_entry *sts_wait; /* waiting for this entry's policy fetch */
    bool sts_done;            /* the policy (or none) is known */
    struct mta_sts_policy sts; /* a copy of it; mode none when none applies */
    char sts_id[MTA_STS_ID_MAX + 1];
    bool sts_skipped;         /* an MX host was left out by the policy */
    char *sasl_user, *sasl_pass;
    struct route *route;
    struct dns_query *tlsa_q; /* dane.c: the TLSA lookup of the next target */
    struct target tlsa_t;     /* ... and that target */
    bool resolved;            /* t holds the targets */
    struct target *t;
    size_t nt, next_t;
    struct target *tried;     /* addresses that had a session in this delivery */
    size_t ntried;
    unsigned sessions;        /* sessions that got a greeting */
    struct session *s;        /* the session working for it, if any */
    /* the last temporary error, for pending recipients without one of their own */
    char soft_dsn[16];
    char *soft_reason;
    bool msg_ok;              /* the queue file was read */
    double t_start, t_ready;  /* wall clock: request start, first session ready */
    /* message properties */
    bool body_8bit, smtputf8;
    size_t wire_size;         /* with CRLF line ends, for SIZE */
    const char *envid, *ret;  /* from the queue file, NULL when absent */
};

/* --- a destination: deliveries and cached connections per next hop (dest.c) --- */
struct dest {
    struct dest *prev, *next;
    struct smtpc *sc;
    char key[DNS_NAME_MAX + 16];
    unsigned active;             /* deliveries running */
    unsigned pins;               /* code in the middle of using it: do not free */
    unsigned long kick_timer;    /* starts waiting deliveries */
    long long next_start_ms;     /* with a rate delay: no delivery starts before then */
    struct delivery *wait_head, *wait_tail;
    struct session *idle;        /* cached sessions, linked by idle_next */
};

/* agent.c */
void agent_accept(struct smtpc *sc, int fd);
/* The request of a is now the delivery d (until agent_delivery_done). */
void agent_bind(struct agent *a, struct delivery *d);
void agent_delivery_done(struct agent *a, struct attrs *reply);
void agent_tick(struct smtpc *sc);

/* delivery.c */
/* Take over attrs (moved) and qfd; the result goes back to a (agent_delivery_done, maybe
 * before this returns). -1 with *err when the request is malformed (nothing is answered:
 * the agent closes the connection). */
int delivery_start(struct smtpc *sc, struct agent *a, struct attrs *attrs, int qfd, char **err);
void delivery_agent_gone(struct delivery *d);
/* From dest.c: the delivery may run now. */
void delivery_go(struct delivery *d);
/* From dane.c: connect to t now. */
void delivery_open_target(struct delivery *d, const struct target *t, enum tls_level level,
                          struct tlsa_set *tlsa);
/* From dane.c (no DANE for t) and delivery.c: connect to t at the configured level, with
 * the MTA-STS policy applied. */
void delivery_open_without_dane(struct delivery *d, const struct target *t);
/* From sts.c: d->sts holds the policy (or none); the destination is resolved next. */
void delivery_sts_ready(struct delivery *d);
/* From dane.c: t cannot be used (why is "X.Y.Z text"); go on with the next. */
void delivery_target_failed(struct delivery *d, const char *dsn, const char *why);
/* From route.c: the targets are in d->t (or the route failed with a final result). */
void delivery_targets_ready(struct delivery *d);
/* Record a result for recipient k: class 2 and 5 are final, 4 leaves it pending for the
 * next host (reason kept as its last error). */
void delivery_rcpt_result(struct delivery *d, size_t k, int cls, const char *dsn,
                          const char *reason, const char *relay);
/* Every pending recipient gets this result (class 4: stays pending, for the next host). */
void delivery_all_result(struct delivery *d, int cls, const char *dsn, const char *reason,
                         const char *relay);
/* From session.c: the session is ready for the transaction (greeting, EHLO, TLS, AUTH
 * done). */
void delivery_session_ready(struct delivery *d, struct session *s);
/* From session.c: the session ended without completing a transaction (it closes itself).
 * stale: a cached connection that turned out dead before anything was decided: try again
 * without counting it. retry_plain: the opportunistic TLS handshake failed: the same
 * address again without STARTTLS. */
void delivery_session_failed(struct delivery *d, struct session *s, bool stale, bool retry_plain);
/* From session_txn.c: the transaction ended (results recorded); reusable tells whether the
 * session may carry another message. */
void delivery_txn_done(struct delivery *d, struct session *s, bool reusable);
size_t delivery_pending(const struct delivery *d);

/* maps.c */
struct config;
struct maplist *maplist_open(struct config *cfg, const char *param);
int maplist_lookup(struct maplist *ml, const char *key, char **value, char **err);
void maplist_close(struct maplist *ml);

/* route.c: resolve d's destination into d->t (asynchronous; delivery_targets_ready follows
 * from the loop). Also decides the destination from transport_maps and relayhost. */
struct route;
/* 0, -1 with *err when the destination is misconfigured (defer), -2 when the domain can
 * never be looked up (bounce 5.1.2), -3 when it is an address literal of ours (bounce 5.4.6,
 * a loop). */
int route_plan(struct delivery *d, char **err);
void route_resolve(struct delivery *d);
void route_cancel(struct delivery *d);
/* Is name one of this host's names or addresses (loop detection)? */
bool route_is_self(struct smtpc *sc, const char *name);

/* dest.c */
/* Join the destination of d->dest_key: true when d may run now, false when it waits
 * (delivery_go follows later). */
bool dest_enter(struct smtpc *sc, struct delivery *d);
/* d is done with its destination: the next waiting delivery starts. */
void dest_leave(struct smtpc *sc, struct delivery *d);
/* A cached session for d's destination, or NULL. */
struct session *dest_take_idle(struct delivery *d);
/* Keep s for the next delivery to d's destination (or hand it to a waiting one). */
void dest_park(struct delivery *d, struct session *s);
void dest_unpark(struct session *s);
void dest_quit_idle(struct smtpc *sc);

/* session.c */
/* Connect to t for d at this TLS level; tlsa (for TLSL_DANE) is taken over. Progress is
 * reported through delivery_session_*. */
struct session *session_open(struct smtpc *sc, struct delivery *d, const struct target *t,
                             enum tls_level level, struct tlsa_set *tlsa);

/* dane.c: the TLS level and TLSA records for a target of a delivery at level dane
 * (RFC 7672 sec 2.2): looks up the TLSA records when the target's DNS was validated, then
 * calls delivery_open_target(); a lookup failure fails the target (4.7.5). */
void dane_open(struct delivery *d, const struct target *t);
void dane_cancel(struct delivery *d);
void tlsa_set_free(struct tlsa_set *ts);
/* Give a cached session to d. */
void session_adopt(struct session *s, struct delivery *d);
/* Send QUIT and close (detached from any delivery). */
void session_quit(struct session *s);
const char *session_relay(const struct session *s);
const struct target *session_target(const struct session *s);
bool session_is_idle(const struct session *s);
void session_set_idle(struct session *s, struct dest *dst, long long ms);

/* session_txn.c: run one mail transaction for s->d's pending recipients. */
void session_transaction(struct session *s);

/* main.c: one line of the reply text, for results: "host H[A] said: 550 ... (in reply to
 * RCPT TO command)". */
char *smtpc_said(const char *relay_host, const struct smtp_reply *r, const char *command);

#endif
