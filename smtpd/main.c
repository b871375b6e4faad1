/* main.c - smtpd: the inbound SMTP server (RFC 5321 ESMTP) on port 25, the SMTP server
 * engine (lib/smtpserver/smtpd.h) with a small role: no AUTH, mail only for our own
 * domains, except from clients in mynetworks, which may relay and whose mail is signed with
 * DKIM as submission's is. See doc/smtpd.md, "Trusted networks". */
#include "dkim_client.h"
#include "log.h"
#include "mem.h"
#include "netlist.h"
#include "smtpd.h"
#include <stdlib.h>

static struct dkim_client dkim;
static struct netlist *mynetworks;
static int trusted_mark; /* s->role of a session from mynetworks; NULL for the others */

static void session_start(struct session *s)
{
    s->role = netlist_match(mynetworks, s->addr) ? &trusted_mark : NULL;
}

static bool relay(struct session *s) { return s->role == &trusted_mark; }

static const struct dkim_client *signer(struct session *s) { return relay(s) ? &dkim : NULL; }

static const struct smtpd_hooks trusted_networks = {
    .session_start = session_start, .relay = relay, .signer = signer};

/* master refuses a bad mynetworks (main.cf or -o) before starting smtpd; should one get
 * here all the same, no client is trusted. */
static void read_mynetworks(struct config *cfg)
{
    size_t n = 0;
    char **items = config_list(cfg, PARAM(mynetworks), &n), *err = NULL;
    mynetworks = netlist_parse(items, n, &err);
    if (!mynetworks) {
        log_error("mynetworks: %s: no client is trusted", err);
        free(err);
        mynetworks = netlist_parse(NULL, 0, &err);
    }
}

static void pre_init(struct server *srv)
{
    smtpd_pre_init(srv, &trusted_networks);
    read_mynetworks(srv->cfg);
    dkim_client_init(&dkim, srv->cfg, srv->spool);
}

SERVER_MAIN(.program = "smtpd", .run_as = PARAM(mail_owner), .pre_init = pre_init,
            .post_init = smtpd_post_init, .accept = smtpd_accept, .busy = smtpd_busy,
            .tick = smtpd_tick)
