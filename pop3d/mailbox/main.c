/* main.c - pop3d-mailbox, the POP3 mailbox program on the service skeleton
 * (lib/global/server.h), run as vmail_owner by master.cf's pop3-mailbox UNIX service: it
 * serves the TRANSACTION and UPDATE states of sessions the login program (pop3d) hands
 * over after a successful login. See doc/pop3d.md. */
#include "log.h"
#include "mem.h"
#include "pop3_mailbox.h"
#include "pop3_uidl.h"
#include "privs.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void read_params(struct pop3_mailbox_params *p, struct config *cfg)
{
    p->idle_timeout_ms = config_int(cfg, PARAM(pop3d_idle_timeout)) * 1000;
    p->line_limit = (size_t)config_int(cfg, PARAM(pop3d_line_length_limit));
    p->error_limit = (unsigned)config_int(cfg, PARAM(pop3d_error_limit));
    p->mailbox_base = config_str(cfg, PARAM(virtual_mailbox_base));
    p->index_name = config_str(cfg, PARAM(mailbox_index_name));
    p->uidl_format = config_str(cfg, PARAM(pop3d_uidl_format));
    /* Serving other UIDLs than the template promises would make clients download every
     * message again: a bad template stops the program (posthorn check reports it first). */
    const char *why = pop3_uidl_check(p->uidl_format);
    if (why)
        log_fatal("pop3d_uidl_format = %s: %s", p->uidl_format, why);
}

static void pre_init(struct server *srv)
{
    struct pop3d *d = srv->app = xcalloc(1, sizeof *d);
    d->srv = srv;
    read_params(&d->p, srv->cfg);
}

/* An old master.cf still runs "pop3d -o pop3_role=mailbox", which execs this program. */
static void warn_old_master_cf(struct server *srv)
{
    if (config_enum(srv->cfg, PARAM(pop3_role)) == /* mailbox */ 1)
        log_warn("master.cf service %s runs \"pop3d -o pop3_role=mailbox\": replace that command "
                 "with \"pop3d-mailbox\" (see doc/pop3d.md)", srv->service ? srv->service : "?");
}

static void post_init(struct server *srv)
{
    struct pop3d *d = srv->app;
    warn_old_master_cf(srv);
    gid_t gid;
    char *err = NULL;
    if (privs_lookup(config_str(srv->cfg, PARAM(mail_owner)), &d->mail_owner_uid, &gid, &err) < 0) {
        log_warn("mail_owner: %s; only root and %s may hand over sessions", err, "this user");
        free(err);
        d->mail_owner_uid = getuid();
    }
    box_setup(d);
}

static void on_accept(struct server *srv, int fd) { box_accept(srv->app, fd); }

static unsigned busy(struct server *srv)
{
    struct pop3d *d = srv->app;
    return d->boxes.count + d->handoffs_in;
}

static void tick(struct server *srv) { box_tick(srv->app); }

SERVER_MAIN(.program = "pop3", .run_as = PARAM(vmail_owner), .pre_init = pre_init,
            .post_init = post_init, .accept = on_accept, .busy = busy, .tick = tick)
