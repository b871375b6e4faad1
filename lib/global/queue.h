/* queue.h - queue IDs, queue file writing and reading, spool layout.
 * The format is documented in doc/queue-format.md. Writers create the file under
 * QUEUE_TMP with O_EXCL, stream records into it, then queue_commit() writes the END record,
 * flushes, fsyncs, closes (checked), renames into incoming/ without replacing anything and
 * fsyncs the directory: only then may a receiver answer 250. Readers check every record and
 * fail closed on anything short, unknown or missing END.
 *
 * Header fields that must come before the content but are only known once it is written
 * (DKIM signatures, doc/dkim.md) are REC_PREPEND records after the content; the reader
 * hands them out first, so every consumer sees them in front of the message. A file with
 * such records says version 2, one without stays version 1. */
#ifndef POSTHORN_QUEUE_H
#define POSTHORN_QUEUE_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define QUEUE_ID_LEN 18 /* 13 hex digits of microseconds, 5 of randomness */
#define QUEUE_ID_SIZE (QUEUE_ID_LEN + 1)

#define QUEUE_TMP "tmp"
#define QUEUE_INCOMING "incoming"
#define QUEUE_ACTIVE "active"
#define QUEUE_DEFERRED "deferred"
#define QUEUE_HOLD "hold"
#define QUEUE_CORRUPT "corrupt"
#define QUEUE_DEFER_LOG "defer" /* per-message defer reasons and back-off state */

/* Record types. */
enum {
    REC_VERSION = 'V',  /* "1" */
    REC_TIME = 'T',     /* arrival "SECONDS.MICROSECONDS" */
    REC_SENDER = 'S',   /* envelope sender, "" for the null sender */
    REC_ATTR = 'A',     /* "name=value" */
    REC_RCPT = 'R',     /* pending recipient: "address\0orcpt\0notify" */
    REC_DONE = 'D',     /* recipient finished (R rewritten in place) */
    REC_MESSAGE = 'M',  /* start of message content (empty) */
    REC_BODY = 'B',     /* a chunk of message content, at most QUEUE_CHUNK bytes */
    REC_PREPEND = 'H',  /* header field(s) delivered before the content (version 2) */
    REC_END = 'E',      /* required last record (empty) */
};
#define QUEUE_CHUNK 65536
#define QUEUE_REC_HEADER 5 /* type byte + 4-byte big-endian length */
#define QUEUE_ENVELOPE_MAX (1024 * 1024) /* longest envelope or REC_PREPEND record */

/* Spool subdirectories created by posthorn init and checked by posthorn check. */
extern const char *const queue_dirs[];

bool queue_id_valid(const char *id);
/* "SPOOL/QUEUE/ID", malloc'ed. */
char *queue_path(const char *spool, const char *queue, const char *id);

/* --- writing --- */
struct queue_writer;
/* Start a new queue file; the chosen ID is available from queue_writer_id(). NULL + err. */
struct queue_writer *queue_create(const char *spool, char **err);
const char *queue_writer_id(const struct queue_writer *w);
void queue_put(struct queue_writer *w, int type, const void *data, size_t len);
/* A REC_SENDER string, like queue_put_rcpt's addr, is stored in the canonical address form
 * (address_requote(), lib/mail/address.h): quoted local parts stay quoted. */
void queue_put_str(struct queue_writer *w, int type, const char *s);
void queue_put_attr(struct queue_writer *w, const char *name, const char *value);
void queue_put_rcpt(struct queue_writer *w, const char *addr, const char *orcpt,
                    const char *notify);
/* Message content: call queue_begin_message once, then queue_write_body any number of times. */
void queue_begin_message(struct queue_writer *w);
void queue_write_body(struct queue_writer *w, const void *data, size_t len);
/* Bytes of content written so far (REC_PREPEND fields included). */
size_t queue_body_size(const struct queue_writer *w);
/* Flush everything written so far (the content as REC_BODY records) and open the file
 * being written once more, read-only, for a reader such as the DKIM signer (which reads it
 * with queue_read_draft()). The caller closes the descriptor. -1 with *err. */
