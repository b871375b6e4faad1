/* main.c - showq, the queue listing service for every local user's mailq (showqd.h): the
 * server skeleton with mail_owner's rights, on SPOOL/public/showq. */
#include "showqd.h"
#include "mem.h"

static void post_init(struct server *srv)
{
    struct showqd *sq = xcalloc(1, sizeof *sq);
    sq->srv = srv;
    sq->client_limit = (unsigned)config_int(srv->cfg, PARAM(showq_client_limit));
    sq->timeout_ms = config_int(srv->cfg, PARAM(showq_timeout)) * 1000;
    srv->app = sq;
}

static void on_accept(struct server *srv, int fd) { showq_accept(srv->app, fd); }

static unsigned busy(struct server *srv) { return ((struct showqd *)srv->app)->nclients; }

static void tick(struct server *srv) { showq_expire(srv->app); }

SERVER_MAIN(.program = "showq", .run_as = PARAM(mail_owner), .post_init = post_init,
            .accept = on_accept, .busy = busy, .tick = tick)
