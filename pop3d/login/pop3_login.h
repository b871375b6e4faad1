/* pop3_login.h - pop3d, the POP3 login program (see doc/pop3d.md): the network side on
 * ports 110 (STLS) and 995 (pop3d_tls_wrappermode = yes), run as mail_owner. The login
 * skeleton (lib/login/login_session.h) does the connection limits, TLS, the password check
 * and the handoff to pop3d-mailbox; this program keeps the AUTHORIZATION state's command
 * table (CAPA, STLS, USER/PASS, AUTH PLAIN/LOGIN, QUIT) and every POP3 reply. Event loop
 * thread only. */
#ifndef POP3D_LOGIN_POP3_LOGIN_H
#define POP3D_LOGIN_POP3_LOGIN_H
#include "buf.h"
#include "login_session.h"
#include "sasl.h"
#include <stdbool.h>

#define POP3_IMPLEMENTATION "Posthorn"

/* The POP3 state of one login session (login_client.proto). */
struct pop3_login {
    struct sasl_exchange sasl; /* an AUTH exchange (lib/auth/sasl.h) */
    char *user; /* from USER, until PASS comes */
};

/* commands.c */
extern const struct login_protocol pop3_login_protocol;
/* sasl_auth.c: USER/PASS and AUTH (RFC 1939 sec 7, RFC 5034). */
void pop3_cmd_user(struct login_client *c, const char *name);
void pop3_cmd_pass(struct login_client *c, const char *password);
void pop3_cmd_auth(struct login_client *c, const char *mech, const char *initial);
/* A SASL continuation line (while an AUTH exchange is active). */
void pop3_auth_line(struct login_client *c, const char *line);
/* Forget a half-done USER or AUTH exchange (wipes the name). */
void pop3_auth_abort(struct login_client *c);

#endif
