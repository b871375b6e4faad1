/* fuzz_pop3_login.c - libFuzzer target: the pop3d login program's AUTHORIZATION state
 * machine (pop3d/login on lib/login's skeleton), bytes in, replies and handoffs out. The
 * login program's own sources run unchanged (main.c is included here with its main()
 * renamed) on a private event loop, with plaintext logins allowed, no failure delay, and one
 * account, alice@example.test with the password "secret" (a cheap Argon2id hash, so the
 * fuzzer is not slowed down by it; unknown names still cost the dummy hash). The post-login
 * side is a handoff receiver (lib/login/login_handoff.h) on SPOOL/private/pop3-mailbox in
 * this process that accepts every request after checking it. Invariants: no crash or leak;
 * the output is complete CRLF lines, each "+OK", "-ERR" or a "+ " continuation outside a
 * multi-line body (CAPA, AUTH's list), which follows only a "+OK" and ends with "."; the
 * first line is "+OK"; a session is handed over only for alice@example.test, with
 * service pop3, a known method and a well-formed session id, and only after the client sent
 * the password. */
#define main pop3_login_main_unused
#include "../../pop3d/login/main.c"
#undef main
#include "accounts.h"
#include "base64.h"
#include "fuzz_client.h"
#include "fuzz_common.h"
#include "fuzz_daemon.h"
#include "fuzz_login_account.h"
#include "login_handoff.h"
#include "unixsock.h"
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static struct server srv;
static unsigned handoffs; /* requests being received */
static const uint8_t *input; /* this run's client bytes */
static size_t input_len;

static bool password_sent(void) { return fuzz_password_sent(input, input_len); }

static void on_handoff(void *ctx, struct handoff_in *h, const struct attrs *req, int fd,
                       const char *err)
{
    (void)ctx, (void)err;
    handoffs--;
    if (!req)
        abort(); /* the login program sent a request the receiver could not take */
    const char *user = attrs_get(req, "user"), *svc = attrs_get(req, "service");
    const char *method = attrs_get(req, "method");
    must(user && !strcmp(user, "alice@example.test") && svc && !strcmp(svc, "pop3") && method &&
         (!strcmp(method, "USER") || !strcmp(method, "PLAIN") || !strcmp(method, "LOGIN")) &&
         fuzz_session_id_ok(attrs_get(req, "session")));
    must(password_sent());
    handoff_in_finish(h, true, NULL);
    close(fd); /* the client sees the end of the session */
}

static void on_listen(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    int s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (s < 0)
        return;
    handoffs++;
    handoff_in_start(loop, s, getuid(), 10000, on_handoff, NULL);
}

static void listen_post_login(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    must(strlen(path) < sizeof sa.sun_path);
    strcpy(sa.sun_path, path);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    must(l >= 0 && bind(l, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(l, 16) == 0);
    must(event_add(srv.loop, l, EPOLLIN, on_listen, NULL) == 0);
}

static void setup(void)
{
    const char *dir = fuzz_dir();
    char p[700];
    snprintf(p, sizeof p, "%s/private", dir);
    must(mkdir(p, 0700) == 0);
    struct config *cfg = config_defaults(dir);
    snprintf(p, sizeof p, "%s/accounts.lmdb", dir);
    set(cfg, "account_database", p);
    set(cfg, "queue_directory", dir);
    set(cfg, "login_allow_plaintext_auth", "yes");
    set(cfg, "login_failure_delay", "0");
    set(cfg, "login_max_failures", "100000");
    fuzz_add_alice(cfg);
    srv = (struct server){.cfg = cfg, .loop = event_loop_new(), .program = "pop3-login",
                          .service = "fuzz", .transport = "inet", .spool = dir, .listen_fd = -1};
    pre_init(&srv);
    post_init(&srv);
    snprintf(p, sizeof p, "%s/private/pop3-mailbox", dir);
    listen_post_login(p);
}

static bool login_idle(void)
{
    struct pop3_login_process *d = srv.app;
    return login_server_busy(d->login) == 0 && handoffs == 0;
}

static bool status_line(const char *l, size_t len)
{
    return (len >= 3 && !memcmp(l, "+OK", 3) && (len == 3 || l[3] == ' ')) ||
           (len >= 4 && !memcmp(l, "-ERR", 4) && (len == 4 || l[4] == ' ')) ||
           (len >= 1 && l[0] == '+' && (len == 1 || l[1] == ' '));
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
        must(!first || (len >= 3 && !memcmp(l, "+OK", 3)));
        first = false;
        if (in_body) {
            in_body = !(len == 1 && l[0] == '.');
            must(!status_line(l, len)); /* a status line where the body's end was due */
        } else if (status_line(l, len)) {
            after_ok = len >= 3 && !memcmp(l, "+OK", 3);
        } else {
            must(after_ok); /* a multi-line body (CAPA, AUTH's list) follows a +OK */
            after_ok = false;
            in_body = !(len == 1 && l[0] == '.');
        }
        pos += len + 2;
    }
    must(!in_body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv.loop)
        setup();
    input = data, input_len = size;
    struct fuzz_client c;
    fuzz_client_start(&c, srv.loop, data, size, login_idle);
    on_accept(&srv, c.peer);
    event_run(srv.loop);
    fuzz_client_done(&c);
    check_output(&c.in);
    fuzz_client_free(&c);
    return 0;
}
