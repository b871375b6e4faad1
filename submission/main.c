/* main.c - submission: the message submission agent (RFC 6409) for users' mail clients, on
 * 587 with STARTTLS and 465 with TLS from the first byte (master.cf: -o
 * smtpd_tls_wrappermode=yes, RFC 8314), run as mail_owner. The SMTP server engine
 * (lib/smtpserver) with submission's role (role.c). See doc/submission.md. */
#include "log.h"
#include "mem.h"
#include "submission.h"

static void read_params(struct submission *sub, struct config *cfg)
{
    sub->failure_delay_ms = config_int(cfg, PARAM(login_failure_delay)) * 1000;
    sub->plaintext_loopback = config_bool(cfg, PARAM(submission_plaintext_auth_loopback));
    sub->sender_maps_spec = config_str(cfg, PARAM(submission_sender_login_maps));
    sub->add_sender = config_enum(cfg, PARAM(submission_header_from_mismatch)) == 1;
    sub->recipient_limit = (unsigned)config_int(cfg, PARAM(submission_recipient_limit));
    sub->alias_depth = config_int(cfg, PARAM(alias_recursion_limit));
    sub->alias_count = config_int(cfg, PARAM(alias_expansion_limit));
    sub->lim = (struct send_limits){
        .unit_ms = config_int(cfg, PARAM(submission_rate_time_unit)) * 1000,
        .max_messages = (unsigned)config_int(cfg, PARAM(submission_message_rate_limit)),
        .max_recipients = (unsigned)config_int(cfg, PARAM(submission_recipient_rate_limit)),
        .hard_messages = (unsigned)config_int(cfg, PARAM(submission_message_hard_limit)),
        .hard_recipients = (unsigned)config_int(cfg, PARAM(submission_recipient_hard_limit)),
        .hold_ms = config_int(cfg, PARAM(submission_hold_time)) * 1000,
    };
}

static void pre_init(struct server *srv)
{
    struct submission *sub = xcalloc(1, sizeof *sub);
    /* Postfix's names (its master.cf's syslog_name overrides), which log tools expect:
     * SYSLOG_NAME/submission/smtpd or, on 465, SYSLOG_NAME/smtps/smtpd. */
    log_set_name(config_bool(srv->cfg, PARAM(smtpd_tls_wrappermode)) ? "smtps/smtpd"
                                                                     : "submission/smtpd");
    sub->d = smtpd_pre_init(srv, &submission_hooks);
    sub->d->role = sub;
    sub->d->p.received_hide_client = config_bool(srv->cfg, PARAM(submission_received_hide_client));
    read_params(sub, srv->cfg);
    dkim_client_init(&sub->dkim, srv->cfg, srv->spool);
}

static void post_init(struct server *srv)
{
    struct smtpd *d = srv->app;
    struct submission *sub = d->role;
    char *err = NULL;
    struct auth_check *check = auth_check_new(srv->loop, srv->cfg, &err);
    if (!check)
        log_fatal("cannot open the account database: %s", err ? err : "?");
    d->accounts = auth_check_accounts(check); /* one handle per process (LMDB) */
    smtpd_post_init(srv);
    if (!d->anvil) /* logins and the sending limits are counted there */
        d->anvil = anvil_client_new(srv->loop, srv->cfg, srv->spool, srv->service);
    struct config *cfg = srv->cfg;
    struct auth_limits lim = {
        .loop = srv->loop, .check = check, .anvil = d->anvil,
        .default_domain = config_str(cfg, PARAM(login_default_domain)),
        .max_failures = (unsigned)config_int(cfg, PARAM(login_max_failures)),
        .failure_delay_ms = sub->failure_delay_ms,
        .failure_delay_limit_ms = config_int(cfg, PARAM(login_failure_delay_limit)) * 1000,
        .penalty_time_ms = config_int(cfg, PARAM(login_penalty_time)) * 1000,
    };
    sub->guard = auth_guard_new(&lim);
    sub->local = local_counts_new();
}

static unsigned busy(struct server *srv)
{
    struct smtpd *d = srv->app;
    return smtpd_busy(srv) + auth_guard_pending(((struct submission *)d->role)->guard);
}

static void tick(struct server *srv)
{
    struct smtpd *d = srv->app;
    struct submission *sub = d->role;
    smtpd_tick(srv);
    auth_guard_tick(sub->guard);
    local_counts_tick(sub->local, event_now_ms());
}

SERVER_MAIN(.program = "submission", .run_as = PARAM(mail_owner), .pre_init = pre_init,
            .post_init = post_init, .accept = smtpd_accept, .busy = busy, .tick = tick)
