/* ipc_server.c - one connection of a blocking attribute-protocol service (see
 * ipc_server.h). */
#include "ipc_server.h"
#include "log.h"
#include "mem.h"
#include "peercred.h"
#include "privs.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ipc_peers_init(struct ipc_peers *p, struct config *cfg)
{
    gid_t gid;
    char *err = NULL;
    p->have_mail_owner = privs_lookup(config_str(cfg, PARAM(mail_owner)), &p->mail_owner, &gid, &err) == 0;
    free(err);
}

bool ipc_peers_ok(const struct ipc_peers *p, int fd, const char *what)
{
    struct peercred cred;
    if (peercred_get(fd, &cred) < 0) {
        log_warn("SO_PEERCRED: %m");
        return false;
    }
    if (peercred_uid_trusted(cred.uid, &p->mail_owner, p->have_mail_owner ? 1 : 0))
        return true;
    log_warn("refusing a %s connection from uid %u (pid %d)", what, (unsigned)cred.uid, (int)cred.pid);
    return false;
}

/* Wait for the next request. False on idle timeout, hang-up or a signal: SIGTERM and
 * SIGHUP interrupt the wait, and returning to the event loop lets the skeleton act on them. */
static bool wait_request(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, timeout_ms) > 0;
}

void ipc_server_serve(int fd, const char *protocol, int timeout_ms, const char *what,
                      ipc_request_fn fn, void *ctx)
{
    struct ipc_conn c;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
        log_warn("fcntl: %m");
        close(fd);
        return;
    }
    ipc_conn_init(&c, fd, timeout_ms);
    if (ipc_announce(&c, protocol) < 0) {
        ipc_conn_close(&c);
        return;
    }
    for (;;) {
        struct attrs req = {0}, rep = {0};
        char *err = NULL;
        if (c.in.len == 0 && !wait_request(fd, c.timeout_ms))
            break;
        int r = ipc_recv(&c, &req, &err);
        int qfd = c.passed_fd;
        c.passed_fd = -1;
        if (r > 0 && fn(ctx, &req, qfd, &rep, &err) < 0)
            r = -1;
        if (r > 0 && ipc_send(&c, &rep, -1) < 0) {
            err = xasprintf("sending the reply: %s", strerror(errno));
            r = -1;
        }
        if (r < 0 && (!err || !strstr(err, strerror(ETIMEDOUT))))
            log_warn("%s: %s", what, err ? err : "protocol error");
        if (qfd >= 0)
            close(qfd);
        free(err);
        attrs_free(&req);
        attrs_free(&rep);
        if (r <= 0)
            break;
    }
    ipc_conn_close(&c);
}
