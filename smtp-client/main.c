/* main.c - smtp-client: the delivery agent for mail that leaves this host by SMTP
 * (doc/smtp-client.md). master runs it as the "smtp" unix service (private/smtp); qmgr
 * sends it every recipient of a domain we do not host, grouped by next hop.
 *
 * Contract: event-driven, one process serves many deliveries and connections at once
 * (agent.c, delivery.c, session*.c); nothing blocks the loop but reads of the queue file
 * (page cache, as in every delivery agent) and LMDB map lookups. DNS is libunbound's
 * asynchronous API (lib/io/dns), created after the privilege drop (it starts a thread).
 *
 * SECURITY: runs as mail_owner, never as root (the skeleton drops privileges before any
 * request is served). It trusts qmgr (peers checked with SO_PEERCRED), its configuration
 * and the maps it names; it trusts nothing a remote server or the DNS says: replies are
 * parsed with bounded, fuzzed parsers (lib/proto/smtp_reply, smtp_ehlo), DNS answers are
 * decoded strictly (lib/io/dns), reply text reaches logs and DSNs only with control
 * characters replaced. It reads the queue file only through the descriptor qmgr passes,
 * writes only its MTA-STS policy cache (sts_cache.c), runs no commands, fetches MTA-STS
 * policies only over verified HTTPS without redirects (lib/io/https_get), and sends
 * envelope addresses only in their checked
 * canonical form (lib/mail/address). SASL passwords are sent only inside TLS, never
 * logged, and wiped after use. */
#include "smtpc.h"
#include "https_get.h"
#include "sts.h"
#include "log.h"
#include "mem.h"
#include "tls.h"
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *smtpc_said(const char *host, const struct smtp_reply *r, const char *command)
{
    char text[SMTP_REPLY_TEXT_MAX + 16];
    smtp_reply_describe(r, text, sizeof text);
    if (!command)
        return xasprintf("host %s said: %s", host, text);
    return xasprintf("host %s said: %s (in reply to %s command)", host, text, command);
}

static void load_params(struct smtpc *sc, struct config *cfg)
{
    struct smtpc_params *p = &sc->p;
    p->myhostname = config_str(cfg, PARAM(myhostname));
    p->helo_name = config_str(cfg, PARAM(smtp_helo_name));
    if (!*p->helo_name)
        p->helo_name = p->myhostname;
    p->relayhost = config_str(cfg, PARAM(relayhost));
    p->soft_bounce = config_bool(cfg, PARAM(soft_bounce));
    p->line_length_limit = (size_t)config_int(cfg, PARAM(smtp_line_length_limit));
    p->bind4 = config_str(cfg, PARAM(smtp_bind_address));
    p->bind6 = config_str(cfg, PARAM(smtp_bind_address6));
    p->t_connect = config_int(cfg, PARAM(smtp_connect_timeout)) * 1000;
    p->t_helo = config_int(cfg, PARAM(smtp_helo_timeout)) * 1000;
    p->t_starttls = config_int(cfg, PARAM(smtp_starttls_timeout)) * 1000;
    p->t_mail = config_int(cfg, PARAM(smtp_mail_timeout)) * 1000;
    p->t_rcpt = config_int(cfg, PARAM(smtp_rcpt_timeout)) * 1000;
    p->t_data_init = config_int(cfg, PARAM(smtp_data_init_timeout)) * 1000;
    p->t_data_xfer = config_int(cfg, PARAM(smtp_data_xfer_timeout)) * 1000;
    p->t_data_done = config_int(cfg, PARAM(smtp_data_done_timeout)) * 1000;
    p->t_rset = config_int(cfg, PARAM(smtp_rset_timeout)) * 1000;
    p->t_quit = config_int(cfg, PARAM(smtp_quit_timeout)) * 1000;
    p->mx_address_limit = (unsigned)config_int(cfg, PARAM(smtp_mx_address_limit));
    p->mx_session_limit = (unsigned)config_int(cfg, PARAM(smtp_mx_session_limit));
    p->dest_concurrency = (unsigned)config_int(cfg, PARAM(smtp_destination_concurrency_limit));
    p->rate_delay_ms = config_int(cfg, PARAM(smtp_destination_rate_delay)) * 1000;
    p->cache_on_demand = config_bool(cfg, PARAM(smtp_connection_cache_on_demand));
    p->cache_time_ms = config_int(cfg, PARAM(smtp_connection_cache_time_limit)) * 1000;
    p->reuse_time_ms = config_int(cfg, PARAM(smtp_connection_reuse_time_limit)) * 1000;
    p->skip_5xx_greeting = config_bool(cfg, PARAM(smtp_skip_5xx_greeting));
    p->chunking = config_bool(cfg, PARAM(smtp_use_chunking));
    p->sasl_enable = config_bool(cfg, PARAM(smtp_sasl_auth_enable));
    p->address_pref = (enum addr_pref)config_enum(cfg, PARAM(smtp_address_preference));
    p->tls_level = (enum tls_level)config_enum(cfg, PARAM(smtp_tls_security_level));
}

