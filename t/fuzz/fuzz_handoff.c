/* fuzz_handoff.c - libFuzzer target: the post-login side of the login handoff
 * (lib/login/login_handoff.c, handoff_in_start) on a private event loop, followed by
 * pop3d-mailbox's field checks (pop3d/mailbox/request.c). The first byte picks what travels
 * with the request: nothing, the plaintext end of a socket pair held by this process, a pipe,
 * two descriptors, or a loopback TCP connection; the rest is the request as bytes, where
 * "@FDID@", "@RIP@" and "@RPORT@" are replaced by the true DEV:INO of the passed descriptor
 * and the TCP peer (a fuzzer cannot guess them). Invariants: a request is accepted only when
 * it is exactly one well-formed message with request=login, exactly one descriptor came, the
 * descriptor is a socket whose DEV:INO is fd_id and (TCP) whose peer is rip/rport, and the
 * descriptor handed to the callee is that socket; pop3d-mailbox then accepts only a
 * normalised user@domain, service=pop3, an alphanumeric session id and base64 input. The
 * answer on the wire is status=ok exactly when accepted. */
#include "buf.h"
#include "fdpass.h"
#include "fuzz_common.h"
#include "ipc.h"
#include "login_handoff.h"
#include "pop3_mailbox.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

enum attach { ATT_NONE, ATT_UNIX, ATT_PIPE, ATT_TWO, ATT_TCP, ATT_MODES };

struct run {
    struct event_loop *loop;
    int sock;              /* our end (the login process's) */
    const char *out;       /* the request bytes */
    size_t out_len, sent;
    int fd1, fd2;          /* to attach: with the first byte, with the second send */
    struct buf in;         /* what the post-login side answered */
    bool called, accepted, eof;
    size_t sent_at_call;   /* request bytes sent when the callback ran */
    char got_id[64];       /* DEV:INO of the descriptor the callee got */
    struct attrs req;      /* a copy of the accepted request */
};

static int tcp_client = -1, tcp_server = -1; /* one loopback connection, made once */
static char tcp_port[16];

static void make_tcp(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&sa, len) < 0 || listen(l, 1) < 0 ||
        getsockname(l, (struct sockaddr *)&sa, &len) < 0)
        abort();
    tcp_client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(tcp_client, (struct sockaddr *)&sa, len) < 0)
        abort();
    tcp_server = accept(l, NULL, NULL);
    if (tcp_server < 0 || getsockname(tcp_client, (struct sockaddr *)&sa, &len) < 0)
        abort();
    snprintf(tcp_port, sizeof tcp_port, "%d", ntohs(sa.sin_port));
    close(l);
}

static void on_request(void *ctx, struct handoff_in *h, const struct attrs *req, int fd,
                       const char *err)
{
    struct run *r = ctx;
    if (r->called)
        abort(); /* the callback runs once */
    r->called = true;
    r->sent_at_call = r->sent;
    if (!req) {
        if (fd != -1 || !err)
            abort();
        return;
    }
    if (!handoff_fd_id(fd, r->got_id, sizeof r->got_id))
        abort();
    for (size_t i = 0; i < req->n; i++)
        attrs_add(&r->req, req->v[i].name, req->v[i].value);
    struct buf input = BUF_INIT;
    const char *bad = box_check_request(req, &input);
    r->accepted = !bad;
    handoff_in_finish(h, !bad, bad);
    close(fd);
    buf_free(&input);
}

static void on_sock(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct run *r = ctx;
    if ((events & EPOLLOUT) && r->sent < r->out_len) {
        size_t n = r->out_len - r->sent;
        int attach = r->sent == 0 ? r->fd1 : r->sent == 1 ? r->fd2 : -1;
        if (r->sent == 0 && r->fd2 >= 0)
            n = 1; /* the second descriptor comes with the second send */
        ssize_t w = fdpass_send(fd, r->out + r->sent, n, attach, MSG_DONTWAIT);
        if (w > 0)
            r->sent += (size_t)w;
        else if (errno != EAGAIN)
            r->sent = r->out_len; /* the other side is gone */
        if (r->sent == r->out_len) {
            shutdown(fd, SHUT_WR);
            event_mod(loop, fd, EPOLLIN);
        }
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        char tmp[4096];
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n > 0)
            buf_append(&r->in, tmp, (size_t)n);
        else if (n == 0 || errno != EAGAIN) {
            r->eof = true;
            event_del(loop, fd);
            event_stop(loop);
        }
    }
}

/* The request with the placeholders replaced. */
static void substitute(const uint8_t *data, size_t size, const char *fd_id, struct buf *out)
{
    static const char *const keys[] = {"@FDID@", "@RIP@", "@RPORT@"};
    const char *vals[] = {fd_id, "127.0.0.1", tcp_port};
    for (size_t i = 0; i < size;) {
        size_t k = 0;
        while (k < 3 && (size - i < strlen(keys[k]) || memcmp(data + i, keys[k], strlen(keys[k]))))
            k++;
        if (k < 3) {
            buf_puts(out, vals[k]);
            i += strlen(keys[k]);
        } else {
            buf_putc(out, (char)data[i++]);
        }
    }
}

