/* session.h - the protocol-neutral life cycle of a connection-serving session, on top of
 * struct conn (conn.h): the one skeleton smtpd, both halves of pop3d and (later) imapd build
 * their sessions on. The daemon keeps its protocol: its command loop step, its replies and
 * its good-bye lines; the skeleton keeps what every session does the same way:
 *
 *   - replies: one formatted line plus CRLF, logged with -v as "> TAG: line";
 *   - held replies: sess_hold() keeps replies back for a while (an authentication failure
 *     delay, an SMTP tarpit) and stops processing input until they are released;
 *   - error counting: every sess_error() counts; past soft_error_limit each error reply is
 *     held for error_delay_ms; at error_limit the daemon says good-bye and the session closes;
 *   - closing: pending output is flushed, then the session is dead; a closing session that
 *     cannot flush within SESS_CLOSE_GRACE_MS is dropped;
 *   - the idle timeout (sess_list.timeout_ms since the last sess_touch());
 *   - deadlines that input does not push back: an absolute one (sess_set_deadline(), e.g.
 *     a total time for SMTP commands) and a minimum data rate over a measured phase
 *     (sess_rate_start(): below sess_list.min_rate bytes/s on average once rate_grace_ms
 *     have passed), so a client trickling one byte at a time cannot live for ever;
 *   - output back-pressure: no command is processed while more than out_limit bytes wait;
 *   - reaping: a session is freed only at the end of an entry point (a conn callback, a
 *     timer, a tick, or the daemon's own completion callbacks through sess_reap()), never
 *     under the feet of the code that marked it dead.
 *
 * Ownership: sess_new() allocates the session and takes over the descriptor; the daemon's
 * own per-session state hangs off `owner` and is released by ops->finish, which runs once
 * from sess_reap() just before the connection and the session are freed. Threading: the
 * event loop thread only. Failure: connection errors arrive through ops->lost, then the
 * session is dead; nothing here logs except the -v reply trace. */
#ifndef POSTHORN_SESSION_H
#define POSTHORN_SESSION_H
#include "buf.h"
#include "conn.h"
#include "list.h"
#include "event.h"
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define SESS_CLOSE_GRACE_MS 10000 /* how long a closing session may take to flush */

struct sess;

struct sess_ops {
    /* One step of the protocol on buffered input (one command line, a piece of message
     * data). Returns false when nothing more can be done with what is buffered. Required. */
    bool (*step)(struct sess *s);
    /* The daemon's own pauses (a password check, a commit, a message being streamed): no
     * step runs and EOF is not acted on while this is true. NULL: none. */
    bool (*paused)(const struct sess *s);
    /* Waiting for another thread or process: the idle timer does not run. NULL: never. */
    bool (*waiting)(const struct sess *s);
    /* The peer closed its side and everything was processed; the session closes after.
     * NULL: nothing to do. */
    void (*eof)(struct sess *s);
    /* error_limit reached: log and send the protocol's last reply; the session closes after. */
    void (*too_many_errors)(struct sess *s);
    /* The idle timer ran out: log, and reply unless sess_in_handshake() (nothing can be said
     * then). The session closes after (or is dropped mid-handshake). */
    void (*timeout)(struct sess *s);
    /* A deadline passed or the data rate fell below the minimum (why says which): log, and
     * reply unless sess_in_handshake(). The session closes after. NULL: ops->timeout. */
    void (*too_slow)(struct sess *s, const char *why);
    /* The connection failed (why); the session is dead after. */
    void (*lost)(struct sess *s, const char *why);
    /* A STARTTLS or wrapper-mode handshake finished; input is processed after. NULL: none. */
    void (*tls_ready)(struct sess *s);
    /* All pending output was written and the session is not closing. NULL: nothing. */
    void (*drained)(struct sess *s);
    /* A reply line (without its CRLF) was queued for the peer, or held back. NULL: nothing. */
    void (*replied)(struct sess *s, const char *line);
    /* The session is being freed: release the owner's state (the connection is still
     * there, unless detached). Required. */
    void (*finish)(struct sess *s);
};

