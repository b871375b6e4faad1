/* main.c - anvil, the service that counts connections and login failures for every process
 * (doc/anvil.md): one process (master.cf maxproc 1) on SPOOL/private/anvil, as mail_owner. */
#include "anvil.h"
#include "log.h"
#include "mem.h"
#include <stdlib.h>

#define EXPIRE_EVERY_MS 10000

static void post_init(struct server *srv)
{
    struct anvil *av = xcalloc(1, sizeof *av);
    av->srv = srv;
    av->penalty_ms = config_int(srv->cfg, PARAM(login_penalty_time)) * 1000;
    av->rate_unit_ms = config_int(srv->cfg, PARAM(anvil_rate_time_unit)) * 1000;
    av->client_limit = (unsigned)config_int(srv->cfg, PARAM(anvil_client_limit));
    av->table = table_new((size_t)config_int(srv->cfg, PARAM(anvil_max_entries)));
    srv->app = av;
    state_load(av);
}

static void on_accept(struct server *srv, int fd) { clients_accept(srv->app, fd); }

/* Forget what no longer matters: nothing held, and older than both the penalty time and
 * the rate time unit. */
static void tick(struct server *srv)
{
    struct anvil *av = srv->app;
    long long now = event_now_ms();
    if (now - av->last_expire_ms < EXPIRE_EVERY_MS)
        return;
    av->last_expire_ms = now;
    table_expire(av->table, now, anvil_idle_ms(av));
}

/* On reload: the users' sending counts and login failures go to the next anvil (state.c);
 * it starts at once (the daemons reconnect), rather than this one waiting for its clients,
 * which never go away. */
static void drain(struct server *srv)
{
    state_save(srv->app);
    server_exit(srv);
}

/* On a stop (SIGTERM) the counts go to the next start the same way. */
static void stop(struct server *srv) { state_save(srv->app); }

SERVER_MAIN(.program = "anvil", .run_as = PARAM(mail_owner), .post_init = post_init,
            .accept = on_accept, .tick = tick, .drain = drain, .stop = stop)
