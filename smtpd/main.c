/* main.c - smtpd: the inbound SMTP server (RFC 5321 ESMTP) on port 25, the SMTP server
 * engine (lib/smtpserver/smtpd.h) without a role: no AUTH, mail only for our own domains.
 * See doc/smtpd.md. */
#include "smtpd.h"

static void pre_init(struct server *srv) { smtpd_pre_init(srv, NULL); }

SERVER_MAIN(.program = "smtpd", .run_as = PARAM(mail_owner), .pre_init = pre_init,
            .post_init = smtpd_post_init, .accept = smtpd_accept, .busy = smtpd_busy,
            .tick = smtpd_tick)
