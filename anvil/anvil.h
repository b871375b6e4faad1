/* anvil.h - the anvil service's shared state (doc/anvil.md).
 *
 * anvil is one small process (master.cf maxproc 1) that every smtpd and login process asks
 * before serving a client: how many connections an address has open with a service across
 * all its processes, how many it opened in the last anvil_rate_time_unit, and whether a login
 * from it may be checked (and after which delay); submission asks it how many messages and
 * recipients a user has sent (lib/global/send_limit.h). It keeps counts in memory; the
 * users' sending counts and the login failures are handed to the next anvil across a
 * reload or restart (state.c), the connection counts start from zero.
 *
 * Counts that a process holds (open connections, logins being checked) are recorded per
 * client connection ("holder"), so that a process that dies or closes its connection
 * releases everything it held. Event loop thread only. */
#ifndef ANVIL_ANVIL_H
#define ANVIL_ANVIL_H
#include "ipc.h"
#include "list.h"
#include "send_limit.h"
#include "server.h"
#include <stdbool.h>
#include <stddef.h>

/* --- table.c: counts by key, bounded by anvil_max_entries --- */

struct holder {
    unsigned client; /* the anvil client connection that holds ... */
    unsigned n;      /* ... this many of the entry's count */
};

struct entry {
    struct entry *next;
    unsigned count;       /* held: open connections, or logins being checked */
    unsigned failures;    /* failed logins since fail_ms - login_penalty_time */
    long long fail_ms;    /* the last failure */
    long long touched_ms; /* the last change of any kind */
    long long rate_start; /* start of the current rate time unit */
    unsigned rate;        /* connections counted in it */
    struct holder *holders;
    unsigned nholders;
    struct send_count send; /* "send" entries: a user's messages and recipients */
    long long keep_until; /* kept at least until then, used or not */
    char key[];
};

struct table;
struct table *table_new(size_t max_entries);
void table_free(struct table *t);
/* The entry of kind for a (and b, when not NULL); created when create is true. NULL when it
 * does not exist, or the table is full. */
struct entry *table_get(struct table *t, const char *kind, const char *a, const char *b,
                        bool create);
/* The same by the whole key ("KIND LEN:A[ LEN:B]"), as table_each shows it. */
struct entry *table_get_key(struct table *t, const char *key, bool create);
void entry_hold(struct entry *e, unsigned client);
/* Release one count held by client; false when it held none. */
bool entry_release(struct entry *e, unsigned client);
/* Everything client held is released (its connection closed). */
void table_drop_client(struct table *t, unsigned client);
/* Remove entries that hold nothing, have not changed for idle_ms and are past their
 * keep_until. */
void table_expire(struct table *t, long long now_ms, long long idle_ms);
size_t table_size(const struct table *t);
void table_each(struct table *t, void (*fn)(struct entry *e, void *ctx), void *ctx);

/* --- state.c: the users' sending counts and login failures across a reload or restart --- */
struct anvil;
void state_save(struct anvil *av);
void state_load(struct anvil *av);

/* --- requests.c --- */

struct anvil {
    struct server *srv;
    struct table *table;
    long long penalty_ms;   /* login_penalty_time */
    long long rate_unit_ms; /* anvil_rate_time_unit */
    unsigned client_limit;  /* anvil_client_limit */
    unsigned next_client;
    unsigned nclients;
    DLIST_HEAD(struct anvil_conn) clients;
    long long last_expire_ms;
    long long full_logged_ms; /* "table full" was last logged then */
    long long amnesic_until; /* may lack its predecessor's login failures until then */
};

/* How long an entry that holds nothing is kept unused: the longer of login_penalty_time
 * and anvil_rate_time_unit. */
long long anvil_idle_ms(const struct anvil *av);
/* Answer one request of client into reply. -1 when the request is malformed (the
 * connection is then closed). */
int anvil_request(struct anvil *av, unsigned client, const struct attrs *req, struct attrs *reply);

/* --- clients.c: the connections of the daemons on SPOOL/private/anvil --- */
void clients_accept(struct anvil *av, int fd);

#endif
