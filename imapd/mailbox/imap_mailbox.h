/* imap_mailbox.h - imapd-mailbox, the IMAP mailbox program (see doc/imapd.md): run as
 * vmail_owner by the imap-mailbox UNIX service (SPOOL/private), it takes logged-in sessions
 * from the login program (lib/login/login_handoff.h), answers the login command and serves
 * the authenticated and selected states (RFC 9051 and RFC 3501) on the mail store
 * (lib/store/mailstore.h). Event-driven: many sessions per process, each on the session
 * skeleton of lib/io/session.h (freed only at the end of an entry point once dead); an idle
 * session costs its own small state. Changes made by other processes (local-mda, pop3d,
 * other IMAP sessions) reach a session through inotify on the user's index file (watch.c).
 * Event loop thread only. */
#ifndef IMAPD_MAILBOX_IMAP_MAILBOX_H
#define IMAPD_MAILBOX_IMAP_MAILBOX_H
#include "buf.h"
#include "conn.h"
#include "imap_parse.h"
#include "list.h"
#include "login_handoff.h"
#include "mailstore.h"
#include "server.h"
#include "session.h"
#include "worker.h"
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define HANDOFF_TIMEOUT_MS 10000
#define IMAP_SEPARATOR '.' /* Maildir++ hierarchy separator, as Dovecot's default */

struct imap_mailbox_params {
    long long idle_timeout_ms;
    long long keepalive_ms;   /* imapd_idle_keepalive */
    size_t line_limit;
    unsigned long long append_limit;
    unsigned long long literal_memory_limit; /* bigger APPEND literals go to a file */
    int compress_level;       /* imapd_compress_level; 0: COMPRESS not offered */
    int compress_window_bits;
    unsigned error_limit;
    const char *mailbox_base;
    const char *index_name;
    long long quota_default;
    size_t sort_header_limit; /* imapd_sort_header_limit */
    size_t sort_key_limit;    /* imapd_sort_key_limit */
    size_t sync_slice;        /* imapd_sync_slice: new files indexed per turn of the loop */
};

struct watch;

struct imapd {
    struct server *srv;
    struct imap_mailbox_params p;
    uid_t mail_owner_uid;   /* who may hand over sessions */
    struct sess_list sessions;
    unsigned handoffs_in;
    struct watch *watch;    /* watch.c */
    struct accounts *accounts; /* for the users' quotas; NULL: virtual_mailbox_quota */
    struct worker *syncer;  /* durable.c; NULL: changes are synced on the loop */
    struct worker *scanner; /* folder_scan.c; NULL: folders are read on the loop */
    struct worker *trasher; /* trash.c; NULL: deleted folders are removed on the loop */
};

/* The selected mailbox as this session sees it (RFC 9051 sec 2.3.1.2: message sequence
 * numbers are positions in msgs, which change only when this session is told). */
struct view_msg {
    uint32_t uid;
    uint32_t flags;   /* MS_FLAG_* */
    uint64_t modseq;
    uint64_t vsize;   /* RFC822.SIZE */
    uint64_t keywords; /* bit i: view.keyword[i] */
    uint64_t internaldate;
    bool recent;
};

#define VIEW_KEYWORDS 64

struct view {
    char *name;          /* the store's mailbox name ("INBOX", "Sent", "A.B") */
    bool readonly;       /* EXAMINE */
    bool rev2;           /* selected after ENABLE IMAP4rev2: no \Recent in FLAGS */
    uint32_t uidvalidity, uidnext;
    uint64_t highestmodseq;
    struct view_msg *msgs;
    size_t n, cap;
    bool expunges_pending; /* expunged messages kept until an EXPUNGE may be sent */
    /* CONDSTORE/QRESYNC (condstore.c): HIGHESTMODSEQ as of the last sync that held no
     * expunge back, and the highest MODSEQ this session was told since (FETCH MODSEQ or a
     * HIGHESTMODSEQ response code) */
    uint64_t full_modseq, told_modseq;
    char *keyword[VIEW_KEYWORDS]; /* the mailbox's keyword table as this session knows it */
    struct watch *watch;  /* the watches on the folder's new/ and cur/ (watch.c) */
    int dir_wd[2];
    uint32_t *saved;     /* SEARCHRES "$" (RFC 5182): UIDs, ascending; gone with the view */
    size_t nsaved;
    struct search_update **updates; /* CONTEXT=SEARCH RETURN (UPDATE) (search_update.c) */
    size_t nupdates;
    struct mailbox_recent appended; /* claimed by this session's APPEND, for its next sync */
};