/* The sessions of one process, and the limits they share. Set the fields, then sess_new(). */
struct sess_list {
    struct event_loop *loop;
    long long timeout_ms;       /* idle timeout */
    unsigned error_limit;       /* errors after which the session closes */
    unsigned soft_error_limit;  /* errors after which error replies are held back ... */
    long error_delay_ms;        /* ... this long (0: never) */
    size_t out_limit;           /* stop processing input while this much output waits; 0: no limit */
    bool idle_on_input;         /* any input restarts the idle timer; else only sess_touch() */
    unsigned min_rate;          /* bytes/s a phase under sess_rate_start() must average; 0: none */
    long long rate_grace_ms;    /* ... once it has lasted this long */
    DLIST_HEAD(struct sess) sessions; /* lib/util/list.h */
    unsigned count;
};

struct sess {
    struct sess_list *list;
    struct sess *prev, *next;
    const struct sess_ops *ops;
    void *owner;
    struct conn *conn;          /* NULL once detached */
    char tag[330];              /* how the peer appears in the -v reply trace (a host
                                 * name of up to 255 octets and the address) */
    unsigned errors;
    bool closing, dead, wait_tls, holding, close_after_hold;
    long long last_active, closing_since;
    long long deadline;         /* event_now_ms() by which the session must be done; 0: none */
    long long rate_since;       /* start of the measured phase; 0: not measuring */
    unsigned long long rate_bytes; /* bytes counted in it */
    unsigned long hold_timer;
    struct buf held;            /* replies kept back while holding */
};

/* Take over fd (non-blocking) as a new session of list; in_limit bounds its input buffer.
 * The caller greets (or refuses) and then calls sess_reap(). */
struct sess *sess_new(struct sess_list *list, int fd, size_t in_limit, const struct sess_ops *ops,
                      void *owner);
void sess_set_tag(struct sess *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- replies --- */
void sess_reply(struct sess *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sess_vreply(struct sess *s, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* A reply that counts as an error (soft and hard limits, see above). */
void sess_error(struct sess *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sess_verror(struct sess *s, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Hold replies back for ms (no-op while already holding); input waits meanwhile. When the
 * time is up the held replies are written and processing goes on. */
void sess_hold(struct sess *s, long ms);
/* Hold replies back, and input, until sess_hold_end (no timer): for a reply that waits for
 * something (imapd: the syncs that make a change durable). */
void sess_hold_open(struct sess *s);
/* End any hold now: write what was held, then go on as when a timed hold is over (close
 * if closing, else process the input that waited), and reap: the session may be gone when
 * this returns. Not from inside the session's own steps (sess_release_held is for that). */
void sess_hold_end(struct sess *s);
/* Close once the held replies are out (at once when nothing is held). */
void sess_close_after_hold(struct sess *s);
/* End the hold now and write what was held. */
void sess_release_held(struct sess *s);

/* --- life cycle --- */
/* Run steps while nothing pauses the session, then act on EOF and flush. */
void sess_process(struct sess *s);
/* Restart the idle timer. */
void sess_touch(struct sess *s);
/* Cut the session (ops->too_slow) unless it is done within ms from now, whatever input
 * arrives meanwhile; 0 removes the deadline. Not checked while ops->waiting(). */
void sess_set_deadline(struct sess *s, long long ms);
/* Milliseconds left before the deadline (at least 1), 0 when there is none. */
long long sess_deadline_left(const struct sess *s);
/* Measure the data rate from now (sess_list.min_rate, rate_grace_ms); count what the
 * protocol consumed with sess_rate_count(); stop measuring with sess_rate_stop(). */
void sess_rate_start(struct sess *s);
void sess_rate_count(struct sess *s, size_t bytes);
void sess_rate_stop(struct sess *s);
bool sess_rate_active(const struct sess *s);
/* Send what is pending (after the held replies), then end the session. */
void sess_close(struct sess *s);
/* End the session without flushing (the connection is unusable). */
void sess_kill(struct sess *s);
/* Free the session if it is dead. Call at the end of every entry point of the daemon's own. */
void sess_reap(struct sess *s);
/* Start TLS on the connection (conn_starttls: returns the discarded plaintext bytes, or -1
 * with *err). Steps wait until ops->tls_ready. */
long sess_starttls(struct sess *s, SSL_CTX *ctx, char **err);
bool sess_in_handshake(const struct sess *s);
/* Give the connection away (e.g. to a login process's TLS proxy): the session stops
 * processing and timing out and stays until the owner kills and reaps it. */
struct conn *sess_detach(struct sess *s);
/* Once a second: close grace and idle timeouts of every session of list. */
void sess_tick(struct sess_list *list);

#endif
