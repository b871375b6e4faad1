/* ipc.c - attribute-line IPC with optional descriptor passing (see ipc.h). */
#include "ipc.h"
#include "fdpass.h"
#include "hex.h"
#include "mem.h"
#include "unixsock.h"

/* Room for NAME_INDEX with any group name the code uses. */
#define IPC_NAME_MAX 64
#include <ctype.h>
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
    /* The form our encoders write and nothing else: digits with an optional '-', no leading
     * zero (strtoll alone would take leading white space and '+', found by fuzz_qmgr_reply:
     * "nrcpt=\v\v1"; and "02", which its oracle rightly refused). */
    const char *d = v && v[0] == '-' ? v + 1 : v;
    if (!d || !isdigit((unsigned char)d[0]) || (d[0] == '0' && (d[1] || d != v)))
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

/* --- repeated groups --- */

void attrs_add_indexed(struct attrs *a, const char *name, size_t index, const char *value)
{
    char key[IPC_NAME_MAX];
    snprintf(key, sizeof key, "%s_%zu", name, index);
    attrs_add(a, key, value);
}

const char *attrs_get_indexed(const struct attrs *a, const char *name, size_t index)
{
    char key[IPC_NAME_MAX];
    snprintf(key, sizeof key, "%s_%zu", name, index);
    return attrs_get(a, key);
}

/* attr starts with NAME_ (a member of the group, well-formed or not). */
static bool in_group(const char *attr, const char *name)
{
    size_t n = strlen(name);
    return strncmp(attr, name, n) == 0 && attr[n] == '_';
}

bool attrs_name_indexed(const char *attr, const char *name, size_t *index)
{
    if (!in_group(attr, name))
        return false;
    const char *digits = attr + strlen(name) + 1;
    size_t len = strlen(digits);
    if (len == 0 || len > IPC_INDEX_DIGITS || (digits[0] == '0' && len > 1))
        return false;
    size_t v = 0;
    for (const char *p = digits; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (size_t)(*p - '0');
    }
    *index = v;
    return true;
}

/* Mark each NAME_k of the group in seen[0 .. limit-1]; -1 with *err on a malformed,
 * out-of-range or repeated element. *members gets how many there are. */
static int scan_group(const struct attrs *a, const char *name, unsigned char *seen,
                      size_t limit, size_t *members, char **err)
{
    *members = 0;
    for (size_t i = 0; i < a->n; i++) {
        const char *attr = a->v[i].name;
        size_t k;
        if (!in_group(attr, name))
            continue;
        if (!attrs_name_indexed(attr, name, &k) || k >= limit) {
            *err = xasprintf("attribute \"%s\": bad index, out of range or after a gap", attr);
            return -1;
        }
        if (seen[k]++) {
            *err = xasprintf("attribute \"%s\" repeated", attr);
            return -1;
        }
        ++*members;
    }
    return 0;
}

int attrs_group_count(const struct attrs *a, const char *name, size_t *count, char **err)
{
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++)
        n += in_group(a->v[i].name, name);
    /* n members, each index below n and none twice: exactly 0 .. n-1. */
    unsigned char *seen = xcalloc(n ? n : 1, 1);
    size_t members;
    int rc = scan_group(a, name, seen, n, &members, err);
    free(seen);
    if (rc < 0)
        return -1;
    *count = n;
    return 0;
}

int attrs_group_check_sparse(const struct attrs *a, const char *name, size_t limit, char **err)
{
    unsigned char *seen = xcalloc(limit ? limit : 1, 1);
    size_t members;
    int rc = scan_group(a, name, seen, limit, &members, err);
    free(seen);
    return rc;
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
            int h = p + 2 < line + len ? hex_digit_value(p[1]) : -1, l = h >= 0 ? hex_digit_value(p[2]) : -1;
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

static int compare_names(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* A name twice in one message; NULL when all differ. O(n log n) for big messages. */
static const char *repeated_name(const struct attrs *a)
{
    if (a->n < 2)
        return NULL;
    const char **names = xreallocarray(NULL, a->n, sizeof *names);
    for (size_t i = 0; i < a->n; i++)
        names[i] = a->v[i].name;
    qsort(names, a->n, sizeof *names, compare_names);
    const char *dup = NULL;
    for (size_t i = 1; i < a->n && !dup; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            dup = names[i];
    free(names);
    return dup;
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
        if (pos + linelen + 1 > IPC_MAX_MESSAGE)
            break; /* refused below, however the rest looks */
        if (linelen == 0) {
            const char *dup = repeated_name(&tmp);
            if (dup) {
                *err = xasprintf("repeated IPC attribute \"%s\"", dup);
                attrs_free(&tmp);
                return -1;
            }
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

int ipc_connect(const char *path) { return unix_connect(path, false); }

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
