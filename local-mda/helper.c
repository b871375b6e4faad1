/* helper.c - local-mda's helper: the one part of local-mda that keeps root's privileges
 * (in an instance started by root), so that alias commands and alias files run as
 * default_privs rather than as vmail_owner, which owns every mailbox.
 *
 * local-mda forks it before dropping its privileges (pre_init) and talks to it over a
 * socketpair: no one else can reach it. A request names one command or file delivery
 * (doc/ipc.md, "local-mda's helper") with the queue file's descriptor attached; for each,
 * the helper forks a child that drops to default_privs at once (refusing root, mail_owner
 * and vmail_owner), reads the message through the descriptor, delivers (pipe.c, mbox.c)
 * and writes its outcome into a pipe; the helper answers with that outcome. A child that
 * does not finish within the job's limits (command_time_limit, or the file lock attempts)
 * plus HELPER_MARGIN is ended; one that dies without an answer defers the delivery. The
 * helper ends when local-mda's end of the socket closes, ending a child still at work.
 *
 * SECURITY: the helper never runs anything itself and never parses mail; it checks each
 * request strictly (any unknown, missing or repeated attribute ends it) and passes only
 * what local-mda sent, which comes from alias tables and include files (expand.c). */
#include "helper.h"
#include "buf.h"
#include "fileio.h"
#include "log.h"
#include "mem.h"
#include "privs.h"
#include <bsd/unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HELPER_MARGIN 30 /* seconds beyond a job's own limits */
#define RESULT_MAX 4096  /* a child's answer, at most */

long long helper_job_limit(struct config *cfg)
{
    long long lock = config_int(cfg, PARAM(deliver_lock_attempts)) *
                     config_int(cfg, PARAM(deliver_lock_delay));
    long long cmd = config_int(cfg, PARAM(command_time_limit));
    return (cmd > lock ? cmd : lock) + HELPER_MARGIN;
}

/* --- the child: become default_privs, deliver, answer --- */

struct relay {
    int (*fn)(void *ctx, const char *data, size_t len);
    void *ctx;
    bool stopped;
};

static int relay_chunk(void *ctx, const char *data, size_t len)
{
    struct relay *r = ctx;
    if (r->fn(r->ctx, data, len) == 0)
        return 0;
    r->stopped = true;
    return -1;
}

int special_message(struct special_job *j, int (*fn)(void *ctx, const char *data, size_t len),
                    void *ctx, char **err)
{
    struct buf h = BUF_INIT;
    delivery_headers(&h, j->sender, j->recipient);
    int stop = fn(ctx, h.data, h.len);
    buf_free(&h);
    if (stop)
        return 1;
    struct relay r = {fn, ctx, false};
    *err = NULL;
    if (queue_read_body(j->qfd, &j->msg, relay_chunk, &r, err) < 0 && !r.stopped) {
        if (!*err)
            *err = xstrdup("cannot read the message");
        return -1;
    }
    return r.stopped ? 1 : 0;
}

/* Drop to default_privs (in an instance started by root); the user and home in j. */
static int become_user(struct special_job *j, char **err)
{
    struct config *cfg = j->cfg;
    const char *user = config_str(cfg, PARAM(default_privs));
    struct passwd *pw;
    if (!privs_is_root()) { /* an unprivileged instance: everything runs as its user */
        pw = getpwuid(geteuid());
    } else {
        uid_t uid, other;
        gid_t gid;
        if (privs_lookup(user, &uid, &gid, err) < 0)
            return -1;
        bool bad = uid == 0;
        const char *owners[] = {PARAM(mail_owner), PARAM(vmail_owner)};
        for (int i = 0; i < 2; i++) {
            char *e = NULL;
            if (privs_lookup(config_str(cfg, owners[i]), &other, &gid, &e) == 0 && other == uid)
                bad = true;
            free(e);
        }
        if (bad) {
            *err = xasprintf("default_privs = %s is root, mail_owner or vmail_owner", user);
            return -1;
        }
        pw = getpwnam(user);
        if (privs_drop(user, NULL, err) < 0)
            return -1;
    }
    j->user = xstrdup(pw ? pw->pw_name : user);
    j->home = xstrdup(pw && pw->pw_dir ? pw->pw_dir : "/");
    return 0;
}

static _Noreturn void child(struct special_job *j, int result_fd)
{
    struct outcome o = {0};
    char *err = NULL;
    if (become_user(j, &err) < 0)
        outcome_set(&o, "defer", "4.3.5", "%s", err);
    else if (queue_read(j->qfd, j->queue_id, &j->msg, &err) < 0)
        outcome_set(&o, "defer", "4.3.0", "cannot read queue file: %s", err);
    else if (j->kind == ALIAS_COMMAND)
        pipe_deliver(j, &o);
    else
        mbox_deliver(j, &o);
    struct attrs a = {0};
    struct buf b = BUF_INIT;
    attrs_add(&a, "status", o.status);
    attrs_add(&a, "dsn", o.dsn);
    attrs_add(&a, "reason", o.reason);
    ipc_encode(&b, &a);
    _exit(write_full(result_fd, b.data, b.len) == 0 ? 0 : 1);
}

/* --- the helper: one job at a time --- */

static bool dsn_ok(const char *s)
{
    return s && (s[0] == '2' || s[0] == '4' || s[0] == '5') && s[1] == '.' && strlen(s) <= 9;
}

