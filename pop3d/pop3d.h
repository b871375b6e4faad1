/* pop3d.h - the POP3 server's shared state (see doc/pop3d.md).
 *
 * One program, two roles (DESIGN section 2, Dovecot-style), chosen by master.cf:
 *   login   (pop3_role = login, runs as mail_owner): the network side on ports 110 and 995.
 *           TLS, the AUTHORIZATION state (CAPA, STLS, USER/PASS, AUTH PLAIN/LOGIN, QUIT),
 *           password checks off the loop (lib/login.h), failure delays and limits. After a
 *           successful login it hands the session to the mailbox role (lib/login_handoff.h):
 *           a plaintext session's socket itself, a TLS session's socketpair end while it
 *           stays as the TLS proxy (lib/login_proxy.h).
 *   mailbox (pop3_role = mailbox, runs as vmail_owner, service pop3-mailbox in
 *           SPOOL/private): locks the maildrop, takes its snapshot, answers the PASS/AUTH
 *           command, and serves the TRANSACTION and UPDATE states.
 * Both are event-driven and serve many sessions per process. Sessions are freed only at the
 * end of an entry point (callback, timer, tick) once marked dead. */
#ifndef POP3D_POP3D_H
#define POP3D_POP3D_H
#include "buf.h"
#include "conn.h"
#include "list.h"
#include "login.h"
#include "login_handoff.h"
#include "login_proxy.h"
#include "mailstore.h"
#include "pop3_proto.h"
#include "server.h"
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define POP3_IMPLEMENTATION "Posthorn"
#define HANDOFF_TIMEOUT_MS 10000
#define CLOSE_GRACE_MS 10000

struct pop3d_params {
    bool wrapper;          /* pop3d_tls_wrappermode */
    bool allow_plaintext;  /* pop3_allow_plaintext_auth */
    const char *default_domain;
    const char *greeting;
    long long failure_delay_ms;
    unsigned max_failures;
    long long login_timeout_ms;
    long long idle_timeout_ms;
    size_t line_limit;
    unsigned error_limit;
    unsigned session_limit;
    char *mailbox_socket;  /* SPOOL/private/pop3_mailbox_service */
    const char *mailbox_base;
    const char *index_name;
};

struct login_session;
struct box_session;

struct pop3d {
    struct server *srv;
    struct pop3d_params p;
    bool mailbox_role;
    SSL_CTX *tls;
    struct login_auth *auth;       /* login role */
    struct login_penalty *penalty; /* login role */
    uid_t mail_owner_uid;          /* mailbox role: who may hand over sessions */
    DLIST_HEAD(struct login_session) logins;
    DLIST_HEAD(struct box_session) boxes;
    unsigned nsessions;
    unsigned handoffs_in;          /* mailbox role: handoff requests being read */
};

/* --- login role (login.c, login_auth.c) --- */
enum login_state { L_CMD, L_AUTH_PLAIN, L_AUTH_LOGIN_USER, L_AUTH_LOGIN_PASS };

struct login_session {
    struct pop3d *d;
    struct login_session *prev, *next;
    struct conn *conn;
    char rip[64], lip[64];
    int rport, lport;
    char id[24];             /* session id, logged by both roles */
    enum login_state state;
    char *user;              /* from USER or AUTH LOGIN, until the password comes */
    const char *method;      /* "USER", "PLAIN", "LOGIN" */
    unsigned errors;
    bool wait_auth, wait_delay, wait_tls, wait_handoff, wait_drain, closing, dead;
    bool close_after_delay;
    struct login_auth_job *job;
    struct handoff *handoff;
    struct login_proxy *proxy;
    char *auth_user;         /* the address being handed off */
    int pair[2];             /* TLS session: socketpair during the handoff, else -1 */
    unsigned long delay_timer;
    long long started, closing_since;
    struct buf line;
    struct buf held;         /* the failure reply while auth_failure_delay runs */
};

void login_accept(struct pop3d *d, int fd);
void login_tick(struct pop3d *d);
void login_process(struct login_session *s);
void login_reply(struct login_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* -ERR reply counted against pop3_error_limit. */
void login_error(struct login_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void login_close(struct login_session *s);
void login_reap(struct login_session *s);
bool login_may_auth(const struct login_session *s);
/* login_auth.c */
void login_cmd_user(struct login_session *s, const char *name);
void login_cmd_pass(struct login_session *s, const char *password);
void login_cmd_auth(struct login_session *s, const char *mech, const char *initial);
/* A SASL continuation line (states L_AUTH_*). */
void login_auth_line(struct login_session *s, const char *line);
void login_auth_abort(struct login_session *s);
/* handoff.c: hand the authenticated session to the mailbox role. */
void login_start_handoff(struct login_session *s);
void login_cancel_handoff(struct login_session *s);

/* --- mailbox role (box.c, box_cmd.c, box_send.c, maildrop.c) --- */
struct drop_msg {
    uint32_t uid;
    uint32_t flags;
    uint64_t vsize;
    char *name;
    bool deleted;
};

struct maildrop {
    struct mailbox *mb;
    int lock_fd;
    uint32_t uidvalidity;
    struct drop_msg *msgs;
    size_t n;
};

struct box_stats {
    unsigned top, retr, del;
    unsigned long long top_bytes, retr_bytes;
};

struct box_session {
    struct pop3d *d;
    struct box_session *prev, *next;
    struct conn *conn;
    char *user;
    char id[24];
    char rip[64];
    struct maildrop drop;
    struct box_stats st;
    unsigned errors;
    /* a RETR or TOP being streamed */
    int msg_fd;
    struct pop3_filter filter;
    bool sending_top;
    unsigned long long sent;
    unsigned long send_timer; /* resumes a long message after a fair share */
    const char *end_reason;  /* "Logged out", "Connection closed", ... */
    bool updated;            /* QUIT ran the UPDATE state */
    bool closing, dead;
    long long last_active, closing_since;
    struct buf line;
};

void box_accept(struct pop3d *d, int fd);
void box_tick(struct pop3d *d);
void box_process(struct box_session *s);
void box_reply(struct box_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void box_error(struct box_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void box_close(struct box_session *s);
void box_reap(struct box_session *s);
/* box_cmd.c: one TRANSACTION command line. */
void box_command(struct box_session *s, struct buf *line);
/* box_send.c: stream message i (0-based); top_lines < 0 for RETR. */
void box_send_start(struct box_session *s, size_t i, long long top_lines);
/* Continue streaming; true when the message is complete. */
bool box_send_more(struct box_session *s);
void box_send_abort(struct box_session *s);
/* maildrop.c */
/* 0 ok, -1 in use, -2 other failure (*err). */
int maildrop_open(struct maildrop *m, struct pop3d *d, const char *user, char **err);
void maildrop_close(struct maildrop *m);
/* UPDATE state: expunge every deleted message; returns how many could not be removed. */
unsigned maildrop_update(struct maildrop *m, const char *user);

#endif