int queue_writer_reader(struct queue_writer *w, char **err);
/* After the content: header field(s) text[0..len) (LF line ends, folded lines included,
 * ending in LF) that readers deliver before the content, in the order of the calls.
 * Written as a REC_PREPEND record at commit; the file becomes version 2. At most
 * QUEUE_ENVELOPE_MAX bytes per call (longer is a write failure). */
void queue_prepend(struct queue_writer *w, const char *text, size_t len);
/* True once any write failed (e.g. ENOSPC); the reason is kept for queue_commit. */
bool queue_failed(const struct queue_writer *w);
/* Durably move the file to incoming/. Returns 0, or -1 with *err set (the writer is then
 * freed and the temp file removed). With sync_dir false the caller must fsync_dir() the
 * incoming directory itself before acknowledging (used to batch concurrent commits). */
int queue_commit(struct queue_writer *w, bool sync_dir, char **err);
/* The same into queue (QUEUE_INCOMING, or QUEUE_HOLD for mail an operator must release). */
int queue_commit_to(struct queue_writer *w, const char *queue, bool sync_dir, char **err);
void queue_abort(struct queue_writer *w);

/* --- reading --- */
struct queue_rcpt {
    char *addr;
    char *orcpt;   /* RFC 3461 ORCPT as received ("rfc822;a@b"), or "" */
    char *notify;  /* "SUCCESS,DELAY,FAILURE", "NEVER" or "" */
    off_t offset;  /* of the record, for queue_mark_done */
    bool done;
};

struct queue_attr {
    char *name;
    char *value;
};

struct queue_msg {
    char id[QUEUE_ID_SIZE];
    int version;       /* 1, or 2 when REC_PREPEND records may be present */
    char *sender;
    long long arrival_sec;
    long arrival_usec;
    struct queue_attr *attrs;
    size_t nattrs;
    struct queue_rcpt *rcpts;
    size_t nrcpts;
    off_t body_offset; /* offset of the first record after REC_MESSAGE */
    off_t body_end;    /* offset just after the last REC_BODY record */
    off_t prepend_offset; /* offset of the first REC_PREPEND record, 0 when none */
    size_t body_size;  /* total content bytes, REC_PREPEND fields included */
    off_t file_size;
};

/* Parse and check the whole file open at fd (from offset 0). Returns 0, or -1 with *err. */
int queue_read(int fd, const char *id, struct queue_msg *m, char **err);
/* The same for a file still being written (queue_writer_reader()): everything up to and
 * including the content so far, which must end the file: no END, no REC_PREPEND. */
int queue_read_draft(int fd, const char *id, struct queue_msg *m, char **err);
const char *queue_msg_attr(const struct queue_msg *m, const char *name);
size_t queue_msg_pending(const struct queue_msg *m);
/* Stream the content to fn(ctx, data, len), REC_PREPEND fields first; fn returns 0 to go
 * on, -1 to stop. */
int queue_read_body(int fd, const struct queue_msg *m,
                    int (*fn)(void *ctx, const char *data, size_t len), void *ctx, char **err);
/* A reader that paces itself (the SMTP client's DATA): queue_body_start, then
 * queue_body_next until it returns 0. Each call puts the next piece of content (REC_PREPEND
 * fields first, then the REC_BODY records) into chunk (QUEUE_CHUNK bytes): 1 with *len
 * bytes, 0 at the end of the content, -1 with *err. */
struct queue_body_cursor {
    off_t rec;       /* offset of the record being read */
    size_t done;     /* bytes of a REC_PREPEND record already handed out */
    bool in_prepend; /* still in the REC_PREPEND records */
};
void queue_body_start(const struct queue_msg *m, struct queue_body_cursor *c);
int queue_body_next(int fd, const struct queue_msg *m, struct queue_body_cursor *c, char *chunk,
                    size_t *len, char **err);
/* Mark a recipient record done in place (does not fsync; the caller fdatasyncs once). */
int queue_mark_done(int fd, struct queue_rcpt *r);
void queue_msg_free(struct queue_msg *m);

#endif