/* The child's answer in b, checked, into o. */
static void take_result(struct buf *b, struct outcome *o)
{
    struct attrs a = {0};
    size_t used;
    char *err = NULL;
    const char *st = NULL, *dsn = NULL, *reason = NULL;
    if (ipc_decode(b->data ? b->data : "", b->len, &a, &used, &err) == 1 && a.n == 3) {
        st = attrs_get(&a, "status"), dsn = attrs_get(&a, "dsn"), reason = attrs_get(&a, "reason");
        if (st && strcmp(st, "sent") && strcmp(st, "defer") && strcmp(st, "bounce"))
            st = NULL;
    }
    if (st && dsn_ok(dsn) && reason)
        outcome_set(o, st, dsn, "%s", reason);
    else
        outcome_set(o, "defer", "4.3.0", "delivery process ended without an answer");
    free(err);
    attrs_free(&a);
}

/* Collect the child's answer until it closes its pipe, local-mda goes away (false) or the
 * job's time is up (the child is ended). */
static bool collect(pid_t pid, int rfd, int sock, long long limit, struct buf *b)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool alive = true;
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long left_ms = limit * 1000 - ((now.tv_sec - t0.tv_sec) * 1000 +
                                            (now.tv_nsec - t0.tv_nsec) / 1000000);
        struct pollfd p[2] = {{.fd = rfd, .events = POLLIN}, {.fd = sock, .events = POLLIN}};
        int n = left_ms > 0 ? poll(p, 2, (int)(left_ms > 1000 ? 1000 : left_ms)) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (p[1].revents) { /* local-mda never writes during a job: it is gone */
            alive = false;
            break;
        }
        if (left_ms <= 0) {
            log_warn("delivery process %d ran longer than %lld s; ending it", (int)pid, limit);
            break;
        }
        if (p[0].revents) {
            char chunk[512];
            ssize_t r = read(rfd, chunk, sizeof chunk);
            if (r <= 0 && !(r < 0 && errno == EINTR))
                return true;
            if (r > 0 && b->len + (size_t)r <= RESULT_MAX)
                buf_append(b, chunk, (size_t)r);
        }
    }
    kill(pid, SIGTERM); /* pipe.c ends its command's process group */
    for (int i = 0; i < 20 && waitpid(pid, NULL, WNOHANG) == 0; i++)
        usleep(50 * 1000);
    kill(pid, SIGKILL);
    return alive;
}

/* Run one job in a child; false when local-mda went away meanwhile. */
static bool run_job(struct special_job *j, int sock, struct outcome *o)
{
    int rp[2];
    if (pipe2(rp, O_CLOEXEC) < 0) {
        outcome_set(o, "defer", "4.3.0", "pipe: %s", strerror(errno));
        return true;
    }
    pid_t pid = fork();
    if (pid < 0) {
        outcome_set(o, "defer", "4.3.0", "fork: %s", strerror(errno));
        close(rp[0]);
        close(rp[1]);
        return true;
    }
    if (pid == 0) {
        close(rp[0]);
        close(sock);
        signal(SIGTERM, SIG_DFL);
        child(j, rp[1]);
    }
    close(rp[1]);
    struct buf b = BUF_INIT;
    bool alive = collect(pid, rp[0], sock, helper_job_limit(j->cfg), &b);
    close(rp[0]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    take_result(&b, o);
    buf_free(&b);
    return alive;
}

/* The request, strictly: request=command|file, queue_id, sender, recipient,
 * original_recipient, target, the optional extension, and nothing else. */
static bool parse_request(const struct attrs *a, struct special_job *j)
{
    static const char *const names[] = {"request", "queue_id", "sender", "recipient",
                                        "original_recipient", "target", "extension"};
    const char *v[7];
    size_t found = 0;
    for (size_t i = 0; i < 7; i++)
        found += (v[i] = attrs_get(a, names[i])) != NULL;
    if (found != a->n || !v[0] || !v[1] || !queue_id_valid(v[1]) || !v[2] || !v[3] ||
        !*v[3] || !v[4] || !v[5] || !*v[5])
        return false;
    if (strcmp(v[0], "command") == 0)
        j->kind = ALIAS_COMMAND;
    else if (strcmp(v[0], "file") == 0 && v[5][0] == '/')
        j->kind = ALIAS_FILE;
    else
        return false;
    j->queue_id = v[1], j->sender = v[2], j->recipient = v[3], j->original = v[4];
    j->target = v[5], j->extension = v[6];
    return true;
}

static _Noreturn void helper_main(struct config *cfg, int sock)
{
    struct ipc_conn c;
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    setproctitle("-local-mda helper -c %s", config_dir(cfg));
    ipc_conn_init(&c, sock, 0);
    for (;;) {
        struct attrs req = {0}, rep = {0};
        char *err = NULL;
        int r = ipc_recv(&c, &req, &err);
        int qfd = c.passed_fd;
        c.passed_fd = -1;
        struct special_job j = {.cfg = cfg, .qfd = qfd};
        if (r <= 0 || qfd < 0 || !parse_request(&req, &j)) {
            if (r != 0)
                log_warn("helper: bad request from local-mda: %s", err ? err : "malformed");
            _exit(r == 0 ? 0 : 1);
        }
        struct outcome o = {0};
        bool alive = run_job(&j, sock, &o);
        close(qfd);
        attrs_add(&rep, "status", o.status);
        attrs_add(&rep, "dsn", o.dsn);
        attrs_add(&rep, "reason", o.reason);
        if (!alive || ipc_send(&c, &rep, -1) < 0)
            _exit(0);
        outcome_free(&o);
        free(err);
        attrs_free(&req);
        attrs_free(&rep);
    }
}

void helper_start(struct mda *m, int listen_fd)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        log_fatal("socketpair: %m");
    pid_t pid = fork();
    if (pid < 0)
        log_fatal("fork: %m");
    if (pid == 0) {
        close(sv[0]);
        if (listen_fd >= 0)
            close(listen_fd); /* local-mda's listener is none of the helper's business */
        helper_main(m->cfg, sv[1]);
    }
    close(sv[1]);
    ipc_conn_init(&m->helper, sv[0], 0);
}
