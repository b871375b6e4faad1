/* showq_proto.c - the showq protocol's records, both sides (see showq_proto.h). */
#include "showq_proto.h"
#include "mem.h"
#include "queue.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const hold_only[] = {QUEUE_HOLD, NULL};

int showq_parse_request(const struct attrs *req, const char *const **queues, char **err)
{
    const char *request = attrs_get(req, "request"), *queue = attrs_get(req, "queue");
    if (!request || strcmp(request, "list") != 0) {
        *err = xasprintf("unknown request \"%s\"", request ? request : "");
        return -1;
    }
    if (queue && strcmp(queue, QUEUE_HOLD) != 0) {
        *err = xasprintf("cannot list queue \"%s\"", queue);
        return -1;
    }
    if (req->n != (queue ? 2u : 1u)) {
        *err = xstrdup("unknown attribute in request");
        return -1;
    }
    *queues = queue ? hold_only : qlist_mailq_queues;
    return 0;
}

void showq_encode_msg(struct buf *out, const struct qlist_msg *m)
{
    struct attrs a = {0};
    attrs_add(&a, "queue", m->queue);
    attrs_add(&a, "queue_id", m->id);
    attrs_addf(&a, "arrival_time", "%lld", m->arrival_time);
    attrs_addf(&a, "message_size", "%lld", m->size);
    attrs_add(&a, "forced_expire", m->forced_expire ? "1" : "0");
    attrs_add(&a, "sender", m->sender);
    attrs_addf(&a, "nrcpt", "%zu", m->nrcpts);
    ipc_encode(out, &a);
    attrs_free(&a);
    for (size_t i = 0; i < m->nrcpts; i++) {
        attrs_add(&a, "address", m->rcpts[i].address);
        if (*m->rcpts[i].reason)
            attrs_add(&a, "reason", m->rcpts[i].reason);
        ipc_encode(out, &a);
        attrs_free(&a);
    }
}

void showq_encode_end(struct buf *out, const char *error)
{
    struct attrs a = {0};
    attrs_add(&a, "end", error ? "error" : "ok");
    if (error)
        attrs_add(&a, "reason", error);
    ipc_encode(out, &a);
    attrs_free(&a);
}

/* --- client --- */

struct showq_client {
    struct ipc_conn conn;
    struct qlist_msg msg;
    bool ended;
};

struct showq_client *showq_client_on(int fd, const char *only_queue, int timeout_ms, char **err)
{
    struct showq_client *c = xcalloc(1, sizeof *c);
    ipc_conn_init(&c->conn, fd, timeout_ms);
    struct attrs req = {0};
    attrs_add(&req, "request", "list");
    if (only_queue)
        attrs_add(&req, "queue", only_queue);
    int rc = ipc_expect(&c->conn, SHOWQ_PROTOCOL, err);
    if (rc == 0 && ipc_send(&c->conn, &req, -1) < 0) {
        *err = xasprintf("send: %s", strerror(errno));
        rc = -1;
    }
    attrs_free(&req);
    if (rc < 0) {
        showq_close(c);
        return NULL;
    }
    return c;
}

struct showq_client *showq_connect(const char *spool, const char *only_queue, int timeout_ms,
                                   char **err)
{
    char *path = xasprintf("%s/%s", spool, SHOWQ_SOCKET);
    int fd = ipc_connect(path);
    if (fd < 0) {
        int e = errno;
        *err = xasprintf("connect to %s: %s", path, strerror(e));
        free(path);
        errno = e;
        return NULL;
    }
    free(path);
    struct showq_client *c = showq_client_on(fd, only_queue, timeout_ms, err);
    if (!c)
        errno = EPROTO;
    return c;
}

void showq_close(struct showq_client *c)
{
    if (!c)
        return;
    qlist_msg_clear(&c->msg);
    ipc_conn_close(&c->conn);
    free(c);
}

static bool listed_queue(const char *q)
{
    for (const char *const *p = qlist_mailq_queues; *p; p++)
        if (strcmp(*p, q) == 0)
            return true;
    return false;
}

/* A message record into c->msg; *nrcpt recipient records follow. */
static int decode_header(struct showq_client *c, const struct attrs *a, long long *nrcpt)
{
    const char *queue = attrs_get(a, "queue"), *id = attrs_get(a, "queue_id");
    const char *sender = attrs_get(a, "sender");
    long long arrival, size, expire;
    if (!queue || !listed_queue(queue) || !id || !queue_id_valid(id) || !sender ||
        !attrs_get_ll(a, "arrival_time", &arrival) || !attrs_get_ll(a, "message_size", &size) ||
        size < 0 || !attrs_get_ll(a, "forced_expire", &expire) || (expire != 0 && expire != 1) ||
        !attrs_get_ll(a, "nrcpt", nrcpt) || *nrcpt < 0 || a->n != 7)
        return -1;
    struct qlist_msg *m = &c->msg;
    m->queue = xstrdup(queue);
    m->id = xstrdup(id);
    m->arrival_time = arrival;
    m->size = size;
    m->forced_expire = expire == 1;
    m->sender = xstrndup(sender, QLIST_FIELD_MAX);
    return 0;
}

/* One record: 1, or -1 with *err (a clean EOF is an error too: the end record is missing). */
static int recv_record(struct showq_client *c, struct attrs *a, char **err)
{
    int r = ipc_recv(&c->conn, a, err);
    if (r == 0)
        *err = xstrdup("showq closed the connection before the end of the listing");
    return r == 1 ? 1 : -1;
}

static enum qlist_result malformed(struct attrs *a, char **err, const char *what)
{
    attrs_free(a);
    *err = xasprintf("malformed showq server response (%s)", what);
    return QLIST_FAILED;
}

static enum qlist_result read_end(struct showq_client *c, struct attrs *a, char **err)
{
    const char *end = attrs_get(a, "end"), *reason = attrs_get(a, "reason");
    if (strcmp(end, "ok") == 0 && a->n == 1) {
        c->ended = true;
        attrs_free(a);
        return QLIST_END;
    }
    if (strcmp(end, "error") != 0 || !reason || a->n != 2)
        return malformed(a, err, "end record");
    *err = xasprintf("showq: %s", reason);
    attrs_free(a);
    return QLIST_FAILED;
}

enum qlist_result showq_next(struct showq_client *c, const struct qlist_msg **m, char **err)
{
    qlist_msg_clear(&c->msg);
    if (c->ended)
        return QLIST_END;
    struct attrs a = {0};
    if (recv_record(c, &a, err) < 0)
        return QLIST_FAILED;
    if (attrs_get(&a, "end"))
        return read_end(c, &a, err);
    long long nrcpt;
    if (decode_header(c, &a, &nrcpt) < 0)
        return malformed(&a, err, "message record");
    attrs_free(&a);
    for (long long i = 0; i < nrcpt; i++) {
        if (recv_record(c, &a, err) < 0)
            return QLIST_FAILED;
        const char *addr = attrs_get(&a, "address"), *reason = attrs_get(&a, "reason");
        if (!addr || a.n != (reason ? 2u : 1u) || (reason && !*reason))
            return malformed(&a, err, "recipient record");
        qlist_msg_add_rcpt(&c->msg, addr, reason);
        attrs_free(&a);
    }
    *m = &c->msg;
    return QLIST_MSG;
}
