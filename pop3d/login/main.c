/* main.c - pop3d, the POP3 login program (RFC 1939, RFC 2449, RFC 2595, RFC 5034) on the
 * service skeleton (lib/global/server.h), run as mail_owner for master.cf's inet services
 * on 110 (STLS) and 995 (-o pop3d_tls_wrappermode=yes). Logged-in sessions go to the
 * mailbox program, pop3d-mailbox, through the pop3d_mailbox_service socket. See
 * doc/pop3d.md.
 *
 * Compatibility: before the two parts were two programs, master.cf ran the mailbox part as
 * "pop3d -o pop3_role=mailbox". Started that way, this program execs pop3d-mailbox from its
 * own directory with the same arguments; pop3d-mailbox then logs a warning saying what to
 * change in master.cf. */
#include "log.h"
#include "mem.h"
#include "pop3_login.h"
#include "server.h"
#include "tls_config.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAILBOX_PROGRAM "pop3d-mailbox"

static void read_params(struct login_params *p, struct config *cfg, const char *spool)
{
    p->wrapper = config_bool(cfg, PARAM(pop3d_tls_wrappermode));
    p->allow_plaintext = config_bool(cfg, PARAM(login_allow_plaintext_auth));
    p->greeting = config_str(cfg, PARAM(login_greeting));
    p->default_domain = config_str(cfg, PARAM(login_default_domain));
    p->failure_delay_ms = config_int(cfg, PARAM(login_failure_delay)) * 1000;
    p->failure_delay_limit_ms = config_int(cfg, PARAM(login_failure_delay_limit)) * 1000;
    p->penalty_time_ms = config_int(cfg, PARAM(login_penalty_time)) * 1000;
    p->max_failures = (unsigned)config_int(cfg, PARAM(login_max_failures));
    p->login_timeout_ms = config_int(cfg, PARAM(login_timeout)) * 1000;
    p->line_limit = (size_t)config_int(cfg, PARAM(pop3d_line_length_limit));
    p->error_limit = (unsigned)config_int(cfg, PARAM(pop3d_error_limit));
    p->session_limit = (unsigned)config_int(cfg, PARAM(pop3d_process_session_limit));
    p->session_limit_name = PARAM(pop3d_process_session_limit);
    p->post_login_socket = xasprintf("%s/private/%s", spool, config_str(cfg, PARAM(pop3d_mailbox_service)));
}

struct pop3_login_process {
    struct login_params p;
    SSL_CTX *tls;
    struct login_server *login;
};

static void pre_init(struct server *srv)
{
    struct pop3_login_process *d = xcalloc(1, sizeof *d);
    srv->app = d;
    if (config_enum(srv->cfg, PARAM(pop3_role)) != /* login */ 0)
        log_fatal("pop3_role = mailbox is set in main.cf: the mailbox part is the program %s, "
                  "run by the pop3-mailbox service in master.cf; remove pop3_role from main.cf",
                  MAILBOX_PROGRAM);
    read_params(&d->p, srv->cfg, srv->spool);
    /* still privileged: the key may be readable by root only */
    d->tls = tls_server_from_config(srv->cfg, "pop3d", d->p.wrapper, "STLS");
}

static void post_init(struct server *srv)
{
    struct pop3_login_process *d = srv->app;
    char *err = NULL;
    struct auth_check *auth = auth_check_new(srv->loop, srv->cfg, &err);
    if (!auth)
        log_fatal("cannot open the account database: %s", err ? err : "?");
    d->p.anvil = anvil_client_new(srv->loop, srv->cfg, srv->spool, "pop3");
    d->login = login_server_new(srv->loop, &d->p, d->tls, auth, &pop3_login_protocol);
}

static void on_accept(struct server *srv, int fd)
{
    struct pop3_login_process *d = srv->app;
    login_server_accept(d->login, fd);
}

static unsigned busy(struct server *srv)
{
    struct pop3_login_process *d = srv->app;
    return login_server_busy(d->login);
}

static void tick(struct server *srv)
{
    struct pop3_login_process *d = srv->app;
    login_server_tick(d->login);
}

/* "-o pop3_role=mailbox" (or "-opop3_role=mailbox"): an old master.cf's mailbox service. */
static bool old_mailbox_role(int argc, char **argv)
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

/* Exec MAILBOX_PROGRAM in dir with argv; returns only on failure. */
static void exec_in(const char *dir, char **argv)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, MAILBOX_PROGRAM) >= (int)sizeof path)
        return;
    argv[0] = path;
    execv(path, argv);
    fprintf(stderr, "pop3d: cannot run %s: %s\n", path, strerror(errno));
}

/* Exec pop3d-mailbox from the directory this program runs from (/proc/self/exe, else the
 * directory in argv[0]); returns only on failure. */
static void exec_mailbox_program(char **argv)
{
    char dir[PATH_MAX], arg0[PATH_MAX];
    snprintf(arg0, sizeof arg0, "%s", argv[0] ? argv[0] : ""); /* exec_in() replaces argv[0] */
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n > 0) {
        dir[n] = 0;
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = 0;
            exec_in(dir, argv);
        }
    }
    const char *slash = strrchr(arg0, '/');
    if (slash && (size_t)(slash - arg0) < sizeof dir) {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - arg0), arg0);
        exec_in(dir, argv);
    }
}

int main(int argc, char **argv)
{
    static const struct server_def def = {.program = "pop3-login", .run_as = PARAM(mail_owner),
        .pre_init = pre_init, .post_init = post_init, .accept = on_accept, .busy = busy,
        .tick = tick};
    if (old_mailbox_role(argc, argv)) {
        exec_mailbox_program(argv);
        return 1;
    }
    return server_main(argc, argv, &def);
}
