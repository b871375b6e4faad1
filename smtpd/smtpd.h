/* smtpd.h - the inbound SMTP server's shared state (see doc/smtpd.md).
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
#ifndef SMTPD_SMTPD_H
#define SMTPD_SMTPD_H
#include "anvil_client.h"
#include "buf.h"
#include "conn.h"
#include "list.h"
#include "queue.h"
#include "server.h"
#include "session.h"
#include "smtp_data.h"
#include "smtp_proto.h"
#include "worker.h"
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

enum tls_level { TLS_LEVEL_NONE, TLS_LEVEL_MAY, TLS_LEVEL_ENCRYPT };

struct smtpd_params {
    const char *hostname;
    const char *banner;
    long long size_limit;
    long long minfree;        /* queue_minfree, with 0 resolved to 1.5 x size_limit */
    size_t rcpt_limit;
    size_t line_limit;
    unsigned soft_errors, hard_errors;
    long error_sleep_ms;
    long long timeout_ms;
    long long command_time_ms;     /* smtpd_command_time_limit */
    unsigned min_data_rate;        /* smtpd_min_data_rate, bytes/s; 0: none */
    long long data_rate_grace_ms;  /* smtpd_min_data_rate_grace */
    unsigned client_limit;    /* 0: unlimited */
    unsigned rate_limit;      /* smtpd_client_connection_rate_limit; 0: unlimited */
    unsigned process_limit;
    enum smtp_bare_lf bare_lf;
    enum tls_level tls_level;
    bool received_header;
    const char *myorigin;
    const char *mydomain;
    const char *first_domain; /* first of virtual_mailbox_domains, or "" */
};

struct committer;
struct commit_job;
struct client_table;

struct smtpd {
    struct server *srv;
    struct smtpd_params p;
    SSL_CTX *tls;
    struct resolver *resolver;
    long long resolver_retry_ms;
    struct committer *committer;
    struct client_table *clients; /* this process's count, used while anvil is unavailable */
    struct anvil_client *anvil;
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
};

struct session {
    struct smtpd *d;
    struct sess *sess;         /* the life cycle (lib/io/session.h) */
    struct conn *conn;         /* sess->conn, for the protocol code */
    char addr[64];
    char *helo;
    bool esmtp;
    unsigned commands;
    const char *last_cmd;      /* for "lost connection after X" */
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
    struct anvil_req *anvil_req;
    unsigned anvil_generation; /* anvil counts this session (0: it does not) */
    long long cmd_left_ms;     /* command time left when the content started (0: none) */
    struct commit_job *job;
    struct buf line;
};

/* main.c */
bool smtpd_resolver_ready(struct smtpd *d);

/* session.c */
/* The session list's limits from the parameters (post_init). */
void session_setup(struct smtpd *d);
void session_accept(struct smtpd *d, int fd);
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
/* The message content starts (msg_start): the command time limit pauses and the minimum
 * data rate applies until the transaction ends (txn_reset). */
void session_content_started(struct session *s);

/* commands.c: read and answer one command line; false when no complete line is buffered. */
bool command_input(struct session *s);
/* smtpd_forbid_bare_newline = reject: 521 and close. */
void session_bare_lf(struct session *s);
/* "NOQUEUE: reject: CMD from unknown[addr]: REPLY; from=<> to=<> proto=ESMTP helo=<>" */
void log_reject(struct session *s, const char *cmd, const char *reply, const char *to);

/* recipient.c: decide a RCPT. Returns true to accept; *stored gets the address for the
 * queue file (malloc'ed). On refusal reply holds the full reply text (no CRLF). */
bool recipient_check(struct session *s, const struct smtp_path *p, char **stored,
                     struct buf *reply, bool *temporary);

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

/* commit.c */
struct commit_job {
    struct worker_job wj; /* the worker's (lib/util/worker.h) */
    struct queue_writer *w;
    char id[QUEUE_ID_SIZE];
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
