/* pop3_mailbox.h - pop3d-mailbox, the POP3 mailbox program (see doc/pop3d.md): run as
 * vmail_owner by the pop3-mailbox UNIX service (SPOOL/private), it takes logged-in sessions
 * from the login program (lib/login/login_handoff.h), locks the maildrop, takes its
 * snapshot, answers the login command, and serves the TRANSACTION and UPDATE states. It is
 * event-driven and serves many sessions per process, each on the session skeleton of
 * lib/io/session.h (freed only at the end of an entry point once dead). Event loop thread
 * only. */
#ifndef POP3D_MAILBOX_POP3_MAILBOX_H
#define POP3D_MAILBOX_POP3_MAILBOX_H
#include "buf.h"
#include "conn.h"
#include "auth_check.h"
#include "login_handoff.h"
#include "mailstore.h"
#include "pop3_proto.h"
#include "server.h"
#include "session.h"
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define POP3_IMPLEMENTATION "Posthorn"
#define HANDOFF_TIMEOUT_MS 10000

struct pop3_mailbox_params {
    long long idle_timeout_ms;
    size_t line_limit;
    unsigned error_limit;
    const char *mailbox_base;
    const char *index_name;
    const char *uidl_format; /* pop3d_uidl_format (lib/proto/pop3_uidl.h) */
};

struct pop3d {
    struct server *srv;
    struct pop3_mailbox_params p;
    uid_t mail_owner_uid;          /* who may hand over sessions */
    struct sess_list boxes;        /* lib/io/session.h */
    unsigned handoffs_in;          /* handoff requests being read */
};

struct drop_msg {
    uint32_t uid;
    uint32_t flags;
    uint64_t vsize;
    char *name;
    bool deleted;
};

struct maildrop {
    struct mail_user *mb;
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
    struct sess *sess;       /* the life cycle */
    struct conn *conn;       /* sess->conn */
    char *user;
    char id[24];
    struct maildrop drop;
    struct box_stats st;
    /* a RETR or TOP being streamed */
    int msg_fd;
    struct pop3_filter filter;
    bool sending_top;
    unsigned long long sent;
    unsigned long send_timer; /* resumes a long message after a fair share */
    const char *end_reason;  /* "Logged out", "Connection closed", ... */
    bool updated;            /* QUIT ran the UPDATE state */
    struct buf line;
};

/* box.c */
/* request.c: the handoff request's fields; NULL when usable (input gets the decoded
 * pipelined input), else what is wrong. */
const char *box_check_request(const struct attrs *req, struct buf *input);
void box_setup(struct pop3d *d);
void box_accept(struct pop3d *d, int fd);
void box_tick(struct pop3d *d);
void box_process(struct box_session *s);
/* Replies through the session skeleton (lib/io/session.h); box_error() counts as an error. */
#define box_reply(s, ...) sess_reply((s)->sess, __VA_ARGS__)
#define box_error(s, ...) sess_error((s)->sess, __VA_ARGS__)
void box_close(struct box_session *s);
/* The connection is unusable mid-response: end without UPDATE and without a reply. */
void box_kill(struct box_session *s);
bool box_dead(const struct box_session *s);
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