/* An APPEND literal kept in a temporary file (spool.c). */
struct spool {
    unsigned ordinal; /* which literal of the command, 0 the first */
    int fd;
    uint64_t size;
    int error;        /* errno of a failed write, 0 */
};

struct imap_session {
    struct imapd *d;
    struct sess *sess;
    struct conn *conn;
    struct imap_session *prev, *next; /* sessions watching the same user (watch.c) */
    int watch_wd;
    bool watched;
    char *user;
    char id[24];
    struct mail_user *mu;
    long long quota;
    bool rev2, utf8;      /* ENABLE IMAP4rev2, UTF8=ACCEPT */
    bool utf8_accept;     /* ENABLE UTF8=ACCEPT itself: SEARCH takes no CHARSET (RFC 6855 sec 3) */
    bool condstore, qresync; /* RFC 7162: enabled (QRESYNC implies CONDSTORE) */
    /* the command being assembled (literals included) */
    struct buf cmd;
    uint64_t literal_left; /* literal bytes still to come, + 1 while assembling */
    bool literal_skip;     /* a refused non-synchronising literal is read and dropped */
    unsigned literals;     /* literals of the command so far */
    struct spool *spools;  /* the command's literals in files (spool.c) */
    size_t nspools;
    bool spooling;         /* the literal arriving goes to the last spool */
    uint64_t spooled_bytes;
    char tag[IMAP_TAG_MAX + 1];
    struct view *view;     /* NULL when no mailbox is selected */
    bool idling;
    long long idle_said_ms;   /* the last line sent during IDLE */
    bool changed;          /* the watch saw the index change since the last sync */
    unsigned char in_flight_looks; /* IDLE looks put off for a commit in flight (watch.c) */
    struct fetch_job *fetching; /* a FETCH answered piece by piece (fetch.c) */
    struct scan_job *scanning;  /* a SORT or THREAD reading the mailbox a slice at a time (scan.c) */
    struct sync_job *sync_job;  /* the syncs the held replies wait for (durable.c) */
    struct select_wait *selecting; /* a SELECT waiting for its folder's files (cmd_select.c) */
    const char *end_reason;
    unsigned long long fetched_bytes, fetches;
    struct buf line;
};

/* test_hooks.c: a worker thread's job takes $env ms longer (test builds only) */
void test_hook_delay(const char *env);
/* The ms $env asks for (0 without, and in builds without test hooks). */
long test_hook_ms(const char *env);
/* trash.c: a deleted folder's files (mailbox_delete_later) removed on a worker thread;
 * path is taken over */
void trash_setup(struct imapd *d);
void trash_remove(struct imapd *d, char *path);
/* folder_scan.c: a folder's new/ and cur/ read on a worker thread (mailbox_scan_read) */
typedef void (*folder_scan_fn)(void *ctx, struct mailbox_scan *sc); /* on the loop; owns sc */
void folder_scan_setup(struct imapd *d);
/* Read sc (measure: mailbox_scan_measure it), then done(ctx, sc) on a later loop turn.
 * NULL when there is no thread: do it on the loop then. */
struct folder_scan *folder_scan_start(struct imapd *d, struct mailbox_scan *sc, bool measure,
                                      folder_scan_fn done, void *ctx);