/* Privileged: the trust store may be readable by root only. */
static void pre_init(struct server *srv)
{
    struct smtpc *sc = xcalloc(1, sizeof *sc);
    struct config *cfg = srv->cfg;
    sc->srv = srv;
    load_params(sc, cfg);
    const char *ca_file = config_str(cfg, PARAM(smtp_tls_CAfile));
    const char *ca_dir = config_str(cfg, PARAM(smtp_tls_CApath));
    char *err = NULL;
    size_t npolicy = 0;
    (void)config_list(cfg, PARAM(smtp_tls_policy_maps), &npolicy);
    bool sts = config_bool(cfg, PARAM(smtp_mta_sts_enable));
    if (sts && https_global_init(&err) < 0) { /* before any thread starts */
        log_warn("%s; MTA-STS policies are not applied", err);
        free(err);
        err = NULL;
    }
    if (sc->p.tls_level != TLSL_NONE || npolicy > 0 || sts) {
        sc->tls = tls_client_context(*ca_file ? ca_file : NULL, *ca_dir ? ca_dir : NULL,
                                     config_str(cfg, PARAM(smtp_tls_protocols_min)), &err);
        if (!sc->tls) {
            log_warn("TLS client context: %s; mail goes out without TLS", err);
            free(err);
        }
    }
    srv->app = sc;
}

/* This host's interface addresses: an MX that points at one of them is a loop. */
static void own_addresses(struct smtpc *sc)
{
    struct ifaddrs *ifa, *i;
    if (getifaddrs(&ifa) < 0) {
        log_warn("getifaddrs: %m (mail looping back through DNS is seen only by name)");
        return;
    }
    for (i = ifa; i; i = i->ifa_next) {
        char buf[INET6_ADDRSTRLEN];
        if (!i->ifa_addr)
            continue;
        int fam = i->ifa_addr->sa_family;
        const void *a = fam == AF_INET ? (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
                      : fam == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr
                      : NULL;
        if (!a || !inet_ntop(fam, a, buf, sizeof buf))
            continue;
        sc->own_addrs = xreallocarray(sc->own_addrs, sc->nown_addrs + 1, sizeof *sc->own_addrs);
        sc->own_addrs[sc->nown_addrs++] = xstrdup(buf);
    }
    freeifaddrs(ifa);
}

static const char *trust_anchor(struct config *cfg)
{
    const char *ta = config_str(cfg, PARAM(dns_trust_anchor_file));
    if (!*ta)
        return NULL;
    if (access(ta, R_OK) != 0) {
        log_warn("dns_trust_anchor_file %s: %m; DNS answers are not validated (no DANE)", ta);
        return NULL;
    }
    return ta;
}

static void post_init(struct server *srv)
{
    struct smtpc *sc = srv->app;
    struct config *cfg = srv->cfg;
    char *err = NULL;
    sc->dns = dns_new(srv->loop, config_str(cfg, PARAM(dns_resolver)), trust_anchor(cfg), &err);
    if (!sc->dns)
        log_fatal("%s", err);
    dns_set_timeout(sc->dns, config_int(cfg, PARAM(dns_timeout)) * 1000L);
    sc->transport_maps = maplist_open(cfg, PARAM(transport_maps));
    sc->sasl_maps = maplist_open(cfg, PARAM(smtp_sasl_password_maps));
    sc->tls_policy_maps = maplist_open(cfg, PARAM(smtp_tls_policy_maps));
    sc->sts = sts_new(sc, cfg);
    own_addresses(sc);
}

static void on_accept(struct server *srv, int fd) { agent_accept(srv->app, fd); }

static unsigned busy(struct server *srv)
{
    struct smtpc *sc = srv->app;
    return sc ? sc->nagents + sc->ndeliveries + sc->nsessions + sts_busy(sc->sts) : 0;
}

static void tick(struct server *srv)
{
    struct smtpc *sc = srv->app;
    if (!sc)
        return;
    agent_tick(sc);
    if (srv->draining)
        dest_quit_idle(sc);
}

static void drain(struct server *srv)
{
    if (srv->app)
        dest_quit_idle(srv->app);
}

SERVER_MAIN(.program = "smtp-client", .log_name = "smtp", .run_as = PARAM(mail_owner),
            .pre_init = pre_init, .post_init = post_init, .accept = on_accept, .busy = busy, .tick = tick,
            .drain = drain)
