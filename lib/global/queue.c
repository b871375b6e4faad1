/* queue.c - queue file writer and reader (see queue.h, doc/queue-format.md). */
#include "queue.h"
#include "address.h"
#include "buf.h"
#include "fileio.h"
#include "mem.h"
#include <bsd/stdlib.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

const char *const queue_dirs[] = {QUEUE_TMP,  QUEUE_INCOMING, QUEUE_ACTIVE,    QUEUE_DEFERRED,
                                  QUEUE_HOLD, QUEUE_CORRUPT,  QUEUE_DEFER_LOG, NULL};

#define WRITE_BATCH (256 * 1024)

struct queue_writer {
    char *spool;
    char *tmp_path;
    char id[QUEUE_ID_SIZE];
    int fd;
    int error;        /* first errno of a failed write, 0 when fine */
    struct buf out;   /* pending bytes not yet written */
    struct buf chunk; /* body bytes not yet framed into a REC_BODY record */
    struct buf prepend; /* REC_PREPEND records, written at commit */
    off_t written;    /* bytes already in the file */
    size_t body_size;
    bool in_message;
};

/* Where the version record's one-byte payload is: it is the first record. */
#define VERSION_PAYLOAD_OFFSET QUEUE_REC_HEADER

bool queue_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n != QUEUE_ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)id[i]) || islower((unsigned char)id[i]))
            return false;
    return true;
}

char *queue_path(const char *spool, const char *queue, const char *id)
{
    return xasprintf("%s/%s/%s", spool, queue, id);
}

static void make_id(char id[QUEUE_ID_SIZE])
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    unsigned long long us = (unsigned long long)tv.tv_sec * 1000000ULL + (unsigned long long)tv.tv_usec;
    snprintf(id, QUEUE_ID_SIZE, "%013llX%05X", us & 0xFFFFFFFFFFFFFULL, arc4random_uniform(0x100000));
}

