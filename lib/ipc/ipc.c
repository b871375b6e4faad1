/* ipc.c - attribute-line IPC with optional descriptor passing (see ipc.h). */
#include "ipc.h"
#include "fdpass.h"
#include "mem.h"
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

void attrs_add(struct attrs *a, const char *name, const char *value)
{
    a->v = xreallocarray(a->v, a->n + 1, sizeof *a->v);
    a->v[a->n].name = xstrdup(name);
    a->v[a->n++].value = xstrdup(value ? value : "");
}

void attrs_addf(struct attrs *a, const char *name, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    attrs_add(a, name, buf_cstr(&b));
    buf_free(&b);
}

const char *attrs_get(const struct attrs *a, const char *name)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].name, name) == 0)
            return a->v[i].value;
    return NULL;
}

bool attrs_get_ll(const struct attrs *a, const char *name, long long *out)
{
    const char *v = attrs_get(a, name);
    if (!v || !*v)
        return false;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end)
        return false;
    *out = n;
    return true;
}

void attrs_free(struct attrs *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->v[i].name);
        free(a->v[i].value);
    }
    free(a->v);
    a->v = NULL;
    a->n = 0;
}

static void encode_value(struct buf *out, const char *v)
{
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;
        if (c == '%' || c == '\n' || c == '\r')
            buf_printf(out, "%%%02X", c);
        else
            buf_putc(out, (char)c);
    }
}

void ipc_encode(struct buf *out, const struct attrs *a)
{
    for (size_t i = 0; i < a->n; i++) {
        buf_puts(out, a->v[i].name);
        buf_putc(out, '=');
        encode_value(out, a->v[i].value);
        buf_putc(out, '\n');
    }
    buf_putc(out, '\n');
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int decode_line(const char *line, size_t len, struct attrs *a, char **err)
{
    const char *eq = memchr(line, '=', len);
    if (!eq || eq == line) {
        *err = xstrdup("IPC line without name=value");
        return -1;
    }
    for (const char *p = line; p < eq; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
            *err = xstrdup("IPC attribute name with bad character");
            return -1;
        }
    struct buf v = BUF_INIT;
    for (const char *p = eq + 1; p < line + len; p++) {
        if (*p == 0) {
            buf_free(&v);
            *err = xstrdup("NUL in IPC value");
            return -1;
        }
        if (*p == '%') {
            int h = p + 2 < line + len ? hexval(p[1]) : -1, l = h >= 0 ? hexval(p[2]) : -1;
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                buf_free(&v);
                *err = xstrdup("bad %-escape in IPC value");
                return -1;
            }
            buf_putc(&v, (char)(h * 16 + l));
            p += 2;
        } else {
            buf_putc(&v, *p);
        }
    }
    char *name = xstrndup(line, (size_t)(eq - line));
    attrs_add(a, name, buf_cstr(&v));
    free(name);
    buf_free(&v);
    return 0;
}

int ipc_decode(const char *data, size_t len, struct attrs *a, size_t *consumed, char **err)
{
    size_t pos = 0;
    struct attrs tmp = {0};
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        if (!nl)
            break;
        size_t linelen = (size_t)(nl - (data + pos));
        if (linelen == 0) {
            *consumed = pos + 1;
            *a = tmp;
            return 1;
        }
        if (decode_line(data + pos, linelen, &tmp, err) < 0) {
            attrs_free(&tmp);
            return -1;
        }
        pos += linelen + 1;
    }
    attrs_free(&tmp);
    if (len > IPC_MAX_MESSAGE) {
        *err = xstrdup("IPC message too long");
        return -1;
    }
    return 0;
}

void ipc_conn_init(struct ipc_conn *c, int fd, int timeout_ms)
{
    c->fd = fd;
    c->timeout_ms = timeout_ms;
    buf_init(&c->in);
    c->passed_fd = -1;
    c->passed_extra = false;
}

void ipc_conn_close(struct ipc_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    if (c->passed_fd >= 0)
        close(c->passed_fd);
    c->fd = c->passed_fd = -1;
    c->passed_extra = false;
    buf_free(&c->in);
}

int ipc_connect(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int wait_fd(struct ipc_conn *c, short events)
{
    if (c->timeout_ms <= 0)
        return 0;
    struct pollfd p = {.fd = c->fd, .events = events};
    int r;
    do
        r = poll(&p, 1, c->timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    return r < 0 ? -1 : 0;
}

int ipc_send(struct ipc_conn *c, const struct attrs *a, int fd_to_pass)
{
    struct buf out = BUF_INIT;
    ipc_encode(&out, a);
    size_t off = 0;
    int rc = 0;
    while (off < out.len) {
        if (wait_fd(c, POLLOUT) < 0) {
            rc = -1;
            break;
        }
        /* The descriptor goes with the first byte (lib/io/fdpass.h). */
        ssize_t n = fdpass_send(c->fd, out.data + off, out.len - off, off == 0 ? fd_to_pass : -1, 0);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            rc = -1;
            break;
        }
        off += (size_t)n;
    }
    buf_free(&out);
    return rc;
}

int ipc_recv(struct ipc_conn *c, struct attrs *a, char **err)
{
    for (;;) {
        size_t used;
        if (c->in.len) {
            int r = ipc_decode(c->in.data, c->in.len, a, &used, err);
            if (r < 0)
                return -1;
            if (r == 1 && c->passed_extra) {
                attrs_free(a);
                *err = xstrdup(fdpass_check_one(c->passed_fd, true));
                return -1;
            }
            if (r == 1) {
                buf_consume(&c->in, used);
                return 1;
            }
        }
        if (wait_fd(c, POLLIN) < 0) {
            *err = xasprintf("IPC read: %s", strerror(errno));
            return -1;
        }
        char tmp[16384];
        ssize_t n = fdpass_recv(c->fd, tmp, sizeof tmp, 0, &c->passed_fd, &c->passed_extra);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            *err = xasprintf("IPC read: %s", strerror(errno));
            return -1;
        }
        if (n == 0) {
            if (c->in.len == 0)
                return 0;
            *err = xstrdup("IPC peer closed in the middle of a message");
            return -1;
        }
        buf_append(&c->in, tmp, (size_t)n);
    }
}

int ipc_announce(struct ipc_conn *c, const char *protocol)
{
    struct attrs a = {0};
    attrs_add(&a, "protocol", protocol);
    attrs_add(&a, "version", IPC_VERSION);
    int r = ipc_send(c, &a, -1);
    attrs_free(&a);
    return r;
}

int ipc_expect(struct ipc_conn *c, const char *protocol, char **err)
{
    struct attrs a = {0};
    int r = ipc_recv(c, &a, err);
    if (r == 0)
        *err = xstrdup("IPC peer closed before announcing its protocol");
    if (r <= 0)
        return -1;
    const char *p = attrs_get(&a, "protocol"), *v = attrs_get(&a, "version");
    int rc = 0;
    if (!p || strcmp(p, protocol) != 0 || !v || strcmp(v, IPC_VERSION) != 0 || a.n != 2) {
        *err = xasprintf("IPC peer speaks %s version %s, expected %s version %s",
                         p ? p : "(none)", v ? v : "(none)", protocol, IPC_VERSION);
        rc = -1;
    }
    attrs_free(&a);
    return rc;
}