/* The caller went away: done will not be called (sc is freed). NULL is a no-op. */
void folder_scan_cancel(struct folder_scan *fs);
/* sc (read) has so many files without an index entry (copied in by hand, restored from a
 * back-up) that they should be measured on the thread before the sync. */
bool folder_scan_many_unindexed(struct mail_user *mu, const char *mailbox, struct mailbox_scan *sc);

/* durable.c: the replies of STORE, EXPUNGE and APPEND wait for their syncs, on a worker thread */
void durable_setup(struct imapd *d);
/* Before a command: true when its syncs are deferred and its replies held (call
 * durable_end after it ran, inside the session's step). */
bool durable_begin(struct imap_session *s, const struct imap_command *cmd);
void durable_end(struct imap_session *s);
/* The session is going away: its job, if any, finishes without it. */
void durable_forget(struct imap_session *s);

/* session.c */
void session_setup(struct imapd *d);
void session_accept(struct imapd *d, int fd);
void session_tick(struct imapd *d);
/* request.c: the handoff request's fields; NULL when usable, else what is wrong. */
const char *imap_check_request(const struct attrs *req, struct buf *input);
void imap_reply(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Tagged replies for the current command; BAD counts against the error limit. */
void imap_ok(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void imap_no(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void imap_bad(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write a string as a quoted string, or a literal when it cannot be quoted. */
void imap_write_string(struct imap_session *s, struct buf *out, const char *str, size_t len);
void imap_close(struct imap_session *s);

/* commands.c: the dispatcher and the commands of every state. */
void imap_dispatch(struct imap_session *s, struct imap_command *cmd);
/* names.c: mailbox names between the wire (modified UTF-7 for rev1, UTF-8 for rev2 and
 * UTF8=ACCEPT; RFC 9051 sec 5.1) and the store. A malloc'ed store name, or NULL when the
 * name is not acceptable. */
char *imap_name_in(const struct imap_session *s, const struct imap_arg *a);
void imap_name_out(const struct imap_session *s, struct buf *out, const char *store_name);
/* spool.c: big APPEND literals in files. spool_begin: the literal `ordinal` of the command
 * now arriving goes to a new file (false: none could be made, keep it in memory). */
bool spool_begin(struct imap_session *s, unsigned ordinal);
void spool_write(struct imap_session *s, const char *data, size_t n);
const struct spool *spool_find(const struct imap_session *s, unsigned ordinal);
void spool_reset(struct imap_session *s);
/* cmd_quota.c: GETQUOTA, GETQUOTAROOT, SETQUOTA (RFC 9208). */
void cmd_quota(struct imap_session *s, struct imap_command *cmd);
/* cmd_list.c: LIST (LIST-EXTENDED, LIST-STATUS) and LSUB */
void cmd_list(struct imap_session *s, struct imap_command *cmd, bool lsub);
/* cmd_mailbox.c */
void cmd_status(struct imap_session *s, struct imap_command *cmd);
/* STATUS items[0..n) (checked with status_items_valid) of a mailbox: "* STATUS name (...)"
 * appended to out; 1, 0 no such mailbox, -1 error (logged). */
bool status_items_valid(const struct imap_arg *items, size_t n);
int status_items(struct imap_session *s, const char *name, const struct imap_arg *items, size_t n,
                 struct buf *out);
void cmd_namespace(struct imap_session *s, struct imap_command *cmd);
/* view.c */
/* Opening a mailbox as the selected view, in steps (cmd_select.c): view_new checks the
 * name and puts the folder's watches in place (NULL with *err); when view_folder_current
 * says nothing changed its files behind the index, view_load reads the index; else
 * view_sync_slice syncs the index with the files of sc (read after view_new) first, at most
 * max_new new files per call (0: all): 1 while files are left, 0 when done. -1 with *err
 * (the view is then freed by the caller). */
struct view *view_new(struct imap_session *s, const char *name, bool readonly, char **err);
bool view_folder_current(struct imap_session *s, const struct view *v);
int view_sync_slice(struct imap_session *s, struct view *v, const struct mailbox_scan *sc,
                    size_t max_new, char **err);
int view_load(struct imap_session *s, struct view *v, char **err);
void view_free(struct view *v);
/* Report what changed since the last call: EXPUNGE (only when expunges are allowed: not
 * during FETCH, STORE and SEARCH, RFC 9051 sec 7.5.1), FETCH FLAGS, EXISTS. */
void view_sync(struct imap_session *s, bool expunges_allowed);
/* Resolve a sequence set (uid: UIDs) to positions in the view, in ascending order; "$" is
 * the saved result's messages that are still in the view. */
size_t *view_resolve(struct imap_session *s, struct imap_seqset *set, bool uid, size_t *count);
/* SEARCHRES: keep uids[0..n) (any order) as "$"; the saved UIDs as a resolved UID set. */
void view_save_result(struct view *v, const uint32_t *uids, size_t n);
void view_saved_set(const struct view *v, struct imap_seqset *set);
/* "(\\Seen $Label1 ...)" for a message of the view. */
void view_write_flags(const struct view *v, struct buf *out, const struct view_msg *m);
/* Learn keywords added to the mailbox's table; announce the new FLAGS when there are. */
void view_refresh_keywords(struct imap_session *s);
/* FLAGS and PERMANENTFLAGS lists with the keywords of the view. */
void view_write_flag_list(const struct view *v, struct buf *out, bool permanent);
/* cmd_folders.c */
/* The tagged NO for a store result (trycreate: [TRYCREATE] for a missing target mailbox). */
void imap_store_error(struct imap_session *s, enum mailstore_result r, bool trycreate,
                      const char *what, const char *err);
void cmd_create(struct imap_session *s, struct imap_command *cmd);
void cmd_delete(struct imap_session *s, struct imap_command *cmd);
void cmd_rename(struct imap_session *s, struct imap_command *cmd);
void cmd_subscribe(struct imap_session *s, struct imap_command *cmd);
void cmd_unsubscribe(struct imap_session *s, struct imap_command *cmd);
/* cmd_append.c, cmd_copy.c */
void cmd_append(struct imap_session *s, struct imap_command *cmd);
void cmd_copy(struct imap_session *s, struct imap_command *cmd, bool uid, bool move);
/* cmd_select.c */
/* The system flags of a flag list (or one flag) and its keywords (pointers into a; *names
 * malloc'ed, *nnames of them); false on syntax errors. */
bool imap_parse_flags(const struct imap_arg *a, uint32_t *flags, const char ***names, size_t *nnames);
void cmd_select(struct imap_session *s, struct imap_command *cmd, bool readonly);
/* The session goes away during a SELECT's wait for its folder's files. */
void select_abort(struct imap_session *s);
void cmd_close(struct imap_session *s, struct imap_command *cmd, bool expunge);
void cmd_expunge(struct imap_session *s, struct imap_command *cmd, bool uid);
/* fetch.c: a FETCH writes its responses while less than FETCH_OUT_HIGH bytes wait to be
 * sent, then goes on when the output has drained (fetch_more), so a client that does not
 * read holds only that much memory; no other command runs meanwhile. */
#define FETCH_OUT_HIGH (256 * 1024)
void cmd_fetch(struct imap_session *s, struct imap_command *cmd, bool uid);
/* Continue a FETCH; true when it is complete (its tagged reply sent). */
bool fetch_more(struct imap_session *s);
void fetch_abort(struct imap_session *s);
/* Answer SELECT QRESYNC's changed messages (UID FLAGS MODSEQ at positions pos, taken
 * over) like a FETCH, then the tagged OK with ok_text. */
void fetch_resync(struct imap_session *s, size_t *pos, size_t n, const char *ok_text);
/* cmd_store.c */
void cmd_store(struct imap_session *s, struct imap_command *cmd, bool uid);
/* condstore.c: CONDSTORE and QRESYNC (RFC 7162) state of a session */
/* Turn CONDSTORE on (a CONDSTORE enabling command, sec 3.1); with a mailbox selected, its
 * HIGHESTMODSEQ is announced. */
void condstore_enable(struct imap_session *s);
/* "MODSEQ (n)" of a FETCH response, remembered as told. */
void condstore_write_modseq(struct imap_session *s, struct buf *out, uint64_t modseq);
/* Before a tagged reply with QRESYNC on: the HIGHESTMODSEQ the client must keep when the
 * command's VANISHED/EXISTS moved it, or a lower one while expunges are held back. */
void condstore_report(struct imap_session *s);
/* qresync.c */
/* Parsed SELECT/EXAMINE parameters (RFC 4466 select-params: CONDSTORE, QRESYNC). */
struct select_params {
    bool condstore, qresync;
    uint32_t uidvalidity;
    uint64_t modseq;
    struct imap_seqset known;            /* known-uids, resolved ('*' = 4294967295) */
    struct imap_seqset match_seq, match_uid; /* seq-match-data, empty without */
};
/* No parameters; select_params_free() frees what parsing added. */
void select_params_init(struct select_params *p);
/* NULL, or the text of the BAD for a parameter list that is wrong. */
const char *select_params_parse(struct imap_session *s, const struct imap_arg *list,
                                struct select_params *p);
void select_params_free(struct select_params *p);
/* After SELECT/EXAMINE's untagged responses: the QRESYNC resync (VANISHED (EARLIER), then
 * FETCH of what changed), and the tagged OK with ok_text. */
void qresync_select(struct imap_session *s, const struct select_params *p, const char *ok_text);
/* "* VANISHED (EARLIER) ..." of the UIDs in uids (resolved) expunged with a MODSEQ above
 * modseq; when the expunge log does not reach back that far, every UID of uids above floor
 * and below the view's UIDNEXT that the view does not have. -1 when the index cannot be read. */
int qresync_vanished_earlier(struct imap_session *s, const struct imap_seqset *uids, uint64_t modseq,
                             uint32_t floor);
/* search.c (and search.h) */
void cmd_search(struct imap_session *s, struct imap_command *cmd, bool uid);
/* sort.c, thread.c (RFC 5256, RFC 5267 ESORT) on scan.c's job */
void cmd_sort(struct imap_session *s, struct imap_command *cmd, bool uid);
void cmd_thread(struct imap_session *s, struct imap_command *cmd, bool uid);
/* Forget a SORT or THREAD under way (the session ends). */
void scan_abort(struct imap_session *s);
/* idle.c */
void cmd_idle(struct imap_session *s, struct imap_command *cmd);
/* The line "DONE" (or anything) ends IDLE. */
void idle_input(struct imap_session *s, struct buf *line);
/* Once a second: the keepalive line of a quiet IDLE session. */
void idle_keepalive(struct imap_session *s);
/* watch.c: inotify on the index file of each user with sessions. */
struct watch *watch_new(struct imapd *d);
void watch_add(struct watch *w, struct imap_session *s);
void watch_remove(struct watch *w, struct imap_session *s);
/* Watch the selected folder's new/ and cur/ for files other programs put there; undone by
 * watch_unselect (view_free calls it). */
void watch_select(struct watch *w, struct imap_session *s, struct view *v);
void watch_unselect(struct view *v);
/* True when this process watches the folder's new/ and cur/ for s's user and no change of
 * them is pending (events read first): its index already matches its files, so SELECT
 * needs no directory scan. */
bool watch_folder_current(struct watch *w, struct imap_session *s, const char *mailbox);
/* A mailbox_sync of v's folder ran after its watches were in place. */
void watch_folder_synced(struct view *v);

#endif
