/* trigger.c - wake qmgr with request=wakeup, without waiting (see trigger.h). */
#include "trigger.h"
#include "buf.h"
#include "ipc.h"
#include "mem.h"
#include "unixsock.h"
#include <limits.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TRIGGER_SOCKET "private/qmgr"

static int connect_nonblocking(const char *spool)
{
    char path[PATH_MAX];
    int len = snprintf(path, sizeof path, "%s/%s", spool, TRIGGER_SOCKET);
    if (len < 0 || (size_t)len >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return unix_connect(path, true);
}

int trigger_qmgr(const char *spool)
{
    int fd = connect_nonblocking(spool);
    if (fd < 0)
        return -1;
    struct attrs a = {0};
    attrs_add(&a, "request", "wakeup");
    struct buf msg = BUF_INIT;
    ipc_encode(&msg, &a);
    attrs_free(&a);
    ssize_t n = send(fd, msg.data, msg.len, MSG_NOSIGNAL | MSG_DONTWAIT);
    int e = errno;
    size_t want = msg.len;
    buf_free(&msg);
    close(fd);
    if (n < 0 || (size_t)n != want) {
        errno = n < 0 ? e : EAGAIN;
        return -1;
    }
    return 0;
}

int trigger_qmgr_flush(const char *spool, int timeout_ms, char **err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", spool, TRIGGER_SOCKET);
    int fd = ipc_connect(path);
    if (fd < 0) {
        int e = errno;
        *err = xasprintf("%s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    struct ipc_conn conn;
    ipc_conn_init(&conn, fd, timeout_ms);
    struct attrs req = {0}, reply = {0};
    attrs_add(&req, "request", "flush");
    char *ierr = NULL;
    int rc = -1;
    if (ipc_expect(&conn, "qmgr", &ierr) < 0 || ipc_send(&conn, &req, -1) < 0) {
        *err = xasprintf("%s: %s", path, ierr ? ierr : strerror(errno));
    } else if (ipc_recv(&conn, &reply, &ierr) != 1) {
        *err = xasprintf("%s: %s", path, ierr ? ierr : "no answer");
    } else if (!attrs_get(&reply, "status") || strcmp(attrs_get(&reply, "status"), "ok") != 0) {
        *err = xasprintf("%s: qmgr answered %s", path,
                         attrs_get(&reply, "status") ? attrs_get(&reply, "status") : "nothing");
    } else {
        rc = 0;
    }
    free(ierr);
    attrs_free(&req);
    attrs_free(&reply);
    ipc_conn_close(&conn);
    errno = 0;
    return rc;
}
