/* fuzz_smtpd.c - libFuzzer target: the smtpd session state machine, bytes in, replies and
 * queue files out. smtpd's own sources run unchanged (main.c is included here with its main()
 * renamed, so its pre_init and the engine it starts are the real ones) on a private event loop
 * with a temporary spool and account database (user alice@example.test); the client is the
 * other end of a socket pair. The first byte picks smtpd_forbid_bare_newline; the rest is what
 * the client sends, then it half-closes. Invariants: no crash or leak, and those of
 * fuzz_smtp_check.h (well-formed replies; every "queued as" file complete, nothing else in
 * the queue, tmp/ empty). */
#define main smtpd_main_unused
#include "../../smtpd/main.c"
#undef main
#include "fuzz_client.h"
#include "fuzz_common.h"
#include "fuzz_daemon.h"
#include "fuzz_login_account.h"
#include "fuzz_smtp_check.h"
#include "queue.h"
#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>

static struct server srv;
static char spool[700];

static void setup(void)
{
    struct config *cfg = fuzz_smtp_setup(fuzz_dir(), spool, sizeof spool);
    fuzz_add_alice(cfg);
    srv = (struct server){.cfg = cfg, .loop = event_loop_new(), .program = "smtpd",
                          .service = "fuzz", .transport = "inet", .spool = spool, .listen_fd = -1};
    pre_init(&srv);
    smtpd_post_init(&srv);
}

/* The session is gone and no commit is outstanding. */
static bool smtpd_idle(void)
{
    struct smtpd *d = srv.app;
    return d->sessions.count == 0 && committer_pending(d->committer) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv.loop)
        setup();
    if (size < 1)
        return 0;
    struct smtpd *d = srv.app;
    d->p.bare_lf = data[0] % 3 == 1 ? SMTP_LF_REJECT : data[0] % 3 == 2 ? SMTP_LF_ALLOW
                                                                          : SMTP_LF_NORMALIZE;
    struct fuzz_client c;
    fuzz_client_start(&c, srv.loop, data + 1, size - 1, smtpd_idle);
    session_accept(d, c.peer);
    event_run(srv.loop);
    fuzz_client_done(&c);
    struct buf ids = BUF_INIT;
    check_smtp_replies(&c.in, &ids);
    check_smtp_spool(spool, &ids, NULL);
    fuzz_client_free(&c);
    buf_free(&ids);
    return 0;
}
