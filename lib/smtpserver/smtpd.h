/* smtpd.h - the SMTP server engine that smtpd (port 25) and submission (587, 465) share
 * (doc/smtpd.md, doc/submission.md): its state, and the hooks through which a program gives
 * it a role.
 *
 * One event-driven process serves many sessions. Each session is a struct session around a
 * lib/conn connection: command lines are parsed with lib/smtp_proto and answered in order
 * (RFC 2920 pipelining: replies are batched and flushed when the input is drained), message
 * content is streamed into a queue file (message.c) while DATA or BDAT input is decoded
 * (data.c), and the queue file is committed by a worker thread (commit.c) so fsync never
 * stalls the loop; the 250 reply goes out only when the file and incoming/ are durable.
 *
 * Lifetime: the life cycle (replies, error limits, closing, timeouts, reaping) is the
 * shared session skeleton of lib/io/session.h: a session is freed only at the end of an
 * entry point (conn callback, timer, commit completion, tick) once it is marked dead, so
 * code inside never frees it under its own feet. */
#ifndef POSTHORN_SMTPD_H
#define POSTHORN_SMTPD_H
#include "anvil_client.h"
#include "buf.h"
#include "conn.h"
#include "dns.h"
#include "header.h"
#include "list.h"
#include "queue.h"
#include "resolve.h"
#include "server.h"
#include "session.h"
#include "smtp_data.h"
#include "smtp_proto.h"
#include "smtp_stats.h"
#include "worker.h"
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

enum tls_level { TLS_LEVEL_NONE, TLS_LEVEL_MAY, TLS_LEVEL_ENCRYPT };

/* What the lookup of the client's name found (peername.c). */
enum peer_name {
    PEER_NOT_ASKED,   /* no lookup (smtpd_peername_lookup = no, or not an IP address) */
    PEER_CONFIRMED,   /* a PTR name whose addresses include the client's */
    PEER_UNCONFIRMED, /* a valid PTR name that does not lead back to the address */
    PEER_NO_PTR,      /* no PTR record, or none with a valid host name */
    PEER_TEMPFAIL     /* a lookup failed or timed out, or the resolver is unusable */
};

/* smtpd_reject_unknown_client_hostname: no, reverse, confirmed (the config_enum order). */
enum name_rule { NAME_RULE_NONE, NAME_RULE_REVERSE, NAME_RULE_CONFIRMED };

struct smtpd_params {
    const char *hostname;
    const char *banner;
    long long size_limit;
    long long minfree;        /* queue_minfree, with 0 resolved to 1.5 x size_limit */
    size_t rcpt_limit;
    size_t line_limit;
    size_t header_line_limit; /* smtpd_header_line_limit: a line kept back for headers_end */
    unsigned soft_errors, hard_errors;
    long error_sleep_ms;
    long long timeout_ms;
    long long command_time_ms;     /* smtpd_command_time_limit */
    unsigned min_data_rate;        /* smtpd_min_data_rate, bytes/s; 0: none */
    long long data_rate_grace_ms;  /* smtpd_min_data_rate_grace */
    unsigned client_limit;    /* 0: unlimited */
    unsigned rate_limit;      /* smtpd_client_connection_rate_limit; 0: unlimited */
    unsigned process_limit;
    bool peername_lookup;            /* smtpd_peername_lookup */
    long long peername_timeout_ms;   /* smtpd_peername_lookup_timeout */
    enum name_rule name_rule;        /* smtpd_reject_unknown_client_hostname */
    enum smtp_bare_lf bare_lf;
    enum tls_level tls_level;
    bool wrapper;             /* smtpd_tls_wrappermode: TLS from the first byte */
    bool received_header;
    bool received_hide_client; /* a role's choice: no "from HELO (unknown [ADDR])" */
    const char *myorigin;
    const char *mydomain;
    const char *first_domain; /* first of virtual_mailbox_domains, or "" */
};

struct committer;
struct commit_job;
struct client_table;
struct session;

/* What a session's role decides about a MAIL or RCPT: accept it, refused (the role has
 * replied, through session_reject()), or wait (the role calls session_mail_decided() or
 * session_rcpt_decided() later; no input is processed meanwhile). */
enum smtpd_verdict { SMTPD_ACCEPT, SMTPD_REFUSED, SMTPD_WAIT };

