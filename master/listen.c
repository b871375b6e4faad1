/* listen.c - master binds every listening socket (inet and unix) before dropping nothing:
 * only master binds; children inherit the socket at SERVER_LISTEN_FD. */
#include "master.h"
#include "mem.h"
#include "privs.h"
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LISTEN_BACKLOG 1024
#define BIND_RETRY_MS 5000

static int bind_inet(const char *service, char **err)
{
    char *host, *port;
    if (mastercf_inet_split(service, &host, &port) < 0) {
        *err = xasprintf("bad inet service \"%s\"", service);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(*host ? host : NULL, port, &hints, &res);
    if (gai != 0) {
        *err = xasprintf("%s: %s", service, gai_strerror(gai));
        free(host), free(port);
        return -1;
    }
    /* With no host, prefer the IPv6 wildcard in dual-stack mode so one socket serves both. */
    struct addrinfo *ai = res;
    if (!*host)
        for (struct addrinfo *p = res; p; p = p->ai_next)
            if (p->ai_family == AF_INET6)
                ai = p;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1, zero = 0;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, *host ? &one : &zero, sizeof one);
        /* A previous master's children may still be closing their copy: retry briefly. */
        int r;
        for (int waited = 0; (r = bind(fd, ai->ai_addr, ai->ai_addrlen)) < 0 && errno == EADDRINUSE &&
                             waited < BIND_RETRY_MS; waited += 100)
            nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
        if (r < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
            *err = xasprintf("bind %s: %s", service, strerror(errno));
            close(fd);
            fd = -1;
        }
    } else {
        *err = xasprintf("socket for %s: %s", service, strerror(errno));
    }
    freeaddrinfo(res);
    free(host), free(port);
    return fd;
}

static int bind_unix(struct master *m, const char *path, char **err)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path) {
        *err = xasprintf("socket path too long: %s", path);
        return -1;
    }
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = xasprintf("socket %s: %s", path, strerror(errno));
        return -1;
    }
    unlink(path);
    mode_t old = umask(0);
    /* Access is controlled by the directory (private/ is 0700 mail_owner). */
    int r = bind(fd, (struct sockaddr *)&sun, sizeof sun);
    umask(old);
    if (r < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        *err = xasprintf("bind %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (privs_is_root()) {
        uid_t uid;
        gid_t gid;
        char *e2 = NULL;
        if (privs_lookup(config_str(m->cfg, PARAM(mail_owner)), &uid, &gid, &e2) == 0 &&
            chown(path, uid, gid) < 0) {
            *err = xasprintf("chown %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        free(e2);
    }
    return fd;
}

int master_listen(struct master *m, const struct mastercf_entry *e, char **err)
{
    if (strcmp(e->type, "inet") == 0)
        return bind_inet(e->service, err);
    char *path = xasprintf("%s/%s/%s", config_str(m->cfg, PARAM(queue_directory)),
                           e->private_ ? "private" : "public", e->service);
    int fd = bind_unix(m, path, err);
    free(path);
    return fd;
}