/* What may be accepted, judged from the outside. */
static void check_accepted(const struct run *r, enum attach mode, const char *fd_id,
                           const struct buf *text)
{
    struct attrs a = {0};
    size_t used = 0;
    char *err = NULL;
    if (mode != ATT_UNIX && mode != ATT_TCP)
        abort();
    /* One message and nothing after it (as far as had been sent when it was judged). */
    if (ipc_decode(text->data, r->sent_at_call, &a, &used, &err) != 1 || used != r->sent_at_call)
        abort();
    const char *v = attrs_get(&a, "request");
    if (!v || strcmp(v, "login") || !(v = attrs_get(&a, "fd_id")) || strcmp(v, fd_id) ||
        strcmp(r->got_id, fd_id))
        abort();
    if (mode == ATT_TCP && (!(v = attrs_get(&a, "rip")) || strcmp(v, "127.0.0.1") ||
                            !(v = attrs_get(&a, "rport")) || strcmp(v, tcp_port)))
        abort();
    attrs_free(&a);
    free(err);
    if (!r->accepted)
        return;
    const char *user = attrs_get(&r->req, "user"), *id = attrs_get(&r->req, "session");
    if (!user || !strchr(user, '@') || strcmp(attrs_get(&r->req, "service"), "pop3") || !id ||
        !*id || strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != strlen(id))
        abort();
    for (const char *p = user; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            abort();
}

/* The answer: the announcement, then status=ok exactly when accepted. */
static void check_answer(const struct run *r)
{
    struct attrs a = {0}, b = {0};
    size_t used = 0, used2 = 0;
    char *err = NULL;
    if (ipc_decode(r->in.data, r->in.len, &a, &used, &err) != 1 ||
        strcmp(attrs_get(&a, "protocol"), HANDOFF_PROTOCOL) != 0)
        abort();
    int d = ipc_decode(r->in.data + used, r->in.len - used, &b, &used2, &err);
    const char *st = d == 1 ? attrs_get(&b, "status") : NULL;
    if (!st || strcmp(st, r->accepted ? "ok" : "fail") != 0 || used + used2 != r->in.len)
        abort();
    attrs_free(&a), attrs_free(&b);
    free(err);
}

/* The descriptors to pass for mode; *keep are our copies to close afterwards. */
static void attachments(enum attach mode, struct run *r, int keep[3])
{
    int p[2];
    keep[0] = keep[1] = keep[2] = -1;
    if (mode == ATT_UNIX || mode == ATT_TWO) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
            abort();
        r->fd1 = keep[0] = p[0], keep[1] = p[1];
    }
    if (mode == ATT_PIPE || mode == ATT_TWO) {
        if (pipe2(p, O_CLOEXEC) < 0)
            abort();
        *(mode == ATT_PIPE ? &r->fd1 : &r->fd2) = keep[2] = p[0];
        close(p[1]);
    }
    if (mode == ATT_TCP)
        r->fd1 = keep[0] = dup(tcp_server);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct event_loop *loop;
    if (!loop) {
        fuzz_dir(); /* quiet logging */
        loop = event_loop_new();
        make_tcp();
    }
    if (size < 1)
        return 0;
    enum attach mode = (enum attach)(data[0] % ATT_MODES);
    struct run r = {.loop = loop, .fd1 = -1, .fd2 = -1};
    int keep[3], sv[2];
    attachments(mode, &r, keep);
    char fd_id[64] = "none";
    if (r.fd1 >= 0 && !handoff_fd_id(r.fd1, fd_id, sizeof fd_id))
        abort();
    struct buf text = BUF_INIT;
    substitute(data + 1, size - 1, fd_id, &text);
    r.out = text.data ? text.data : "";
    r.out_len = text.len;
    if (r.fd2 >= 0 && r.out_len < 2)
        r.fd2 = -1; /* no second send to carry it */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    r.sock = sv[0];
    handoff_in_start(loop, sv[1], getuid(), 10000, on_request, &r);
    if (r.out_len == 0)
        shutdown(sv[0], SHUT_WR);
    if (event_add(loop, sv[0], r.out_len ? EPOLLIN | EPOLLOUT : EPOLLIN, on_sock, &r) < 0)
        abort();
    event_run(loop);
    if (!r.called || !r.eof)
        abort();
    if (r.req.n) /* the handoff layer accepted it */
        check_accepted(&r, mode == ATT_TWO && r.fd2 < 0 ? ATT_UNIX : mode, fd_id, &text);
    check_answer(&r);
    close(sv[0]);
    for (int i = 0; i < 3; i++)
        if (keep[i] >= 0)
            close(keep[i]);
    attrs_free(&r.req);
    buf_free(&r.in);
    buf_free(&text);
    return 0;
}