/* The role of a program on the engine. smtpd's trusts mynetworks (no AUTH; relay and a
 * DKIM signature for those clients only); submission adds AUTH, the sender policy, per-user limits and the RFC 6409 fixes.
 * Hooks run on the loop thread, inside the engine's entry points (so they never reap). */
struct smtpd_hooks {
    /* A session starts (s->role is NULL) and ends (release s->role; requests under way
     * are cancelled here). */
    void (*session_start)(struct session *s);
    void (*session_end)(struct session *s);
    /* TLS has started: forget what was learned before it (RFC 3207 sec 4.2). */
    void (*tls_started)(struct session *s);
    /* EHLO: the role's extension lines, sent with session_reply(s, "250-..."). */
    void (*ehlo)(struct session *s);
    /* A command line before it is parsed: true when the role took it (a SASL exchange in
     * progress). Such lines, like AUTH commands, are wiped after use and never logged. line
     * NULL: a line too long came (answered 500 by the engine), which ends any exchange. */
    bool (*line)(struct session *s, const char *line, size_t len);
    /* The AUTH command; NULL: 503 5.5.1. */
    void (*auth)(struct session *s, const char *args);
    /* MAIL passed the engine's checks; s->txn.mail holds it. */
    enum smtpd_verdict (*mail)(struct session *s);
    /* RCPT: may this session send to domains that are not ours? NULL: never. */
    bool (*relay)(struct session *s);
    /* RCPT passed the engine's checks; addr is the address to be stored. */
    enum smtpd_verdict (*rcpt)(struct session *s, const char *addr);
    /* Each header field of the message as it arrives. With headers_end set, the line being
     * read while the header section streams in is kept back (up to smtpd_header_line_limit)
     * so that when the section ends headers_end may add fields (appended to add, LF line
     * ends), which go in before the line that ended it (its empty line); or headers_end
     * returns a refusal, given once the content has been read (nothing is queued then). */
    void (*header)(struct session *s, const struct header_field *f);
    const char *(*headers_end)(struct session *s, struct buf *add);
    /* The message is complete: true to commit it into hold/ instead of incoming/. */
    bool (*hold)(struct session *s);
    /* The message is complete: the DKIM signer to have it signed by before it is committed
     * (lib/global/dkim_client.h), or NULL not to sign it. NULL hook: never. */
    const struct dkim_client *(*signer)(struct session *s);
};

struct smtpd {
    struct server *srv;
    const struct smtpd_hooks *hooks; /* never NULL (empty for smtpd) */
    void *role;                      /* the role's own process state */
    struct smtpd_params p;
    SSL_CTX *tls;
    struct resolver *resolver;
    struct accounts *accounts;   /* the process's account database handle, lent to the
                                  * resolver when the role has one (submission), or NULL */
    long long resolver_retry_ms;
    struct committer *committer;
    struct client_table *clients; /* this process's count, used while anvil is unavailable */
    struct anvil_client *anvil;
    struct dns *dns;              /* client name lookups (peername.c), or NULL: none */
    struct sess_list sessions; /* lib/io/session.h */
};

enum session_mode { MODE_CMD, MODE_DATA, MODE_BDAT };

struct rcpt {
    char *addr;
    char *orcpt;
    unsigned notify;
};

struct message; /* message.c */

/* One mail transaction: MAIL, its recipients and the content being received. */
struct txn {
    bool active;
    struct smtp_mail *mail; /* MAIL FROM and its parameters; NULL outside a transaction
                             * (allocated per transaction: an idle session stays small) */
    struct rcpt *rcpts;
    size_t nrcpts;
    unsigned rejected;  /* RCPT commands refused in this transaction */
    bool bdat_used;
    unsigned long long bdat_bytes; /* raw BDAT bytes accepted so far */
    const char *bdat_failed; /* reply repeated for every further BDAT chunk, or NULL */
    struct message *msg;
    struct rcpt pending;     /* a RCPT the role is deciding on (addr NULL: none) */
};

