/* main.c - imapd, the IMAP login program (RFC 9051 and RFC 3501, not-authenticated state) on
 * the service skeleton (lib/global/server.h), run as mail_owner for master.cf's inet services
 * on 143 (STARTTLS) and 993 (-o imapd_tls_wrappermode=yes). Logged-in sessions go to the
 * mailbox program, imapd-mailbox, through the imapd_mailbox_service socket. See doc/imapd.md. */
#include "imap_login.h"
#include "log.h"
#include "mem.h"
#include "server.h"
#include "tls_config.h"

static void read_params(struct login_params *p, struct config *cfg, const char *spool)
{
    p->wrapper = config_bool(cfg, PARAM(imapd_tls_wrappermode));
    p->allow_plaintext = config_bool(cfg, PARAM(login_allow_plaintext_auth));
    p->greeting = config_str(cfg, PARAM(login_greeting));
    p->default_domain = config_str(cfg, PARAM(login_default_domain));
    p->failure_delay_ms = config_int(cfg, PARAM(login_failure_delay)) * 1000;
    p->failure_delay_limit_ms = config_int(cfg, PARAM(login_failure_delay_limit)) * 1000;
    p->penalty_time_ms = config_int(cfg, PARAM(login_penalty_time)) * 1000;
    p->max_failures = (unsigned)config_int(cfg, PARAM(login_max_failures));
    p->login_timeout_ms = config_int(cfg, PARAM(login_timeout)) * 1000;
    p->line_limit = (size_t)config_int(cfg, PARAM(imapd_line_length_limit));
    p->error_limit = (unsigned)config_int(cfg, PARAM(imapd_error_limit));
    p->session_limit = (unsigned)config_int(cfg, PARAM(imapd_process_session_limit));
    p->session_limit_name = PARAM(imapd_process_session_limit);
    p->post_login_socket = xasprintf("%s/private/%s", spool, config_str(cfg, PARAM(imapd_mailbox_service)));
}

struct imap_login_process {
    struct login_params p;
    SSL_CTX *tls;
    struct login_server *login;
};

static void pre_init(struct server *srv)
{
    struct imap_login_process *d = xcalloc(1, sizeof *d);
    srv->app = d;
    read_params(&d->p, srv->cfg, srv->spool);
    /* still privileged: the key may be readable by root only */
    d->tls = tls_server_from_config(srv->cfg, "imapd", d->p.wrapper, "STARTTLS");
}

static void post_init(struct server *srv)
{
    struct imap_login_process *d = srv->app;
    char *err = NULL;
    struct auth_check *auth = auth_check_new(srv->loop, srv->cfg, &err);
    if (!auth)
        log_fatal("cannot open the account database: %s", err ? err : "?");
    d->p.anvil = anvil_client_new(srv->loop, srv->cfg, srv->spool, "imap");
    d->login = login_server_new(srv->loop, &d->p, d->tls, auth, &imap_login_protocol);
}

static void on_accept(struct server *srv, int fd)
{
    struct imap_login_process *d = srv->app;
    login_server_accept(d->login, fd);
}

static unsigned busy(struct server *srv)
{
    struct imap_login_process *d = srv->app;
    return login_server_busy(d->login);
}

static void tick(struct server *srv)
{
    struct imap_login_process *d = srv->app;
    login_server_tick(d->login);
}

SERVER_MAIN(.program = "imap-login", .run_as = PARAM(mail_owner), .pre_init = pre_init,
            .post_init = post_init, .accept = on_accept, .busy = busy, .tick = tick)
