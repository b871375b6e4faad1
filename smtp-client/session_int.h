/* session_int.h - one SMTP client session, shared by session.c (connect, greeting, EHLO,
 * replies, timeouts, QUIT, the entry/exit discipline), session_tls.c (STARTTLS, trust,
 * AUTH) and session_txn.c (MAIL, RCPT, DATA and the content). Not for other files. */
#ifndef SMTPC_SESSION_INT_H
#define SMTPC_SESSION_INT_H
#include "smtpc.h"

enum sstate {
    SS_CONNECTING,
    SS_GREETING,
    SS_EHLO,
    SS_HELO,
    SS_STARTTLS,  /* waiting for the reply to STARTTLS */
    SS_HANDSHAKE,
    SS_AUTH,
    SS_READY,     /* owned by a delivery, between transactions */
    SS_TXN,       /* commands of a transaction out, replies expected */
    SS_BODY,      /* sending the content after 354 */
    SS_IDLE,      /* cached, no owner */
    SS_QUIT,
};

/* The commands of a transaction, in the order their replies come. */
/* CMD_BDAT: a chunk that is not the last; CMD_BDAT_LAST: the last ("BDAT n LAST"). */
enum cmd { CMD_RSET, CMD_MAIL, CMD_RCPT, CMD_DATA, CMD_DOT, CMD_LONE_DOT, CMD_BDAT, CMD_BDAT_LAST };

struct expect {
    enum cmd cmd;
    size_t rcpt; /* CMD_RCPT: the recipient's index in the delivery */
};

struct session {
    struct smtpc *sc;
    struct session *prev, *next; /* sc->sessions */
    struct session *idle_next;   /* its destination's cache */
    struct dest *idle_dest;
    struct delivery *d;          /* the owner; NULL while cached or quitting */
    struct conn_connect *pc;
    struct conn *c;
    struct target t;
    struct tlsa_set tlsa;        /* DANE: the records the server's chain must match */
    char relay[RELAY_MAX];       /* "host[addr]:port" for logs and relay= */
    char said_host[RELAY_MAX];   /* "host[addr]" for "host ... said:" */
    enum sstate st;
    enum tls_level level;
    struct smtp_reply rep;
    struct buf line;
    struct smtp_ehlo ehlo;
    bool tls_on, reused, dead;
    bool answered; /* a reply came since the transaction started (stale cache check) */
    int depth;
    unsigned long timer;
    long long born_ms;
    unsigned auth_step;
    char *early_err;             /* the connect could not be started */
    /* the transaction */
    struct expect *exp;
    size_t nexp, exp_sent, exp_done;
    size_t accepted;
    bool mail_failed, need_rset;
    bool bdat;                   /* this transaction sends the content with BDAT */
    bool bdat_failed;            /* a chunk was refused: send no more, RSET after */
    bool utf8;                   /* MAIL FROM carries SMTPUTF8 */
    /* the content */
    struct queue_body_cursor body;
    struct dotstuff ds;
    char *chunk;
    bool body_end;
};

/* session.c */
void session_enter(struct session *s);
void session_leave(struct session *s);
void session_set_timer(struct session *s, long long ms);
void session_send(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The session cannot go on: results for the owner's pending recipients (cls 4 or 5, or 0
 * for none), then the owner is told and the session closes (politely with QUIT when
 * polite). */
void session_fail(struct session *s, int cls, const char *dsn, const char *reason, bool polite,
                  bool retry_plain);
/* The protocol goes on after the server's EHLO (or HELO) reply: STARTTLS, AUTH, ready. */
void session_after_ehlo(struct session *s);
void session_ready(struct session *s);
void session_ehlo(struct session *s);
/* "X.Y.Z" for a reply: its enhanced status when it has one of the right class, else
 * "C.0.0". */
void session_dsn(const struct smtp_reply *r, char *out, size_t outsize);

/* session_tls.c */
/* " (MTA-STS policy mode=enforce)" when the policy set the level, else "". */
const char *sts_note(const struct session *s);
bool session_want_starttls(struct session *s);
void session_starttls(struct session *s);
void session_starttls_reply(struct session *s);
void session_tls_ready(struct session *s);
bool session_want_auth(struct session *s);
void session_auth(struct session *s);
void session_auth_reply(struct session *s);

/* session_txn.c */
void session_txn_reply(struct session *s);
void session_body_drained(struct session *s);

#endif