struct session {
    struct smtpd *d;
    struct sess *sess;         /* the life cycle (lib/io/session.h) */
    struct conn *conn;         /* sess->conn, for the protocol code */
    char addr[64];
    char name[DNS_NAME_MAX];   /* the client's verified host name, or "unknown" */
    char client[DNS_NAME_MAX + 66]; /* "name[addr]", as every log line names the client */
    struct dns_query *dns_q;   /* a lookup of the name under way (peername.c) */
    enum peer_name name_status;
    bool connect_logged;       /* "connect from" was logged (smtplog.c) */
    char *helo;
    bool esmtp;
    struct smtp_stats stats;   /* per-command counts for the disconnect line */
    const char *last_cmd;      /* where the session is, for "lost connection after X": the
                                * last command's verb, or one of the WHERE_* below */
    unsigned long long content_bytes; /* of the message being received, as sent */
    bool last_bare_lf;         /* the last command line ended in a bare LF */
    enum session_mode mode;
    struct txn txn;
    /* DATA decoding (data.c) */
    struct smtp_data data;     /* DATA decoder state */
    /* BDAT chunk in progress */
    unsigned long long bdat_left, bdat_size;
    bool bdat_last;
    const char *bdat_reply;    /* error to send once the chunk is read, NULL when accepted */
    bool wait_commit;          /* the queue file is being committed */
    bool wait_anvil;           /* asking anvil about the client before the greeting */
    bool wait_dns;             /* looking up the client's name before the greeting */
    bool wait_role;            /* the role decides (AUTH check, a limit asked of anvil) */
    bool opened;               /* limits checked, greeting under way (wrapper mode: once TLS is up) */
    void *role;                /* the role's per-session state */
    char *auth_user;           /* the SASL user name once authenticated, else NULL */
    const char *auth_method;   /* "PLAIN", "LOGIN" */
    struct anvil_req *anvil_req;
    unsigned anvil_generation; /* anvil counts this session (0: it does not) */
    long long cmd_left_ms;     /* command time left when the content started (0: none) */
    struct commit_job *job;
    struct dkim_sign_req *sign_req; /* the signer is signing the message (message.c) */
    struct buf line;
};

/* engine.c: the service skeleton's callbacks (lib/global/server.h) for a program built on
 * the engine. smtpd_pre_init reads the parameters and loads the TLS key (still privileged);
 * hooks may be NULL (no role) and must outlive the process. */
struct smtpd *smtpd_pre_init(struct server *srv, const struct smtpd_hooks *hooks);
void smtpd_post_init(struct server *srv);
void smtpd_accept(struct server *srv, int fd);
unsigned smtpd_busy(struct server *srv);
void smtpd_tick(struct server *srv);
bool smtpd_resolver_ready(struct smtpd *d);
/* The commit worker's completion (lib/smtpserver/commit.c). */
void smtpd_commit_done(struct commit_job *j, void *ctx);

/* peername.c: look up the client's name (forward-confirmed reverse DNS, doc/smtpd.md
 * "Client names"), then session_begin(); input waits meanwhile. peername_cancel() drops a
 * lookup under way (the session ends). */
void peername_lookup(struct session *s);
void peername_cancel(struct session *s);
void peername_set(struct session *s, const char *name);
/* smtpd_reject_unknown_client_hostname: NULL when the client may name recipients, else the
 * refusal ("450 4.7.25 ...") written into buf. */
const char *peername_refusal(struct session *s, char *buf, size_t size);

/* session.c */
/* The session list's limits from the parameters (post_init). */
void session_setup(struct smtpd *d);
void session_accept(struct smtpd *d, int fd);
/* The client's name is known (s->name, s->client): log the connection and go on to TLS
 * (wrapper mode) or the limits and the greeting. */
void session_begin(struct session *s);
void session_process(struct session *s);
/* Replies go out through the session skeleton (lib/io/session.h); session_error() is a
 * 4xx/5xx reply that counts against the soft and hard error limits. */
#define session_reply(s, ...) sess_reply((s)->sess, __VA_ARGS__)
#define session_error(s, ...) sess_error((s)->sess, __VA_ARGS__)
/* Send what is queued, then close (QUIT, 421, 521). */
void session_close(struct session *s);
void session_reap(struct session *s);
/* The connection is unusable (a failed STARTTLS): end without a reply. */
void session_kill(struct session *s);
long session_starttls(struct session *s, SSL_CTX *ctx, char **err);
void session_tick(struct smtpd *d);
void txn_reset(struct session *s);
const char *session_protocol(const struct session *s);
void session_commit_done(struct session *s, int rc, const char *id, const char *err);
/* The role's answer to a MAIL or RCPT it asked to wait for: refusal NULL accepts, else it
 * is the reply (logged as a NOQUEUE reject). The session goes on (and may be freed). */
