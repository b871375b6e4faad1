/* engine.c - the SMTP server engine's part of the service skeleton (lib/global/server.h),
 * for the programs built on it (smtpd, submission): pre_init (privileged) reads the
 * parameters and loads the TLS key; post_init opens the recipient resolver and the DNS
 * resolver for client names, and starts the commit worker; accept() creates sessions
 * (session.c). See doc/smtpd.md. */
#include "log.h"
#include "mem.h"
#include "resolve.h"
#include "smtpd.h"
#include "tls_config.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RESOLVER_RETRY_MS 10000

static const struct smtpd_hooks no_role;

static void read_params(struct smtpd *d, struct config *cfg)
{
    struct smtpd_params *p = &d->p;
    p->hostname = config_str(cfg, PARAM(myhostname));
    p->banner = config_str(cfg, PARAM(smtpd_banner));
    p->size_limit = config_int(cfg, PARAM(message_size_limit));
    p->minfree = config_int(cfg, PARAM(queue_minfree));
    if (p->minfree == 0)
        p->minfree = p->size_limit + p->size_limit / 2;
    p->rcpt_limit = (size_t)config_int(cfg, PARAM(smtpd_recipient_limit));
    p->line_limit = (size_t)config_int(cfg, PARAM(smtpd_line_length_limit));
    p->header_line_limit = (size_t)config_int(cfg, PARAM(smtpd_header_line_limit));
    p->soft_errors = (unsigned)config_int(cfg, PARAM(smtpd_soft_error_limit));
    p->hard_errors = (unsigned)config_int(cfg, PARAM(smtpd_hard_error_limit));
    p->error_sleep_ms = (long)config_int(cfg, PARAM(smtpd_error_sleep_time)) * 1000;
    p->timeout_ms = config_int(cfg, PARAM(smtpd_timeout)) * 1000;
    p->command_time_ms = config_int(cfg, PARAM(smtpd_command_time_limit)) * 1000;
    p->min_data_rate = (unsigned)config_int(cfg, PARAM(smtpd_min_data_rate));
    p->data_rate_grace_ms = config_int(cfg, PARAM(smtpd_min_data_rate_grace)) * 1000;
    p->client_limit = (unsigned)config_int(cfg, PARAM(smtpd_client_connection_count_limit));
    p->rate_limit = (unsigned)config_int(cfg, PARAM(smtpd_client_connection_rate_limit));
    p->process_limit = (unsigned)config_int(cfg, PARAM(smtpd_process_connection_limit));
    p->peername_lookup = config_bool(cfg, PARAM(smtpd_peername_lookup));
    p->peername_timeout_ms = config_int(cfg, PARAM(smtpd_peername_lookup_timeout)) * 1000;
    p->name_rule = (enum name_rule)config_enum(cfg, PARAM(smtpd_reject_unknown_client_hostname));
    int lf = config_enum(cfg, PARAM(smtpd_forbid_bare_newline)); /* 0 normalize, 1 reject, 2 no */
    p->bare_lf = lf == 1 ? SMTP_LF_REJECT
               : lf == 2 ? SMTP_LF_ALLOW
                         : SMTP_LF_NORMALIZE;
    int lvl = config_enum(cfg, PARAM(smtpd_tls_security_level)); /* 0 none, 1 may, 2 encrypt */
    p->tls_level = lvl == 0 ? TLS_LEVEL_NONE
                 : lvl == 2 ? TLS_LEVEL_ENCRYPT
                            : TLS_LEVEL_MAY;
    p->wrapper = config_bool(cfg, PARAM(smtpd_tls_wrappermode));
    p->received_header = config_bool(cfg, PARAM(smtpd_received_header));
    p->myorigin = config_str(cfg, PARAM(myorigin));
    p->mydomain = config_str(cfg, PARAM(mydomain));
    size_t n = 0;
    char **domains = config_list(cfg, PARAM(virtual_mailbox_domains), &n);
    p->first_domain = n > 0 ? domains[0] : "";
}

struct smtpd *smtpd_pre_init(struct server *srv, const struct smtpd_hooks *hooks)
{
    struct smtpd *d = xcalloc(1, sizeof *d);
    d->srv = srv;
    d->hooks = hooks ? hooks : &no_role;
    srv->app = d;
    read_params(d, srv->cfg);
    /* Still privileged: the key file may be readable by root only. Wrapper mode cannot
     * work without it, nor can "encrypt". */
    if (d->p.wrapper)
        d->tls = tls_server_from_config(srv->cfg, "smtpd", true, "TLS");
    else if (d->p.tls_level != TLS_LEVEL_NONE)
        d->tls = tls_server_from_config(srv->cfg, "smtpd", d->p.tls_level == TLS_LEVEL_ENCRYPT,
                                        "STARTTLS");
    return d;
}

bool smtpd_resolver_ready(struct smtpd *d)
{
    if (d->resolver)
        return true;
    long long now = event_now_ms();
    if (now < d->resolver_retry_ms)
        return false;
    char *err = NULL;
    d->resolver = d->accounts ? resolver_open_shared(d->srv->cfg, d->accounts, &err)
                              : resolver_open(d->srv->cfg, &err);
    if (!d->resolver) {
        log_warn("cannot open the recipient tables: %s", err ? err : "unknown error");
        free(err);
        d->resolver_retry_ms = now + RESOLVER_RETRY_MS;
        return false;
    }
    return true;
}

void smtpd_commit_done(struct commit_job *j, void *ctx)
{
    (void)ctx;
    struct session *s = j->owner;
    if (s) {
        s->job = NULL;
        session_commit_done(s, j->rc, j->id, j->err);
        session_reap(s);
    } else if (j->rc == 0) {
        log_info("%s: queued after the client disconnected", j->id);
    } else {
        log_warn("%s: %s", j->id, j->err ? j->err : "queue file commit failed");
    }
    free(j->err);
    free(j);
}

/* Client names come from dns_resolver, as the SMTP client's lookups do; no DNSSEC (a name
 * for logs and the Received: header needs none). libunbound starts a thread: after the
 * privilege drop, and without it the service runs on with every client "unknown". */
static void open_dns(struct smtpd *d)
{
    if (!d->p.peername_lookup) {
        if (d->p.name_rule != NAME_RULE_NONE)
            log_warn("smtpd_reject_unknown_client_hostname is ignored: smtpd_peername_lookup = no");
        return;
    }
    char *err = NULL;
    d->dns = dns_new(d->srv->loop, config_str(d->srv->cfg, PARAM(dns_resolver)), NULL, &err);
    if (!d->dns) {
        log_warn("client host names are not looked up: %s", err);
        free(err);
        return;
    }
    dns_set_timeout(d->dns, d->p.peername_timeout_ms);
}

void smtpd_post_init(struct server *srv)
{
    struct smtpd *d = srv->app;
    smtpd_resolver_ready(d);
    open_dns(d);
    d->clients = clients_new();
    if (d->p.client_limit || d->p.rate_limit)
        d->anvil = anvil_client_new(srv->loop, srv->cfg, srv->spool, srv->service);
    session_setup(d);
    d->committer = committer_new(srv->loop, srv->spool, smtpd_commit_done, d);
}

void smtpd_accept(struct server *srv, int fd) { session_accept(srv->app, fd); }

unsigned smtpd_busy(struct server *srv)
{
    struct smtpd *d = srv->app;
    return d->sessions.count + committer_pending(d->committer);
}

void smtpd_tick(struct server *srv) { session_tick(srv->app); }
