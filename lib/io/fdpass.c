/* fdpass.c - sending and strictly receiving one descriptor with a message (see fdpass.h). */
#include "fdpass.h"
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Room to see (and close) a few extra descriptors; beyond that the kernel truncates the
 * control data (MSG_CTRUNC), which counts as extra too. */
#define FDPASS_ROOM 4

ssize_t fdpass_send(int sock, const void *data, size_t len, int fd, int flags)
{
    struct iovec iov = {(void *)data, len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } cm;
    if (fd >= 0) {
        memset(&cm, 0, sizeof cm);
        mh.msg_control = cm.buf;
        mh.msg_controllen = sizeof cm.buf;
        struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(h), &fd, sizeof(int));
    }
    return sendmsg(sock, &mh, flags | MSG_NOSIGNAL);
}

/* Keep the first descriptor in *fd, close every other one. */
static void take_fds(struct msghdr *mh, int *fd, bool *extra)
{
    if (mh->msg_flags & MSG_CTRUNC)
        *extra = true;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(mh); h; h = CMSG_NXTHDR(mh, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int got;
            memcpy(&got, CMSG_DATA(h) + i * sizeof(int), sizeof got);
            if (*fd < 0 && !*extra && n == 1) {
                *fd = got;
            } else {
                close(got);
                *extra = true;
            }
        }
    }
}

ssize_t fdpass_recv(int sock, void *data, size_t size, int flags, int *fd, bool *extra)
{
    struct iovec iov = {data, size};
    union {
        char buf[CMSG_SPACE(FDPASS_ROOM * sizeof(int))];
        struct cmsghdr align;
    } cm;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
                        .msg_controllen = sizeof cm.buf};
    ssize_t n = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
    if (n < 0)
        return -1;
    take_fds(&mh, fd, extra);
    return n;
}

const char *fdpass_check_one(int fd, bool extra)
{
    if (extra)
        return "more than one descriptor came with the message";
    if (fd < 0)
        return "no descriptor came with the message";
    return NULL;
}