struct queue_writer *queue_create(const char *spool, char **err)
{
    struct queue_writer *w = xcalloc(1, sizeof *w);
    w->spool = xstrdup(spool);
    for (int tries = 0; tries < 10; tries++) {
        make_id(w->id);
        w->tmp_path = queue_path(spool, QUEUE_TMP, w->id);
        w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (w->fd >= 0)
            break;
        int e = errno;
        free(w->tmp_path);
        w->tmp_path = NULL;
        if (e != EEXIST) {
            *err = xasprintf("create queue file in %s/%s: %s", spool, QUEUE_TMP, strerror(e));
            free(w->spool);
            free(w);
            return NULL;
        }
    }
    if (w->fd < 0) {
        *err = xstrdup("cannot find a free queue ID");
        free(w->spool);
        free(w);
        return NULL;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char t[64];
    snprintf(t, sizeof t, "%lld.%06ld", (long long)tv.tv_sec, (long)tv.tv_usec);
    queue_put_str(w, REC_VERSION, "1");
    queue_put_str(w, REC_TIME, t);
    return w;
}

const char *queue_writer_id(const struct queue_writer *w) { return w->id; }
bool queue_failed(const struct queue_writer *w) { return w->error != 0; }
size_t queue_body_size(const struct queue_writer *w) { return w->body_size; }

static void flush_out(struct queue_writer *w)
{
    if (w->out.len == 0)
        return;
    if (!w->error && write_full(w->fd, w->out.data, w->out.len) < 0)
        w->error = errno;
    w->written += (off_t)w->out.len;
    buf_reset(&w->out);
}

static void frame(struct buf *out, int type, const void *data, size_t len)
{
    unsigned char hdr[QUEUE_REC_HEADER] = {(unsigned char)type, (unsigned char)(len >> 24),
                                           (unsigned char)(len >> 16), (unsigned char)(len >> 8),
                                           (unsigned char)len};
    buf_append(out, hdr, sizeof hdr);
    buf_append(out, data, len);
}

void queue_put(struct queue_writer *w, int type, const void *data, size_t len)
{
    frame(&w->out, type, data, len);
    if (w->out.len >= WRITE_BATCH)
        flush_out(w);
}

void queue_put_str(struct queue_writer *w, int type, const char *s)
{
    if (type == REC_SENDER) { /* the envelope holds canonical addresses (lib/mail/address.h) */
        char *q = address_requote(s);
        queue_put(w, type, q, strlen(q));
        free(q);
        return;
    }
    queue_put(w, type, s, strlen(s));
}

void queue_put_attr(struct queue_writer *w, const char *name, const char *value)
{
    struct buf b = BUF_INIT;
    buf_printf(&b, "%s=%s", name, value);
    queue_put(w, REC_ATTR, b.data, b.len);
    buf_free(&b);
}

void queue_put_rcpt(struct queue_writer *w, const char *addr, const char *orcpt, const char *notify)
{
    struct buf b = BUF_INIT;
    char *q = address_requote(addr);
    buf_puts(&b, q);
    free(q);
    buf_putc(&b, 0);
    buf_puts(&b, orcpt ? orcpt : "");
    buf_putc(&b, 0);
    buf_puts(&b, notify ? notify : "");
    queue_put(w, REC_RCPT, b.data, b.len);
    buf_free(&b);
}

void queue_begin_message(struct queue_writer *w)
{
    queue_put(w, REC_MESSAGE, "", 0);
    w->in_message = true;
}

void queue_write_body(struct queue_writer *w, const void *data, size_t len)
{
    const char *p = data;
    w->body_size += len;
    while (len > 0) {
        size_t room = QUEUE_CHUNK - w->chunk.len;
        size_t take = len < room ? len : room;
        buf_append(&w->chunk, p, take);
        p += take;
        len -= take;
        if (w->chunk.len == QUEUE_CHUNK) {
            queue_put(w, REC_BODY, w->chunk.data, w->chunk.len);
            buf_reset(&w->chunk);
        }
    }
}

/* The pending content chunk becomes a REC_BODY record. */
static void frame_chunk(struct queue_writer *w)
{
    if (w->chunk.len) {
        queue_put(w, REC_BODY, w->chunk.data, w->chunk.len);
        buf_reset(&w->chunk);
    }
}

int queue_writer_reader(struct queue_writer *w, char **err)
{
    frame_chunk(w);
    flush_out(w);
    if (w->error) {
        *err = xasprintf("write queue file %s: %s", w->id, strerror(w->error));
        return -1;
    }
    int fd = open(w->tmp_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        *err = xasprintf("open queue file %s for reading: %s", w->id, strerror(errno));
    return fd;
}

void queue_prepend(struct queue_writer *w, const char *text, size_t len)
{
    if (len > QUEUE_ENVELOPE_MAX) {
        if (!w->error)
            w->error = EMSGSIZE;
        return;
    }
    frame(&w->prepend, REC_PREPEND, text, len);
    w->body_size += len;
}

/* A file with REC_PREPEND records says version 2 (doc/queue-format.md, "Versions"). The
 * version record is the first one: still in the output buffer, or already in the file. */
static void set_version_2(struct queue_writer *w)
{
    if (w->written == 0) {
        w->out.data[VERSION_PAYLOAD_OFFSET] = '2';
        return;
    }
    if (!w->error && pwrite(w->fd, "2", 1, VERSION_PAYLOAD_OFFSET) != 1)
        w->error = errno ? errno : EIO;
}

static void writer_free(struct queue_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    buf_free(&w->out);
    buf_free(&w->chunk);
    buf_free(&w->prepend);
    free(w->tmp_path);
    free(w->spool);
    free(w);
}

void queue_abort(struct queue_writer *w)
{
    if (w->tmp_path)
        unlink(w->tmp_path);
    writer_free(w);
}

int queue_commit(struct queue_writer *w, bool sync_dir, char **err)
{
    return queue_commit_to(w, QUEUE_INCOMING, sync_dir, err);
}

int queue_commit_to(struct queue_writer *w, const char *queue, bool sync_dir, char **err)
{
    frame_chunk(w);
    if (w->prepend.len) {
        set_version_2(w);
        buf_append(&w->out, w->prepend.data, w->prepend.len);
    }
    queue_put(w, REC_END, "", 0);
    flush_out(w);
    if (!w->error && fsync(w->fd) < 0)
        w->error = errno;
    if (close(w->fd) < 0 && !w->error)
        w->error = errno;
    w->fd = -1;
    if (w->error) {
        *err = xasprintf("write queue file %s: %s", w->id, strerror(w->error));
        queue_abort(w);
        return -1;
    }
    char *final = queue_path(w->spool, queue, w->id);
    /* Never replace an existing queue file: RENAME_NOREPLACE fails on a (vanishingly rare)
     * ID collision instead of silently losing the other message. */
    if (renameat2(AT_FDCWD, w->tmp_path, AT_FDCWD, final, RENAME_NOREPLACE) < 0) {
        *err = xasprintf("rename queue file %s: %s", w->id, strerror(errno));
        free(final);
        queue_abort(w);
        return -1;
    }
    free(w->tmp_path);
    w->tmp_path = NULL;
    int rc = 0;
    if (sync_dir && fsync_parent(final) < 0) {
        /* The file may not survive power loss: not acknowledged, so it must not stay
         * either (the caller tries again; doc/queue-format.md, Writing, step 5). */
        *err = xasprintf("fsync %s/%s: %s", w->spool, queue, strerror(errno));
        unlink(final);
        rc = -1;
    }
    free(final);
    writer_free(w);
    return rc;
}

/* --- reading --- */

static int rd_err(char **err, const char *id, const char *what, off_t off)
{
    *err = xasprintf("queue file %s: %s at offset %lld", id, what, (long long)off);
    return -1;
}

void queue_msg_free(struct queue_msg *m)
{
    free(m->sender);
    for (size_t i = 0; i < m->nattrs; i++) {
        free(m->attrs[i].name);
        free(m->attrs[i].value);
    }
    free(m->attrs);
    for (size_t i = 0; i < m->nrcpts; i++) {
        free(m->rcpts[i].addr);
        free(m->rcpts[i].orcpt);
        free(m->rcpts[i].notify);
    }
    free(m->rcpts);
    memset(m, 0, sizeof *m);
}

static int parse_rcpt(struct queue_msg *m, const char *data, size_t len, off_t off, bool done)
{
    const char *f[3];
    size_t n = 0;
    const char *p = data, *end = data + len;
    f[n++] = p;
    for (; p < end; p++)
        if (*p == 0) {
            if (n == 3)
                return -1;
            f[n++] = p + 1;
        }
    if (n != 3)
        return -1;
    m->rcpts = xreallocarray(m->rcpts, m->nrcpts + 1, sizeof *m->rcpts);
    struct queue_rcpt *r = &m->rcpts[m->nrcpts++];
    r->addr = xstrdup(f[0]);
    r->orcpt = xstrdup(f[1]);
    r->notify = xstrndup(f[2], (size_t)(end - f[2]));
    r->offset = off;
    r->done = done;
    return 0;
}

static int envelope_record(struct queue_msg *m, int type, char *data, size_t len, off_t off,
                           char **err)
{
    bool has_nul = memchr(data, 0, len) != NULL;
    if (type != REC_RCPT && type != REC_DONE && has_nul)
        return rd_err(err, m->id, "NUL byte in record", off);
    switch (type) {
    case REC_VERSION:
        if (m->version != 0)
            return rd_err(err, m->id, "second version record", off);
        if (strcmp(data, "1") != 0 && strcmp(data, "2") != 0)
            return rd_err(err, m->id, "unsupported version", off);
        m->version = data[0] - '0';
        return 0;
    case REC_TIME: {
        char *dot;
        m->arrival_sec = strtoll(data, &dot, 10);
        m->arrival_usec = *dot == '.' ? strtol(dot + 1, NULL, 10) : 0;
        return 0;
    }
    case REC_SENDER:
        if (m->sender)
            return rd_err(err, m->id, "second sender record", off);
        m->sender = xstrdup(data);
        return 0;
    case REC_ATTR: {
        char *eq = strchr(data, '=');
        if (!eq)
            return rd_err(err, m->id, "attribute without '='", off);
        m->attrs = xreallocarray(m->attrs, m->nattrs + 1, sizeof *m->attrs);
        m->attrs[m->nattrs].name = xstrndup(data, (size_t)(eq - data));
        m->attrs[m->nattrs++].value = xstrdup(eq + 1);
        return 0;
    }
    case REC_RCPT:
    case REC_DONE:
        if (parse_rcpt(m, data, len, off, type == REC_DONE) < 0)
            return rd_err(err, m->id, "malformed recipient record", off);
        return 0;
    default:
        return rd_err(err, m->id, "unknown record type", off);
    }
}

/* Where a reader is in the file: V and the envelope, then the content (REC_BODY records),
 * then REC_PREPEND records (version 2), then END. */
enum read_state { ENVELOPE, CONTENT, PREPEND, ENDED };

/* One record after REC_MESSAGE. A draft (a file being written) holds content only. */
static int content_record(struct queue_msg *m, enum read_state *state, int type, size_t len,
                          off_t off, bool draft, char **err)
{
    if (type == REC_BODY && *state == CONTENT) {
        if (len > QUEUE_CHUNK)
            return rd_err(err, m->id, "content record too long", off);
        m->body_size += len;
        m->body_end = off + QUEUE_REC_HEADER + (off_t)len;
        return 0;
    }
    if (type == REC_PREPEND && m->version >= 2 && !draft) {
        if (len > QUEUE_ENVELOPE_MAX)
            return rd_err(err, m->id, "prepended header record too long", off);
        if (*state == CONTENT)
            m->prepend_offset = off;
        *state = PREPEND;
        m->body_size += len;
        return 0;
    }
    if (type == REC_END && !draft) {
        *state = ENDED;
        return 0;
    }
    return rd_err(err, m->id, draft ? "unexpected record in a file being written"
                                    : "unexpected record in message content", off);
}

/* An envelope record: read its payload and check it. */
static int envelope_at(int fd, struct queue_msg *m, int type, size_t len, off_t off,
                       char **data, char **err)
{
    if (len > QUEUE_ENVELOPE_MAX)
        return rd_err(err, m->id, "envelope record too long", off);
    *data = xrealloc(*data, len + 1);
    if (pread(fd, *data, len, off + QUEUE_REC_HEADER) != (ssize_t)len)
        return rd_err(err, m->id, "short read", off);
    (*data)[len] = 0;
    return envelope_record(m, type, *data, len, off, err);
}

static int read_file_records(int fd, const char *id, struct queue_msg *m, bool draft, char **err)
{
    memset(m, 0, sizeof *m);
    snprintf(m->id, sizeof m->id, "%s", id);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return rd_err(err, id, strerror(errno), 0);
    m->file_size = st.st_size;
    off_t off = 0;
    enum read_state state = ENVELOPE;
    char *data = NULL;
    int rc = -1;
    while (off < st.st_size) {
        unsigned char h[QUEUE_REC_HEADER];
        if (off + QUEUE_REC_HEADER > st.st_size || pread(fd, h, sizeof h, off) != sizeof h) {
            rd_err(err, id, "truncated record header", off);
            goto out;
        }
        size_t len = ((size_t)h[1] << 24) | ((size_t)h[2] << 16) | ((size_t)h[3] << 8) | h[4];
        off_t payload = off + QUEUE_REC_HEADER;
        int type = h[0];
        if ((off_t)len > st.st_size - payload)
            rd_err(err, id, "record longer than file", off);
        else if (state == ENDED)
            rd_err(err, id, "data after END record", off);
        else if (m->version == 0 && type != REC_VERSION)
            rd_err(err, id, "missing version record", off);
        else if (state != ENVELOPE) {
            if (content_record(m, &state, type, len, off, draft, err) == 0)
                goto next;
        } else if (type == REC_MESSAGE) {
            state = CONTENT;
            m->body_offset = m->body_end = payload + (off_t)len;
            goto next;
        } else if (type == REC_END || type == REC_BODY || type == REC_PREPEND)
            rd_err(err, id, "content record before message start", off);
        else if (envelope_at(fd, m, type, len, off, &data, err) == 0)
            goto next;
        goto out;
    next:
        off = payload + (off_t)len;
    }
    if (draft ? state != CONTENT : state != ENDED)
        rd_err(err, id, draft ? "no message content" : "missing END record", off);
    else if (m->sender == NULL)
        rd_err(err, id, "missing sender record", off);
    else
        rc = 0;
out:
    free(data);
    if (rc < 0)
        queue_msg_free(m);
    return rc;
}

int queue_read(int fd, const char *id, struct queue_msg *m, char **err)
{
    return read_file_records(fd, id, m, false, err);
}

int queue_read_draft(int fd, const char *id, struct queue_msg *m, char **err)
{
    return read_file_records(fd, id, m, true, err);
}

const char *queue_msg_attr(const struct queue_msg *m, const char *name)
{
    for (size_t i = 0; i < m->nattrs; i++)
        if (strcmp(m->attrs[i].name, name) == 0)
            return m->attrs[i].value;
    return NULL;
}

size_t queue_msg_pending(const struct queue_msg *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nrcpts; i++)
        n += !m->rcpts[i].done;
    return n;
}

void queue_body_start(const struct queue_msg *m, struct queue_body_cursor *c)
{
    c->in_prepend = m->prepend_offset != 0;
    c->rec = c->in_prepend ? m->prepend_offset : m->body_offset;
    c->done = 0;
}

/* The next piece of the REC_PREPEND records (read in QUEUE_CHUNK pieces: they may be up
 * to QUEUE_ENVELOPE_MAX); 0 once they end, with the cursor moved to the body. */
static int prepend_next(int fd, const struct queue_msg *m, struct queue_body_cursor *c,
                        char *chunk, size_t *len, char **err)
{
    for (;;) {
        unsigned char h[QUEUE_REC_HEADER];
        if (pread(fd, h, sizeof h, c->rec) != sizeof h)
            return rd_err(err, m->id, "truncated content", c->rec);
        size_t n = ((size_t)h[1] << 24) | ((size_t)h[2] << 16) | ((size_t)h[3] << 8) | h[4];
        if (h[0] != REC_PREPEND)
            return 0;
        if (n > QUEUE_ENVELOPE_MAX)
            return rd_err(err, m->id, "bad content record", c->rec);
        size_t piece = n - c->done < QUEUE_CHUNK ? n - c->done : QUEUE_CHUNK;
        if (piece == 0) {
            c->rec += QUEUE_REC_HEADER + (off_t)n;
            c->done = 0;
            continue;
        }
        off_t at = c->rec + QUEUE_REC_HEADER + (off_t)c->done;
        if (pread(fd, chunk, piece, at) != (ssize_t)piece)
            return rd_err(err, m->id, "short content read", at);
        c->done += piece;
        *len = piece;
        return 1;
    }
}

int queue_body_next(int fd, const struct queue_msg *m, struct queue_body_cursor *c, char *chunk,
                    size_t *len, char **err)
{
    if (c->in_prepend) {
        int r = prepend_next(fd, m, c, chunk, len, err);
        if (r != 0)
            return r;
        c->in_prepend = false;
        c->rec = m->body_offset;
        c->done = 0;
    }
    if (c->rec >= m->body_end)
        return 0;
    unsigned char h[QUEUE_REC_HEADER];
    if (pread(fd, h, sizeof h, c->rec) != sizeof h)
        return rd_err(err, m->id, "truncated content", c->rec);
    size_t n = ((size_t)h[1] << 24) | ((size_t)h[2] << 16) | ((size_t)h[3] << 8) | h[4];
    if (h[0] != REC_BODY || n > QUEUE_CHUNK)
        return rd_err(err, m->id, "bad content record", c->rec);
    if (pread(fd, chunk, n, c->rec + QUEUE_REC_HEADER) != (ssize_t)n)
        return rd_err(err, m->id, "short content read", c->rec);
    c->rec += QUEUE_REC_HEADER + (off_t)n;
    *len = n;
    return 1;
}

int queue_read_body(int fd, const struct queue_msg *m,
                    int (*fn)(void *ctx, const char *data, size_t len), void *ctx, char **err)
{
    char *chunk = xmalloc(QUEUE_CHUNK);
    struct queue_body_cursor c;
    queue_body_start(m, &c);
    size_t len;
    int r;
    while ((r = queue_body_next(fd, m, &c, chunk, &len, err)) > 0) {
        if (fn(ctx, chunk, len) < 0) {
            r = -1;
            *err = NULL;
            break;
        }
    }
    free(chunk);
    return r < 0 ? -1 : 0;
}

int queue_mark_done(int fd, struct queue_rcpt *r)
{
    char t = REC_DONE;
    if (pwrite(fd, &t, 1, r->offset) != 1)
        return -1;
    r->done = true;
    return 0;
}
