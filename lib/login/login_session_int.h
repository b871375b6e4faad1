/* login_session_int.h - what the files of the login skeleton (login_session.c,
 * login_session_auth.c, login_session_handoff.c) share; not for the protocols, which use
 * login_session.h. Event loop thread only. */
#ifndef POSTHORN_LOGIN_SESSION_INT_H
#define POSTHORN_LOGIN_SESSION_INT_H
#include "login_session.h"

struct login_server {
    struct event_loop *loop;
    struct login_params p;
    SSL_CTX *tls;
    struct auth_check *auth;
    struct auth_guard *guard;  /* the login limits (lib/auth/auth_attempt.h) */
    const struct login_protocol *proto;
    struct sess_list sessions;
};

/* Run the buffered input of c (after a wait ended). */
void login_client_process(struct login_client *c);
void login_client_reap(struct login_client *c);
/* login_session_auth.c */
/* The session ends: a check under way still finishes and counts (closing the connection
 * right after a wrong password must not make it free), anything else is dropped. */
void login_auth_forget(struct login_client *c);
/* login_session_handoff.c: hand the authenticated session over (auth_user, method set). */
void login_start_handoff(struct login_client *c);
/* Stop a handoff in progress and end the TLS proxy, if any (the session ends). */
void login_cancel_handoff(struct login_client *c);

#endif
