/* dkim_client.c - the client side of the dkim-signer service (see dkim_client.h and
 * doc/ipc.md, "dkim"): one connection per message; the server announces protocol=dkim,
 * the client sends request=sign with the queue file's descriptor attached, the server
 * answers once. Answers are checked strictly; anything unexpected counts as a failure. */
#include "dkim_client.h"
#include "fdpass.h"
#include "ipc.h"
#include "log.h"
#include "mem.h"
#include "unixsock.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SIGNATURES 16 /* the most dkim_max_signatures allows */

void dkim_client_init(struct dkim_client *dc, struct config *cfg, const char *spool)
{
    memset(dc, 0, sizeof *dc);
    snprintf(dc->path, sizeof dc->path, "%s/%s", spool, DKIM_SOCKET);
    snprintf(dc->keydir, sizeof dc->keydir, "%s", config_str(cfg, PARAM(dkim_key_directory)));
    dc->timeout_ms = (int)config_int(cfg, PARAM(dkim_signer_timeout)) * 1000;
    dc->tempfail = config_enum(cfg, PARAM(dkim_failure_policy)) == 0;
}

void dkim_answer_free(struct dkim_answer *a)
{
    free(a->fields);
    free(a->reason);
    memset(a, 0, sizeof *a);
}

static void answer(struct dkim_answer *a, enum dkim_result r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void answer(struct dkim_answer *a, enum dkim_result r, const char *fmt, ...)
{
    dkim_answer_free(a);
    a->result = r;
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    a->reason = buf_steal(&b);
}

/* Without a key directory no domain has keys: nothing to ask. */
static bool no_keys(const struct dkim_client *dc, struct dkim_answer *a)
{
    struct stat st;
    if (stat(dc->keydir, &st) == 0 || errno != ENOENT)
        return false;
    answer(a, DKIM_UNSIGNED, "no dkim_key_directory");
    return true;
}

/* Only the attributes of the status, each once (ipc_decode refuses repeats). */
static bool only_known(const struct attrs *r, const char *const *plain)
{
    size_t k;
    for (size_t i = 0; i < r->n; i++) {
        bool ok = attrs_name_indexed(r->v[i].name, "sig", &k);
        for (const char *const *p = plain; *p && !ok; p++)
            ok = strcmp(r->v[i].name, *p) == 0;
        if (!ok)
            return false;
    }
    return true;
}

static void parse_signed(const struct attrs *r, struct dkim_answer *a)
{
    static const char *const known[] = {"status", "nsig", NULL};
    long long n;
    size_t count;
    char *err = NULL;
    if (!only_known(r, known) || !attrs_get_ll(r, "nsig", &n) || n < 1 || n > MAX_SIGNATURES ||
        attrs_group_count(r, "sig", &count, &err) < 0 || count != (size_t)n) {
        answer(a, DKIM_FAILED, "malformed answer from the signer%s%s", err ? ": " : "", err ? err : "");
        free(err);
        return;
    }
    struct buf fields = BUF_INIT;
    for (size_t i = 0; i < count; i++) {
        const char *f = attrs_get_indexed(r, "sig", i);
        size_t len = strlen(f);
        if (strncasecmp(f, "DKIM-Signature:", 15) != 0 || len < 16 || f[len - 1] != '\n') {
            buf_free(&fields);
            answer(a, DKIM_FAILED, "malformed signature field from the signer");
            return;
        }
        buf_append(&fields, f, len);
    }
    dkim_answer_free(a);
    a->result = DKIM_SIGNED;
    a->nsig = count;
    a->fields = buf_steal(&fields);
}

/* The answer to request=sign (doc/ipc.md, "dkim"). */
static void parse_reply(const struct attrs *r, struct dkim_answer *a)
{
    static const char *const with_reason[] = {"status", "reason", NULL};
    const char *status = attrs_get(r, "status"), *reason = attrs_get(r, "reason");
    if (status && strcmp(status, "signed") == 0)
        parse_signed(r, a);
    else if (status && strcmp(status, "unsigned") == 0 && reason && only_known(r, with_reason))
        answer(a, DKIM_UNSIGNED, "%s", reason);
    else if (status && strcmp(status, "error") == 0 && reason && only_known(r, with_reason))
        answer(a, DKIM_FAILED, "signer: %s", reason);
    else
        answer(a, DKIM_FAILED, "malformed answer from the signer");
}

static void request_attrs(struct attrs *req, const char *queue_id)
{
    memset(req, 0, sizeof *req);
    attrs_add(req, "request", "sign");
    attrs_add(req, "queue_id", queue_id);
}

void dkim_sign_fd(const struct dkim_client *dc, int qfd, const char *queue_id,
                  struct dkim_answer *a)
{
    memset(a, 0, sizeof *a);
    if (no_keys(dc, a))
        return;
    int fd = ipc_connect(dc->path);
    if (fd < 0) {
        answer(a, DKIM_FAILED, "connect %s: %s", dc->path, strerror(errno));
        return;
    }
    struct ipc_conn c;
    ipc_conn_init(&c, fd, dc->timeout_ms);
    struct attrs req, rep = {0};
    request_attrs(&req, queue_id);
    char *err = NULL;
    if (ipc_send(&c, &req, qfd) < 0)
        answer(a, DKIM_FAILED, "sending to the signer: %s", strerror(errno));
    else if (ipc_expect(&c, "dkim", &err) < 0 || ipc_recv(&c, &rep, &err) <= 0)
        answer(a, DKIM_FAILED, "no answer from the signer: %s", err ? err : "connection closed");
    else
        parse_reply(&rep, a);
    free(err);
    attrs_free(&req);
    attrs_free(&rep);
    ipc_conn_close(&c);
}

/* --- applying the answer to a queue writer --- */

static int apply(const struct dkim_client *dc, struct queue_writer *w, struct dkim_answer *a,
                 char **err)
{
    const char *id = queue_writer_id(w);
    if (a->result == DKIM_SIGNED) {
        queue_prepend(w, a->fields, strlen(a->fields));
        return 0;
    }
    if (a->result == DKIM_UNSIGNED)
        return 0;
    if (!dc->tempfail) {
        log_warn("%s: DKIM signing failed: %s; queued unsigned (dkim_failure_policy = unsigned)",
                 id, a->reason);
        return 0;
    }
    log_warn("%s: DKIM signing failed: %s; not queued (dkim_failure_policy = tempfail)", id,
             a->reason);
    *err = xasprintf("DKIM signing failed: %s", a->reason);
    return -1;
}

int dkim_sign_writer(const struct dkim_client *dc, struct queue_writer *w, char **err)
{
    int qfd = queue_writer_reader(w, err);
    if (qfd < 0)
        return -1;
    struct dkim_answer a;
    dkim_sign_fd(dc, qfd, queue_writer_id(w), &a);
    close(qfd);
    int rc = apply(dc, w, &a, err);
    dkim_answer_free(&a);
    return rc;
}

/* --- asynchronous --- */

struct dkim_sign_req {
    struct dkim_client dc;
    struct event_loop *loop;
    int fd;
    bool greeted;
    struct buf in;
    unsigned long timer;
    struct dkim_answer answer;
    dkim_answer_fn fn;           /* asking only */
    struct queue_writer *w;      /* the whole step: */
    dkim_writer_fn wfn;
    void *ctx;
};

static void release(struct dkim_sign_req *r)
{
    if (r->fd >= 0) {
        event_del(r->loop, r->fd);
        close(r->fd);
        r->fd = -1;
    }
    if (r->timer)
        event_timer_cancel(r->loop, r->timer);
    r->timer = 0;
    buf_free(&r->in);
}

/* The answer is known: hand it over and forget the request. */
static void finish(struct dkim_sign_req *r)
{
    release(r);
    if (r->w) {
        char *err = NULL;
        int rc = apply(&r->dc, r->w, &r->answer, &err);
        r->wfn(r->ctx, rc, err);
        free(err);
        dkim_answer_free(&r->answer);
    } else {
        r->fn(r->ctx, &r->answer); /* the answer is the callee's now */
    }
    free(r);
}

static void on_timer(struct event_loop *loop, void *ctx)
{
    (void)loop;
    struct dkim_sign_req *r = ctx;
    r->timer = 0;
    if (r->fd >= 0) /* still waiting: this is the timeout */
        answer(&r->answer, DKIM_FAILED, "no answer from the signer within dkim_signer_timeout");
    finish(r);
}

/* One message from the signer: the announcement, then the answer. 1 when done. */
static int handle(struct dkim_sign_req *r, const struct attrs *a)
{
    if (!r->greeted) {
        const char *proto = attrs_get(a, "protocol"), *version = attrs_get(a, "version");
        if (!proto || strcmp(proto, "dkim") != 0 || !version || strcmp(version, IPC_VERSION) != 0) {
            answer(&r->answer, DKIM_FAILED, "the signer does not speak protocol dkim version %s",
                   IPC_VERSION);
            return 1;
        }
        r->greeted = true;
        return 0;
    }
    parse_reply(a, &r->answer);
    return 1;
}

static void on_io(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    (void)loop;
    struct dkim_sign_req *r = ctx;
    char tmp[8192];
    ssize_t n = recv(fd, tmp, sizeof tmp, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        answer(&r->answer, DKIM_FAILED, "no answer from the signer: %s",
               n == 0 ? "connection closed" : strerror(errno));
        finish(r);
        return;
    }
    buf_append(&r->in, tmp, (size_t)n);
    for (;;) {
        struct attrs a = {0};
        size_t used;
        char *err = NULL;
        int d = ipc_decode(r->in.data, r->in.len, &a, &used, &err);
        if (d == 0)
            return;
        int done = d < 0 ? 1 : handle(r, &a);
        if (d < 0)
            answer(&r->answer, DKIM_FAILED, "malformed answer from the signer: %s", err);
        free(err);
        attrs_free(&a);
        if (done) {
            finish(r);
            return;
        }
        buf_consume(&r->in, used);
    }
}

/* Connect and send the request with qfd; the answer is set on failure. */
static void send_request(struct dkim_sign_req *r, int qfd, const char *queue_id)
{
    if (no_keys(&r->dc, &r->answer))
        return;
    r->fd = unix_connect(r->dc.path, true);
    if (r->fd < 0) {
        answer(&r->answer, DKIM_FAILED, "connect %s: %s", r->dc.path, strerror(errno));
        return;
    }
    struct attrs req;
    struct buf out = BUF_INIT;
    request_attrs(&req, queue_id);
    ipc_encode(&out, &req);
    attrs_free(&req);
    /* A fresh socket's buffer takes the whole short request at once. */
    ssize_t sent = fdpass_send(r->fd, out.data, out.len, qfd, MSG_DONTWAIT);
    if (sent != (ssize_t)out.len || event_add(r->loop, r->fd, EPOLLIN, on_io, r) < 0) {
        answer(&r->answer, DKIM_FAILED, "sending to the signer: %s",
               sent < 0 ? strerror(errno) : "short write");
        close(r->fd);
        r->fd = -1;
    }
    buf_free(&out);
}

static struct dkim_sign_req *start(const struct dkim_client *dc, struct event_loop *loop,
                                   int qfd, const char *queue_id)
{
    struct dkim_sign_req *r = xcalloc(1, sizeof *r);
    r->dc = *dc;
    r->loop = loop;
    r->fd = -1;
    if (qfd >= 0)
        send_request(r, qfd, queue_id);
    /* Without a connection the answer is already set: deliver it from the loop. */
    r->timer = event_timer(loop, r->fd >= 0 ? dc->timeout_ms : 0, on_timer, r);
    return r;
}

struct dkim_sign_req *dkim_sign_fd_start(const struct dkim_client *dc, struct event_loop *loop,
                                         int qfd, const char *queue_id, dkim_answer_fn fn,
                                         void *ctx)
{
    struct dkim_sign_req *r = start(dc, loop, qfd, queue_id);
    r->fn = fn;
    r->ctx = ctx;
    return r;
}

struct dkim_sign_req *dkim_sign_writer_start(const struct dkim_client *dc, struct event_loop *loop,
                                             struct queue_writer *w, dkim_writer_fn fn, void *ctx)
{
    char *err = NULL;
    int qfd = queue_writer_reader(w, &err);
    struct dkim_sign_req *r = start(dc, loop, qfd, queue_writer_id(w));
    if (qfd >= 0)
        close(qfd);
    else { /* a write failure: not queued, whatever the policy */
        answer(&r->answer, DKIM_FAILED, "%s", err);
        r->dc.tempfail = true;
        free(err);
    }
    r->w = w;
    r->wfn = fn;
    r->ctx = ctx;
    return r;
}

void dkim_sign_cancel(struct dkim_sign_req *r)
{
    if (!r)
        return;
    release(r);
    dkim_answer_free(&r->answer);
    free(r);
}
