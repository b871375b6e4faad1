/* fuzz_pop3d.c - libFuzzer target: pop3d-mailbox's session state machine (TRANSACTION and
 * UPDATE), bytes in, replies out. pop3d-mailbox's own sources run unchanged (main.c is
 * included here with its main() renamed) on a private event loop with a temporary mail
 * store: alice@example.test has three messages. Each input is one session, taken over the
 * real way: a handoff request with the client's socket attached goes to box_accept(); the
 * first byte says how many of the following bytes travel as the request's pipelined input=
 * (base64), the rest is sent on the socket, then the client half-closes. Invariants: no
 * crash or leak; the output is complete CRLF lines; it starts with "+OK"; outside a
 * multi-line body every line starts with "+OK" or "-ERR" (the stored messages hold no line
 * that does); a body follows only a "+OK" line, ends with ".", and its other lines starting
 * with '.' are dot-stuffed; the output does not end inside a body. A session whose input
 * held DELE and QUIT gets a fresh mailbox for the next input. */
#define main pop3d_mailbox_main_unused
#include "../../pop3d/mailbox/main.c"
#undef main
#include "base64.h"
#include "fdpass.h"
#include "fuzz_client.h"
#include "fuzz_common.h"
#include "fuzz_daemon.h"
#include "ipc.h"
#include <errno.h>
#include <ftw.h>
#include <strings.h>
#include <sys/socket.h>

static struct server srv;
static char base[700];

static const char *const messages[] = {
    "From: bob@remote.test\nSubject: one\n\nhello\n.\n..two dots\n.x\n",
    "Subject: two\r\n\r\nCRLF body\r\nno final line end",
    "", /* empty */
};

static int fill(void *ctx, int fd)
{
    const char *m = ctx;
    return write(fd, m, strlen(m)) == (ssize_t)strlen(m) ? 0 : -1;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void make_mailbox(void)
{
    char *err = NULL;
    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    struct mail_user *mu = mail_user_open(base, "example.test", "alice",
                                          config_str(srv.cfg, PARAM(mailbox_index_name)), true, &err);
    must(mu != NULL);
    for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++) {
        uint32_t uid;
        must(mailbox_deliver(mu, "INBOX", 0, fill, (void *)messages[i], &uid, &err) == MS_OK);
    }
    mail_user_close(mu);
}

static void setup(void)
{
    const char *dir = fuzz_dir();
    snprintf(base, sizeof base, "%s/mail", dir);
    struct config *cfg = config_defaults(dir);
    set(cfg, "virtual_mailbox_base", base);
    set(cfg, "queue_directory", dir);
    srv = (struct server){.cfg = cfg, .loop = event_loop_new(), .program = "pop3",
                          .service = "fuzz", .transport = "unix", .spool = dir, .listen_fd = -1};
    pre_init(&srv);
    post_init(&srv);
    make_mailbox();
}

/* No session and no handoff left. */
static bool box_idle(void)
{
    struct pop3d *d = srv.app;
    return d->boxes.count == 0 && d->handoffs_in == 0;
}

/* The handoff request for the client socket fd, as a login process sends it. */
static void hand_over(int fd, const uint8_t *pipelined, size_t n)
{
    int hs[2];
    must(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, hs) == 0);
    struct attrs a = {0};
    char id[64];
    must(handoff_fd_id(fd, id, sizeof id));
    attrs_add(&a, "request", "login");
    attrs_add(&a, "service", "pop3");
    attrs_add(&a, "user", "alice@example.test");
    attrs_add(&a, "session", "FuzzSession1");
    attrs_add(&a, "method", "PLAIN");
    attrs_add(&a, "tls", "no");
    attrs_add(&a, "fd_id", id);
    if (n) {
        struct buf b64 = BUF_INIT;
        base64_encode(pipelined, n, &b64);
        attrs_add(&a, "input", buf_cstr(&b64));
        buf_free(&b64);
    }
    struct buf req = BUF_INIT;
    ipc_encode(&req, &a);
    must(fdpass_send(hs[0], req.data, req.len, fd, 0) == (ssize_t)req.len);
    box_accept(srv.app, hs[1]);
    attrs_free(&a);
    buf_free(&req);
    /* hs[0] stays open until the next input: the status answer is not read. */
    static int keep = -1;
    if (keep >= 0)
        close(keep);
    keep = hs[0];
}

/* word (lower case) anywhere in data, in any case. */
static bool has_word(const uint8_t *data, size_t size, const char *word)
{
    size_t n = strlen(word);
    for (size_t i = 0; i + n <= size; i++)
        if (strncasecmp((const char *)data + i, word, n) == 0)
            return true;
    return false;
}

static bool status_line(const char *l, size_t len)
{
    return (len >= 3 && !memcmp(l, "+OK", 3) && (len == 3 || l[3] == ' ')) ||
           (len >= 4 && !memcmp(l, "-ERR", 4) && (len == 4 || l[4] == ' '));
}

static void check_output(const struct buf *out)
{
    size_t pos = 0;
    bool after_ok = false, in_body = false, first = true;
    while (pos < out->len) {
        const char *l = out->data + pos;
        const char *end = memmem(l, out->len - pos, "\r\n", 2);
        must(end != NULL);
        size_t len = (size_t)(end - l);
        must(!memchr(l, '\r', len) && !memchr(l, '\n', len));
        if (first)
            must(len >= 3 && !memcmp(l, "+OK", 3));
        first = false;
        if (in_body) {
            if (len == 1 && l[0] == '.')
                in_body = false;
            else /* stuffed, and no status line where a body's end was due */
                must((l[0] != '.' || (len >= 2 && l[1] == '.')) && !status_line(l, len));
        } else if (status_line(l, len)) {
            after_ok = l[0] == '+';
        } else {
            must(after_ok); /* a body follows a +OK */
            after_ok = false;
            in_body = !(len == 1 && l[0] == '.');
            if (in_body)
                must(l[0] != '.' || (len >= 2 && l[1] == '.'));
        }
        pos += len + 2;
    }
    must(!in_body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv.loop)
        setup();
    if (size < 1)
        return 0;
    size_t n = data[0] % 32;
    if (n > size - 1)
        n = size - 1;
    struct fuzz_client c;
    fuzz_client_start(&c, srv.loop, data + 1 + n, size - 1 - n, box_idle);
    hand_over(c.peer, data + 1, n);
    close(c.peer); /* pop3d-mailbox has its own copy now */
    event_run(srv.loop);
    fuzz_client_done(&c);
    check_output(&c.in);
    fuzz_client_free(&c);
    if (has_word(data, size, "dele") && has_word(data, size, "quit"))
        make_mailbox();
    return 0;
}
