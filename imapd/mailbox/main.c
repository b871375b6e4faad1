/* main.c - imapd-mailbox, the IMAP mailbox program on the service skeleton
 * (lib/global/server.h), run as vmail_owner by master.cf's imap-mailbox UNIX service: it serves
 * the authenticated and selected states of sessions the login program (imapd) hands over
 * after a successful login. See doc/imapd.md. */
#include "accounts.h"
#include "imap_mailbox.h"
#include "log.h"
#include "mem.h"
#include "privs.h"
#include <stdlib.h>
#include <unistd.h>

static void read_params(struct imap_mailbox_params *p, struct config *cfg)
{
    p->idle_timeout_ms = config_int(cfg, PARAM(imapd_idle_timeout)) * 1000;
    p->keepalive_ms = config_int(cfg, PARAM(imapd_idle_keepalive)) * 1000;
    p->line_limit = (size_t)config_int(cfg, PARAM(imapd_line_length_limit));
    p->append_limit = (unsigned long long)config_int(cfg, PARAM(imapd_append_limit));
    if (p->append_limit == 0)
        p->append_limit = (unsigned long long)config_int(cfg, PARAM(message_size_limit));
    p->literal_memory_limit = (unsigned long long)config_int(cfg, PARAM(imapd_literal_memory_limit));
    p->compress_level = (int)config_int(cfg, PARAM(imapd_compress_level));
    p->compress_window_bits = (int)config_int(cfg, PARAM(imapd_compress_window_bits));
    p->error_limit = (unsigned)config_int(cfg, PARAM(imapd_error_limit));
    p->mailbox_base = config_str(cfg, PARAM(virtual_mailbox_base));
    p->index_name = config_str(cfg, PARAM(mailbox_index_name));
    p->quota_default = config_int(cfg, PARAM(virtual_mailbox_quota));
    p->sort_header_limit = (size_t)config_int(cfg, PARAM(imapd_sort_header_limit));
    p->sort_key_limit = (size_t)config_int(cfg, PARAM(imapd_sort_key_limit));
    p->sync_slice = (size_t)config_int(cfg, PARAM(imapd_sync_slice));
}

static void pre_init(struct server *srv)
{
    struct imapd *d = srv->app = xcalloc(1, sizeof *d);
    d->srv = srv;
    read_params(&d->p, srv->cfg);
}

static void post_init(struct server *srv)
{
    struct imapd *d = srv->app;
    gid_t gid;
    char *err = NULL;
    if (privs_lookup(config_str(srv->cfg, PARAM(mail_owner)), &d->mail_owner_uid, &gid, &err) < 0) {
        log_warn("mail_owner: %s; only root and this user may hand over sessions", err);
        free(err);
        d->mail_owner_uid = getuid();
    }
    d->watch = watch_new(d);
    d->accounts = accounts_open(srv->cfg, false, &err);
    if (!d->accounts) {
        log_warn("cannot open the account database: %s; APPEND and COPY use virtual_mailbox_quota",
                 err ? err : "?");
        free(err);
    }
    durable_setup(d);
    folder_scan_setup(d);
    trash_setup(d);
    session_setup(d);
}

static void on_accept(struct server *srv, int fd) { session_accept(srv->app, fd); }

static unsigned busy(struct server *srv)
{
    struct imapd *d = srv->app;
    return d->sessions.count + d->handoffs_in;
}

static void tick(struct server *srv) { session_tick(srv->app); }

SERVER_MAIN(.program = "imap", .run_as = PARAM(vmail_owner), .pre_init = pre_init,
            .post_init = post_init, .accept = on_accept, .busy = busy, .tick = tick)
