/* scan.c - the search and key reading of SORT and THREAD, a slice at a time (see scan.h). */
#include "scan.h"
#include "event.h"
#include "log.h"
#include "mem.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCAN_SLICE_MS 10 /* work before the event loop serves the other sessions */

struct scan_job {
    struct imap_session *s;
    struct search_program *prog;
    unsigned need;
    size_t next;               /* the next view position */
    struct scan_msg *msgs;
    size_t n, cap;
    scan_done_fn done;
    void (*free_ctx)(void *ctx);
    void *ctx;
    unsigned long timer;
    char tag[IMAP_TAG_MAX + 1];
};

static void job_free(struct scan_job *j)
{
    for (size_t i = 0; i < j->n; i++)
        scan_msg_free(&j->msgs[i]);
    free(j->msgs);
    search_free(j->prog);
    if (j->free_ctx)
        j->free_ctx(j->ctx);
    free(j);
}

void scan_abort(struct imap_session *s)
{
    struct scan_job *j = s->scanning;
    if (!j)
        return;
    if (j->timer)
        event_timer_cancel(s->d->srv->loop, j->timer);
    s->scanning = NULL;
    job_free(j);
}

/* Where the header section of t[0..len) ends (its empty line), or 0 when it does not. */
static size_t header_end(const char *t, size_t len)
{
    for (const char *p = t; (p = memchr(p, '\n', (size_t)(t + len - p))) != NULL; p++) {
        if (p + 1 < t + len && p[1] == '\n')
            return (size_t)(p + 1 - t);
        if (p + 2 < t + len && p[1] == '\r' && p[2] == '\n')
            return (size_t)(p + 1 - t);
    }
    return 0;
}

/* The header section of a message of the view, at most limit bytes; false when the message
 * cannot be read (expunged meanwhile: its keys are then empty). */
static bool read_header(struct imap_session *s, uint32_t uid, size_t limit, struct buf *out)
{
    struct mailbox_msg mm;
    char *err = NULL;
    int fd = -1;
    if (mailbox_lookup(s->mu, s->view->name, uid, &mm, &err) == 1) {
        fd = mailbox_open_message(s->mu, s->view->name, &mm, &err);
        mailbox_msg_free(&mm);
    }
    if (fd < 0) {
        if (err && errno != ENOENT)
            log_warn("%s: %s: SORT UID %u: %s, session=<%s>", s->user, s->view->name, uid, err, s->id);
        free(err);
        return false;
    }
    free(err);
    char tmp[8192];
    ssize_t n = 0;
    size_t end = 0;
    while (out->len < limit && (n = read(fd, tmp, sizeof tmp)) > 0) {
        size_t from = out->len > 2 ? out->len - 2 : 0;
        buf_append(out, tmp, (size_t)n);
        if ((end = header_end(out->data + from, out->len - from)) != 0) {
            end += from;
            break;
        }
    }
    close(fd);
    size_t keep = end ? end : out->len;
    buf_truncate(out, keep < limit ? keep : limit);
    return n >= 0;
}

static void one(struct scan_job *j)
{
    struct imap_session *s = j->s;
    size_t pos = j->next++;
    struct search_text t = {.text = BUF_INIT};
    if (search_match(j->prog, s, pos, &t)) {
        const struct view_msg *vm = &s->view->msgs[pos];
        size_t limit = s->d->p.sort_header_limit;
        struct buf hdr = BUF_INIT;
        const char *h = "";
        size_t hlen = 0;
        if (t.loaded) { /* a key read the whole message: its header is there */
            size_t end = header_end(t.text.data ? t.text.data : "", t.text.len);
            h = t.text.data ? t.text.data : "";
            hlen = end ? end : t.text.len;
            hlen = hlen < limit ? hlen : limit;
        } else if (j->need && read_header(s, vm->uid, limit, &hdr)) {
            h = hdr.data ? hdr.data : "";
            hlen = hdr.len;
        }
        if (j->n == j->cap)
            j->msgs = xreallocarray(j->msgs, j->cap = j->cap ? j->cap * 2 : 64, sizeof *j->msgs);
        struct scan_msg *m = &j->msgs[j->n++];
        *m = (struct scan_msg){.pos = pos};
        scan_keys(m, j->need, h, hlen, vm->internaldate, s->d->p.sort_key_limit);
        buf_free(&hdr);
    }
    buf_free(&t.text);
}

/* One slice; true when the mailbox is done. */
static bool slice(struct scan_job *j)
{
    long long start = event_now_ms();
    while (j->next < j->s->view->n) {
        one(j);
        if (event_now_ms() - start >= SCAN_SLICE_MS)
            break;
    }
    return j->next >= j->s->view->n;
}

static void finish(struct scan_job *j)
{
    struct imap_session *s = j->s;
    s->scanning = NULL;
    snprintf(s->tag, sizeof s->tag, "%s", j->tag);
    j->done(s, j->msgs, j->n, j->ctx);
    job_free(j);
}

static void resume(struct event_loop *loop, void *ctx)
{
    struct scan_job *j = ctx;
    struct imap_session *s = j->s;
    j->timer = 0;
    if (!slice(j)) {
        j->timer = event_timer(loop, 1, resume, j);
        return;
    }
    finish(j);
    struct sess *ss = s->sess;
    sess_process(ss); /* the commands that waited */
    sess_reap(ss);
}

void scan_start(struct imap_session *s, struct search_program *prog, unsigned need,
                scan_done_fn done, void (*free_ctx)(void *ctx), void *ctx)
{
    struct scan_job *j = xcalloc(1, sizeof *j);
    *j = (struct scan_job){.s = s, .prog = prog, .need = need, .done = done, .free_ctx = free_ctx,
                           .ctx = ctx};
    snprintf(j->tag, sizeof j->tag, "%s", s->tag);
    s->scanning = j;
    if (slice(j))
        finish(j);
    else /* 1 ms, not 0: the loop then looks at the other descriptors first */
        j->timer = event_timer(s->d->srv->loop, 1, resume, j);
}
