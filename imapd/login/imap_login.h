/* imap_login.h - imapd, the IMAP login program (see doc/imapd.md): the network side on
 * ports 143 (STARTTLS) and 993 (imapd_tls_wrappermode = yes), run as mail_owner. The login
 * skeleton (lib/login/login_session.h) does the connection limits, TLS, the password check
 * with its limits and the handoff to imapd-mailbox; this program keeps the not-authenticated
 * state's commands (CAPABILITY, NOOP, LOGOUT, STARTTLS, ID, LOGIN, AUTHENTICATE), the
 * assembly of commands with literals, and every reply. Event loop thread only. */
#ifndef IMAPD_LOGIN_IMAP_LOGIN_H
#define IMAPD_LOGIN_IMAP_LOGIN_H
#include "buf.h"
#include "imap_parse.h"
#include "login_session.h"
#include "sasl.h"
#include <stdbool.h>
#include <stdint.h>

/* The IMAP state of one login session (login_client.proto). */
struct imap_login {
    struct sasl_exchange sasl; /* an AUTHENTICATE exchange (lib/auth/sasl.h) */
    struct buf cmd;          /* the command being assembled, literals included */
    uint64_t literal_left;   /* bytes of a literal still to come */
    char tag[IMAP_TAG_MAX + 1]; /* of the LOGIN or AUTHENTICATE being checked */
};

/* commands.c */
extern const struct login_protocol imap_login_protocol;
void imap_login_tagged(struct login_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* auth.c: LOGIN and AUTHENTICATE (RFC 9051 sec 6.2.2 and 6.2.3, RFC 4959). */
void imap_cmd_login(struct login_client *c, const struct imap_command *cmd);
void imap_cmd_authenticate(struct login_client *c, const struct imap_command *cmd);
/* A SASL continuation line (while an AUTHENTICATE exchange is active). */
void imap_auth_line(struct login_client *c, const char *line);
/* Forget a half-done AUTHENTICATE (wipes the name). */
void imap_auth_abort(struct login_client *c);

#endif