void session_mail_decided(struct session *s, const char *refusal);
void session_rcpt_decided(struct session *s, const char *refusal);
/* The role's own wait (s->wait_role, e.g. an AUTH check) is over: go on with the input
 * (the session may be freed). */
void session_resume(struct session *s);
/* A policy refusal: logged as "NOQUEUE: reject: CMD ..." and counted as an error. */
void session_reject(struct session *s, const char *cmd, const char *to, const char *reply);
/* The message content starts (msg_start): the command time limit pauses and the minimum
 * data rate applies until the transaction ends (txn_reset). */
void session_content_started(struct session *s);

/* commands.c: read and answer one command line; false when no complete line is buffered. */
bool command_input(struct session *s);
/* smtpd_forbid_bare_newline = reject: 521 and close. */
void session_bare_lf(struct session *s);

/* smtplog.c: the session's log lines in Postfix's shapes. */
/* s->last_cmd while message content is read, and once it has ended (Postfix's names). */
extern const char *const WHERE_DATA_CONTENT, *const WHERE_BDAT_CONTENT, *const WHERE_EOM;
/* "RCPT", "DATA (123 bytes)", "END-OF-MESSAGE": where the session is, for the log. */
const char *session_where(const struct session *s, char *out, size_t outsize);
/* "QUEUEID|NOQUEUE: reject: WHERE from NAME[addr]: REPLY; from=<S> to=<R> proto=ESMTP
 * helo=<H>": from= when a MAIL is known, to= when given, helo= when given. */
void log_reject(struct session *s, const char *where, const char *reply, const char *to);
/* "REASON after WHERE from NAME[addr]" (lost connection, timeout, too many errors). */
void log_session_end(struct session *s, const char *reason);
/* "disconnect from NAME[addr] ehlo=1 ... commands=N" */
/* "connect from NAME[addr]", once per session (also before the lines above when the client
 * left during the lookup of its name). */
void log_connect(struct session *s);
void log_disconnect(struct session *s);

/* recipient.c: decide a RCPT. Returns true to accept; *stored gets the address for the
 * queue file (malloc'ed). On refusal reply holds the full reply text (no CRLF). */
bool recipient_check(struct session *s, const struct smtp_path *p, char **stored,
                     struct buf *reply, bool *temporary);
/* What addr is to us (RCPT_TEMPFAIL while the tables cannot be opened). */
enum rcpt_class recipient_classify(struct session *s, const char *addr, char **result);

/* data.c */
bool data_input(struct session *s);
bool bdat_input(struct session *s);
void bdat_command(struct session *s, const char *args);
void data_command(struct session *s, const char *args);

/* message.c */
bool msg_start(struct session *s, char **err);
void msg_write(struct session *s, const char *data, size_t len);
/* BDAT content: CRLF becomes LF across chunk boundaries. */
void msg_write_crlf(struct session *s, const char *data, size_t len);
/* End of content: reply with an error, or hand the file to the committer (wait_commit). */
void msg_finish(struct session *s);
void msg_abort(struct session *s);
long long msg_size(const struct session *s);
/* The queue ID of the message being received ("" outside DATA/BDAT). */
const char *msg_queue_id(const struct session *s);

/* commit.c */
struct commit_job {
    struct worker_job wj; /* the worker's (lib/util/worker.h) */
    struct queue_writer *w;
    char id[QUEUE_ID_SIZE];
    bool hold;             /* into hold/ instead of incoming/ (no qmgr wakeup) */
    struct session *owner; /* touched by the loop thread only; NULL once the session left */
    int rc;
    char *err;
};
struct committer *committer_new(struct event_loop *loop, const char *spool,
                                void (*done)(struct commit_job *j, void *ctx), void *ctx);
void committer_submit(struct committer *c, struct commit_job *j);
unsigned committer_pending(const struct committer *c);

/* clients.c: sessions per client address in this process. */
struct client_table *clients_new(void);
unsigned clients_add(struct client_table *t, const char *addr); /* returns the new count */
unsigned clients_count(struct client_table *t, const char *addr);
void clients_del(struct client_table *t, const char *addr);

#endif
