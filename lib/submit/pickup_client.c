/* pickup_client.c - the client side of the pickup protocol (see pickup_client.h and
 * doc/ipc.md, "pickup"). */
#include "pickup_client.h"
#include "ipc.h"
#include "mem.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sysexits.h>
#include <unistd.h>

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

/* The message in a sealed memfd: the service reads exactly what we wrote. -1 with *err. */
static int message_fd(const struct submit_message *m, char **err)
{
    int fd = memfd_create("posthorn-sendmail", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        *err = xasprintf("memfd_create: %s", strerror(errno));
        return -1;
    }
    if (write_all(fd, m->headers.data ? m->headers.data : "", m->headers.len) < 0 ||
        write_all(fd, m->body.data ? m->body.data : "", m->body.len) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
        *err = xasprintf("cannot write the message to memory: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void build_request(const struct local_envelope *e, struct attrs *a)
{
    attrs_add(a, "request", "submit");
    attrs_add(a, "sender", e->sender);
    attrs_addf(a, "nrcpt", "%zu", e->nrcpts);
    for (size_t i = 0; i < e->nrcpts; i++) {
        attrs_add_indexed(a, "rcpt", i, e->rcpts[i].addr);
        if (e->rcpts[i].orcpt)
            attrs_add_indexed(a, "orcpt", i, e->rcpts[i].orcpt);
        if (e->rcpts[i].notify)
            attrs_add_indexed(a, "notify", i, e->rcpts[i].notify);
    }
    if (e->ret)
        attrs_add(a, "ret", e->ret);
    if (e->envid)
        attrs_add(a, "envid", e->envid);
    if (e->fullname && *e->fullname)
        attrs_add(a, "fullname", e->fullname);
}

/* The service's answer: status=N (a sysexits code) with queue_id=ID on 0, reason otherwise. */
static int read_answer(const struct attrs *rep, char id[QUEUE_ID_SIZE], char **err)
{
    long long st;
    const char *qid = attrs_get(rep, "queue_id"), *why = attrs_get(rep, "reason");
    if (!attrs_get_ll(rep, "status", &st) || st < 0 || st > 255) {
        *err = xstrdup("malformed answer from the pickup service");
        return EX_TEMPFAIL;
    }
    if (st == EX_OK && qid && queue_id_valid(qid)) {
        snprintf(id, QUEUE_ID_SIZE, "%s", qid);
        return EX_OK;
    }
    *err = xstrdup(why && st != EX_OK ? why : "malformed answer from the pickup service");
    return st == EX_OK ? EX_TEMPFAIL : (int)st;
}

/* One request with its answer; EX_OK, or EX_TEMPFAIL with *err when the service cannot
 * be reached or does not answer. */
static int exchange(const char *spool, int timeout_ms, const struct attrs *req, int fd,
                    struct attrs *rep, char **err)
{
    char *path = xasprintf("%s/%s", spool, PICKUP_SOCKET);
    int sock = ipc_connect(path);
    if (sock < 0) {
        *err = xasprintf("cannot reach the pickup service at %s: %s (is the mail system "
                         "running?)", path, strerror(errno));
        free(path);
        return EX_TEMPFAIL;
    }
    free(path);
    struct ipc_conn c;
    ipc_conn_init(&c, sock, timeout_ms);
    char *ierr = NULL;
    int rc = EX_OK;
    if (ipc_expect(&c, "pickup", &ierr) < 0 || ipc_send(&c, req, fd) < 0 ||
        ipc_recv(&c, rep, &ierr) <= 0) {
        *err = xasprintf("the pickup service did not answer: %s",
                         ierr ? ierr : errno ? strerror(errno) : "connection closed");
        rc = EX_TEMPFAIL;
    }
    free(ierr);
    ipc_conn_close(&c);
    return rc;
}

int pickup_submit(const char *spool, int timeout_ms, const struct local_envelope *e,
                  const struct submit_message *m, char id[QUEUE_ID_SIZE], char **err)
{
    int mfd = message_fd(m, err);
    if (mfd < 0)
        return EX_TEMPFAIL;
    struct attrs req = {0}, rep = {0};
    build_request(e, &req);
    int rc = exchange(spool, timeout_ms, &req, mfd, &rep, err);
    if (rc == EX_OK)
        rc = read_answer(&rep, id, err);
    attrs_free(&req);
    attrs_free(&rep);
    close(mfd);
    return rc;
}

int pickup_flush(const char *spool, int timeout_ms, char **err)
{
    struct attrs req = {0}, rep = {0};
    attrs_add(&req, "request", "flush");
    long long st = EX_TEMPFAIL;
    int rc = exchange(spool, timeout_ms, &req, -1, &rep, err);
    if (rc == EX_OK && (!attrs_get_ll(&rep, "status", &st) || st < 0 || st > 255)) {
        *err = xstrdup("malformed answer from the pickup service");
        rc = EX_TEMPFAIL;
    } else if (rc == EX_OK && st != EX_OK) {
        const char *why = attrs_get(&rep, "reason");
        *err = xstrdup(why ? why : "flush refused");
        rc = (int)st;
    }
    attrs_free(&req);
    attrs_free(&rep);
    return rc;
}

int pickup_verify(const char *spool, int timeout_ms, char **addrs, size_t n, int *verdict,
                  char **text, char **err)
{
    struct attrs req = {0}, rep = {0};
    attrs_add(&req, "request", "verify");
    attrs_addf(&req, "nrcpt", "%zu", n);
    for (size_t i = 0; i < n; i++)
        attrs_add_indexed(&req, "rcpt", i, addrs[i]);
    int rc = exchange(spool, timeout_ms, &req, -1, &rep, err);
    for (size_t i = 0; rc == EX_OK && i < n; i++) {
        long long v;
        const char *vs = attrs_get_indexed(&rep, "verdict", i);
        const char *t = attrs_get_indexed(&rep, "text", i);
        char *end;
        v = vs ? strtoll(vs, &end, 10) : -1;
        if (!vs || *end || v < 0 || v > 255 || !t) {
            *err = xstrdup("malformed answer from the pickup service");
            rc = EX_TEMPFAIL;
            break;
        }
        verdict[i] = (int)v;
        text[i] = xstrdup(t);
    }
    attrs_free(&req);
    attrs_free(&rep);
    return rc;
}
