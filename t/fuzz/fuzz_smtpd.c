/* fuzz_smtpd.c - libFuzzer target: the smtpd session state machine, bytes in, replies and
 * queue files out. smtpd's own sources run unchanged (main.c is included here with its main()
 * renamed, so its pre_init and the engine it starts are the real ones) on a private event loop
 * with a temporary spool and account database (user alice@example.test); the client is the
 * other end of a socket pair. The first byte picks smtpd_forbid_bare_newline; the rest is what
 * the client sends, then it half-closes. Invariants: no crash or leak; the output is complete
 * CRLF lines, each a well-formed SMTP reply (3 digits from 2xx to 5xx, '-' or ' ', text
 * without CR), the lines of a multi-line reply sharing one code; the first reply is 220; a
 * "250 2.0.0 Ok: queued as ID" names a complete queue file in incoming/ (queue_read accepts
 * it, with recipients) and every file in incoming/ was acknowledged that way; tmp/ is left
 * empty. */
#define main smtpd_main_unused
#include "../../smtpd/main.c"
#undef main
#include "fuzz_client.h"
#include "fuzz_common.h"
#include "fuzz_daemon.h"
#include "queue.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

static struct server srv;
static char spool[700];

static void add_account(struct config *cfg)
{
    char *err = NULL;
    struct accounts *a = accounts_open(cfg, true, &err);
    struct account_user u = {"alice@example.test", "", -1};
    must(a && accounts_domain_add(a, "example.test", &err) == 0 &&
         accounts_user_put(a, &u, &err) == 0);
    accounts_close(a);
}

static void setup(void)
{
    const char *dir = fuzz_dir();
    snprintf(spool, sizeof spool, "%s/spool", dir);
    must(mkdir(spool, 0700) == 0);
    for (size_t i = 0; queue_dirs[i]; i++) {
        char p[800];
        snprintf(p, sizeof p, "%s/%s", spool, queue_dirs[i]);
        must(mkdir(p, 0700) == 0);
    }
    struct config *cfg = config_defaults(dir);
    char db[700];
    snprintf(db, sizeof db, "%s/accounts.lmdb", dir);
    set(cfg, "queue_directory", spool);
    set(cfg, "account_database", db);
    set(cfg, "myhostname", "mx.example.test");
    set(cfg, "myorigin", "example.test");
    set(cfg, "mydomain", "example.test");
    set(cfg, "smtpd_tls_security_level", "none");
    set(cfg, "smtpd_error_sleep_time", "0"); /* no tarpit timers: fuzzing wants speed */
    set(cfg, "message_size_limit", "20000"); /* reachable within an input */
    set(cfg, "smtpd_recipient_limit", "5");
    add_account(cfg);
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

static bool is_code(const char *p) { return p[0] >= '2' && p[0] <= '5' && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]); }

/* Checks the reply lines; returns the acknowledged queue IDs, one per line. */
static void check_replies(const struct buf *out, struct buf *ids)
{
    size_t pos = 0;
    char code[4] = "";
    bool in_multi = false, first = true;
    while (pos < out->len) {
        const char *line = out->data + pos;
        const char *end = memmem(line, out->len - pos, "\r\n", 2);
        must(end != NULL);
        size_t len = (size_t)(end - line);
        must(len >= 3 && is_code(line) && (len == 3 || line[3] == ' ' || line[3] == '-'));
        must(!memchr(line, '\r', len) && !memchr(line, '\n', len) && !memchr(line, 0, len));
        must(!in_multi || memcmp(code, line, 3) == 0);
        must(!first || memcmp(line, "220", 3) == 0 || memcmp(line, "421", 3) == 0);
        first = false;
        memcpy(code, line, 3);
        in_multi = len > 3 && line[3] == '-';
        static const char ack[] = "250 2.0.0 Ok: queued as ";
        if (len > sizeof ack - 1 && memcmp(line, ack, sizeof ack - 1) == 0) {
            buf_append(ids, line + sizeof ack - 1, len - (sizeof ack - 1));
            buf_putc(ids, '\n');
        }
        pos += len + 2;
    }
    must(!in_multi);
}

static void check_queue_file(const char *id)
{
    must(queue_id_valid(id));
    char *path = queue_path(spool, QUEUE_INCOMING, id);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    must(fd >= 0);
    struct queue_msg m;
    char *err = NULL;
    must(queue_read(fd, id, &m, &err) == 0 && m.nrcpts >= 1);
    queue_msg_free(&m);
    close(fd);
    must(unlink(path) == 0);
    free(path);
}

/* Every acknowledged file is there and complete (and removed); nothing else is left. */
static void check_spool(const struct buf *ids)
{
    for (size_t pos = 0; pos < ids->len;) {
        const char *nl = memchr(ids->data + pos, '\n', ids->len - pos);
        char *id = xstrndup(ids->data + pos, (size_t)(nl - (ids->data + pos)));
        check_queue_file(id);
        free(id);
        pos = (size_t)(nl - ids->data) + 1;
    }
    static const char *const empty[] = {QUEUE_INCOMING, QUEUE_TMP};
    for (size_t i = 0; i < 2; i++) {
        char p[800];
        snprintf(p, sizeof p, "%s/%s", spool, empty[i]);
        DIR *dir = opendir(p);
        must(dir != NULL);
        struct dirent *e;
        while ((e = readdir(dir)))
            must(e->d_name[0] == '.');
        closedir(dir);
    }
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
    check_replies(&c.in, &ids);
    check_spool(&ids);
    fuzz_client_free(&c);
    buf_free(&ids);
    return 0;
}
