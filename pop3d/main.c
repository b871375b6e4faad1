/* main.c - pop3d: the POP3 server (RFC 1939, RFC 2449, RFC 2595, RFC 5034) on the
 * lib/server.h skeleton, in one of two roles (pop3d.h): the login role (mail_owner) for
 * master.cf's inet services on 110 (STLS) and 995 (pop3d_tls_wrappermode = yes), and the
 * mailbox role (vmail_owner) for the pop3-mailbox UNIX service (-o pop3_role=mailbox).
 * The role decides which user the skeleton drops to, so it is read from the command line
 * before the skeleton starts. See doc/pop3d.md. */
#include "log.h"
#include "mem.h"
#include "pop3d.h"
#include "privs.h"
#include "tls_config.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void read_params(struct pop3d *d, struct config *cfg, const char *spool)
{
    struct pop3d_params *p = &d->p;
    p->wrapper = config_bool(cfg, "pop3d_tls_wrappermode");
    p->allow_plaintext = config_bool(cfg, "pop3_allow_plaintext_auth");
    p->default_domain = config_str(cfg, "pop3_default_domain");
    p->greeting = config_str(cfg, "login_greeting");
    p->failure_delay_ms = config_int(cfg, "auth_failure_delay") * 1000;
    p->max_failures = (unsigned)config_int(cfg, "auth_max_failures");
    p->login_timeout_ms = config_int(cfg, "pop3_login_timeout") * 1000;
    p->idle_timeout_ms = config_int(cfg, "pop3_idle_timeout") * 1000;
    p->line_limit = (size_t)config_int(cfg, "pop3_line_length_limit");
    p->error_limit = (unsigned)config_int(cfg, "pop3_error_limit");
    p->session_limit = (unsigned)config_int(cfg, "pop3_process_session_limit");
    p->mailbox_socket = xasprintf("%s/private/%s", spool, config_str(cfg, "pop3_mailbox_service"));
    p->mailbox_base = config_str(cfg, "virtual_mailbox_base");
    p->index_name = config_str(cfg, "mailbox_index_name");
}

static void pre_init(struct server *srv)
{
    struct pop3d *d = xcalloc(1, sizeof *d);
    d->srv = srv;
    srv->app = d;
    d->mailbox_role = strcmp(config_str(srv->cfg, "pop3_role"), "mailbox") == 0;
    if (d->mailbox_role != (strcmp(srv->program, "pop3") == 0))
        log_fatal("pop3_role must be given as \"-o pop3_role=mailbox\" in master.cf, not in main.cf");
    read_params(d, srv->cfg, srv->spool);
    if (!d->mailbox_role) /* still privileged: the key may be readable by root only */
        d->tls = tls_server_from_config(srv->cfg, "pop3d", d->p.wrapper, "STLS");
}

static void post_init(struct server *srv)
{
    struct pop3d *d = srv->app;
    if (d->mailbox_role) {
        gid_t gid;
        char *err = NULL;
        if (privs_lookup(config_str(srv->cfg, "mail_owner"), &d->mail_owner_uid, &gid, &err) < 0) {
            log_warn("mail_owner: %s; only root and %s may hand over sessions", err, "this user");
            free(err);
            d->mail_owner_uid = getuid();
        }
        return;
    }
    char *err = NULL;
    d->auth = login_auth_new(srv->loop, srv->cfg, &err);
    if (!d->auth)
        log_fatal("cannot open the account database: %s", err ? err : "?");
    d->penalty = login_penalty_new();
}

static void on_accept(struct server *srv, int fd)
{
    struct pop3d *d = srv->app;
    if (d->mailbox_role)
        box_accept(d, fd);
    else
        login_accept(d, fd);
}

static unsigned busy(struct server *srv)
{
    struct pop3d *d = srv->app;
    return d->nsessions + d->handoffs_in + login_auth_pending(d->auth);
}

static void tick(struct server *srv)
{
    struct pop3d *d = srv->app;
    if (d->mailbox_role) {
        box_tick(d);
    } else {
        login_tick(d);
        login_penalty_expire(d->penalty, event_now_ms());
    }
}

/* "-o pop3_role=mailbox" (or "-opop3_role=mailbox") on the command line. */
static bool mailbox_role_requested(int argc, char **argv)
{
    static const char want[] = "pop3_role=mailbox";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc && strcmp(argv[i + 1], want) == 0)
            return true;
        if (strncmp(argv[i], "-o", 2) == 0 && strcmp(argv[i] + 2, want) == 0)
            return true;
    }
    return false;
}

int main(int argc, char **argv)
{
    static const struct server_def login_def = {
        .program = "pop3-login",
        .run_as = "mail_owner",
        .pre_init = pre_init,
        .post_init = post_init,
        .accept = on_accept,
        .busy = busy,
        .tick = tick,
    };
    static const struct server_def mailbox_def = {
        .program = "pop3",
        .run_as = "vmail_owner",
        .pre_init = pre_init,
        .post_init = post_init,
        .accept = on_accept,
        .busy = busy,
        .tick = tick,
    };
    bool mailbox = mailbox_role_requested(argc, argv);
    return server_main(argc, argv, mailbox ? &mailbox_def : &login_def);
}
