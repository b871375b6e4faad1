/* fuzz_imap_login.c - libFuzzer target: the imapd login program's not-authenticated state
 * (imapd/login on lib/login's skeleton), bytes in, replies and handoffs out. The login
 * program's own sources run unchanged (main.c is included here with its main() renamed:
 * SERVER_MAIN's "main" is rescanned into the macro below) on a private event loop, with
 * plaintext logins allowed, no failure delay, imapd_line_length_limit at its minimum (so
 * that too-long lines and literals fit in a 64 KB input), and one account,
 * alice@example.test with the password "secret" (a cheap Argon2id hash). The post-login side
 * is a handoff receiver (lib/login/login_handoff.h) on SPOOL/private/imap-mailbox in this
 * process that accepts every request after checking it. Invariants: no crash or leak; the
 * output is complete CRLF lines; the first is "* OK [CAPABILITY ..."; every line starts
 * with "* ", "+ " or a valid tag (RFC 9051 tag chars) that began a client line, followed by
 * OK, NO or BAD; an AUTHENTICATE exchange ends in a tagged reply (never an untagged BAD
 * after a SASL challenge); a "+ OK" continuation goes out only for a client line ending in a
 * synchronising literal "{N}" (never "{N+}"); a session is handed over only for
 * alice@example.test, with service imap, method LOGIN or PLAIN, a well-formed session id, a
 * valid tag attribute equal to a tag the client sent, pipelined input (if any) taken from
 * the client's bytes, and only after the client sent the password. */
#define main imap_login_main_unused
#include "../../imapd/login/main.c"
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

/* RFC 9051 tag: 1*<any ASTRING-CHAR except "+">, which leaves the visible ASCII characters
 * but ( ) { % * " \ +; at most IMAP_TAG_MAX of them here. */
static bool tag_ok(const char *t, size_t len)
{
    if (len == 0 || len > IMAP_TAG_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)t[i] <= ' ' || (unsigned char)t[i] >= 0x7f || strchr("(){%*\"\\+", t[i]))
            return false;
    return true;
}

/* The client began a line with tag t (then a space or the line end). */
static bool client_tag(const char *t, size_t len)
{
    for (size_t i = 0; i + len <= input_len; i++) {
        if (i > 0 && input[i - 1] != '\n')
            continue;
        if (memcmp(input + i, t, len) == 0 &&
            (i + len == input_len || strchr(" \r\n", input[i + len])))
            return true;
    }
    return false;
}

static bool password_sent(void) { return fuzz_password_sent(input, input_len); }

/* The commands pipelined behind the login are bytes the client sent. */
static bool input_ok(const char *b64)
{
    if (!b64)
        return true;
    struct buf b = BUF_INIT;
    bool ok = base64_decode(b64, strlen(b64), &b) && b.len > 0 &&
              memmem(input, input_len, b.data, b.len) != NULL;
    buf_free(&b);
    return ok;
}

static void on_handoff(void *ctx, struct handoff_in *h, const struct attrs *req, int fd,
                       const char *err)
{
    (void)ctx, (void)err;
    handoffs--;
    if (!req)
        abort(); /* the login program sent a request the receiver could not take */
    const char *user = attrs_get(req, "user"), *svc = attrs_get(req, "service");
    const char *method = attrs_get(req, "method"), *tag = attrs_get(req, "tag");
    const char *tls = attrs_get(req, "tls");
    must(user && !strcmp(user, "alice@example.test") && svc && !strcmp(svc, "imap") && method &&
         (!strcmp(method, "LOGIN") || !strcmp(method, "PLAIN")) &&
         fuzz_session_id_ok(attrs_get(req, "session")) && tls && !strcmp(tls, "no"));
    must(tag && tag_ok(tag, strlen(tag)) && client_tag(tag, strlen(tag)));
    must(input_ok(attrs_get(req, "input")));
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
    set(cfg, "imapd_line_length_limit", "1024");
    fuzz_add_alice(cfg);
    srv = (struct server){.cfg = cfg, .loop = event_loop_new(), .program = "imap-login",
                          .service = "fuzz", .transport = "inet", .spool = dir, .listen_fd = -1};
    pre_init(&srv);
    post_init(&srv);
    snprintf(p, sizeof p, "%s/private/imap-mailbox", dir);
    listen_post_login(p);
}

static bool login_idle(void)
{
    struct imap_login_process *d = srv.app;
    return login_server_busy(d->login) == 0 && handoffs == 0;
}

/* Client lines (up to LF, CR before it dropped) ending in a synchronising literal "{N}"
 * ("~{N}" included): the most "+ OK" continuations the login may send. */
static size_t sync_literals(void)
{
    size_t count = 0;
    for (size_t i = 0; i < input_len;) {
        const uint8_t *nl = memchr(input + i, '\n', input_len - i);
        if (!nl)
            break;
        size_t len = (size_t)(nl - (input + i));
        if (len > 0 && input[i + len - 1] == '\r')
            len--;
        const uint8_t *l = input + i;
        if (len >= 3 && l[len - 1] == '}') {
            size_t d = len - 1;
            while (d > 0 && l[d - 1] >= '0' && l[d - 1] <= '9')
                d--;
            if (d < len - 1 && d > 0 && l[d - 1] == '{')
                count++;
        }
        i = (size_t)(nl - input) + 1;
    }
    return count;
}

static bool starts(const char *l, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && !memcmp(l, prefix, n);
}

static void check_output(const struct buf *out)
{
    size_t pos = 0, continuations = 0;
    bool first = true, in_sasl = false;
    while (pos < out->len) {
        const char *l = out->data + pos;
        const char *end = memmem(l, out->len - pos, "\r\n", 2);
        must(end != NULL);
        size_t len = (size_t)(end - l);
        must(!memchr(l, '\r', len) && !memchr(l, '\n', len) && !memchr(l, 0, len));
        must(!first || starts(l, len, "* OK [CAPABILITY "));
        first = false;
        /* An AUTHENTICATE exchange ends in its tagged reply (or the handoff, or BYE). */
        must(!in_sasl || starts(l, len, "+ ") || starts(l, len, "* BYE") || !starts(l, len, "* "));
        in_sasl = false;
        if (starts(l, len, "+ ")) {
            if (len == 4 && !memcmp(l, "+ OK", 4))
                continuations++;
            else
                in_sasl = true; /* a SASL challenge */
        } else if (!starts(l, len, "* ")) {
            const char *sp = memchr(l, ' ', len);
            must(sp != NULL);
            size_t tl = (size_t)(sp - l);
            must(tag_ok(l, tl) && client_tag(l, tl));
            size_t rest = len - tl - 1;
            must(starts(sp + 1, rest, "OK ") || starts(sp + 1, rest, "NO ") ||
                 starts(sp + 1, rest, "BAD "));
        }
        pos += len + 2;
    }
    must(continuations <= sync_literals());
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
