/* trigger.c - wake qmgr with request=wakeup, without waiting (see trigger.h). */
#include "trigger.h"
#include "buf.h"
#include "ipc.h"
#include "unixsock.h"
#include <limits.h>
#include <errno.h>
#include <stdio.h>
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
