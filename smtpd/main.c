/* main.c - smtpd: the inbound SMTP server (RFC 5321 ESMTP) on port 25, the SMTP server
 * engine (lib/smtpserver/smtpd.h) with a small role: no AUTH, mail only for our own
 * domains, except from clients in mynetworks, which may relay and whose mail is signed with
 * DKIM as submission's is (the engine decides who is trusted). See doc/smtpd.md. */
#include "dkim_client.h"
#include "smtpd.h"

static struct dkim_client dkim;

static const struct dkim_client *signer(struct session *s) { return s->trusted ? &dkim : NULL; }

static const struct smtpd_hooks trusted_networks = {.signer = signer};

static void pre_init(struct server *srv)
{
    smtpd_pre_init(srv, &trusted_networks);
    dkim_client_init(&dkim, srv->cfg, srv->spool);
}

SERVER_MAIN(.program = "smtpd", .run_as = PARAM(mail_owner), .pre_init = pre_init,
            .post_init = smtpd_post_init, .accept = smtpd_accept, .busy = smtpd_busy,
            .tick = smtpd_tick)
