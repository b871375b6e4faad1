/* fuzz_submission.c - libFuzzer target: submission's session on the SMTP server engine, with
 * the AUTH command and its SASL PLAIN/LOGIN exchanges (submission/auth.c, lib/auth/sasl.c)
 * first in line. submission's own sources run unchanged (main.c is included here with its
 * main() renamed) on a private event loop with a temporary spool and account database (user
 * alice@example.test, password "secret"); the client is the other end of a socket pair,
 * which the role takes for a loopback client, with submission_plaintext_auth_loopback on so
 * that AUTH works without TLS. There is no anvil: logins and limits fall back to the
 * process's own counts. Input: what the client sends, then it half-closes. Invariants: no
 * crash or leak; those of fuzz_smtp_check.h (well-formed replies; every "queued as" file
 * complete, nothing else in the queue, tmp/ empty); "235" only after the client sent the
 * password; every queued message was sent by alice (sasl_username) with an envelope sender
 * alice owns, after a 235. */
#define main submission_main_unused
#include "../../submission/main.c"
#undef main
#include "fuzz_client.h"
#include "fuzz_common.h"
#include "fuzz_daemon.h"
#include "fuzz_login_account.h"
#include "fuzz_smtp_check.h"

static struct server srv;
static struct smtpd_hooks hooks;
static const uint8_t *input;
static size_t input_len;
static char spool[700];

/* The socket pair's peer has no IP address: the session is a loopback client's. */
static void session_start_loopback(struct session *s)
{
    snprintf(s->addr, sizeof s->addr, "127.0.0.1");
    submission_hooks.session_start(s);
}

static void setup(void)
{
    struct config *cfg = fuzz_smtp_setup(fuzz_dir(), spool, sizeof spool);
    set(cfg, "submission_plaintext_auth_loopback", "yes");
    set(cfg, "login_failure_delay", "0");
    set(cfg, "login_max_failures", "100000");
    set(cfg, "submission_message_rate_limit", "0"); /* no counts that carry over runs */
    set(cfg, "submission_recipient_rate_limit", "0");
    set(cfg, "submission_message_hard_limit", "0");
    set(cfg, "submission_recipient_hard_limit", "0");
    fuzz_add_alice(cfg);
    srv = (struct server){.cfg = cfg, .loop = event_loop_new(), .program = "submission",
                          .service = "fuzz", .transport = "inet", .spool = spool, .listen_fd = -1};
    pre_init(&srv);
    post_init(&srv);
    struct smtpd *d = srv.app;
    hooks = submission_hooks;
    hooks.session_start = session_start_loopback;
    d->hooks = &hooks;
}

static bool submission_idle(void)
{
    struct smtpd *d = srv.app;
    return d->sessions.count == 0 && busy(&srv) == 0;
}

static void check_message(const struct queue_msg *m)
{
    const char *user = queue_msg_attr(m, "sasl_username");
    must(user && strcmp(user, "alice@example.test") == 0);
    must(!*m->sender || strncasecmp(m->sender, "alice", 5) == 0);
}

/* A 235 only after the password was sent, and every "queued as" after a 235. */
static void check_logins(const struct buf *out)
{
    static const char queued[] = "250 2.0.0 Ok: queued";
    bool authenticated = false;
    for (size_t pos = 0; pos < out->len;) { /* complete lines: check_smtp_replies said so */
        const char *line = out->data + pos, *end = memmem(line, out->len - pos, "\r\n", 2);
        size_t len = (size_t)(end - line);
        if (len >= 3 && !memcmp(line, "235", 3)) {
            must(fuzz_password_sent(input, input_len));
            authenticated = true;
        }
        if (len >= sizeof queued - 1 && !memcmp(line, queued, sizeof queued - 1))
            must(authenticated);
        pos += len + 2;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv.loop)
        setup();
    input = data, input_len = size;
    struct fuzz_client c;
    fuzz_client_start(&c, srv.loop, data, size, submission_idle);
    smtpd_accept(&srv, c.peer);
    event_run(srv.loop);
    fuzz_client_done(&c);
    struct buf ids = BUF_INIT;
    check_smtp_replies(&c.in, &ids);
    check_logins(&c.in);
    check_smtp_spool(spool, &ids, check_message);
    fuzz_client_free(&c);
    buf_free(&ids);
    return 0;
}
