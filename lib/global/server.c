/* server.c - the service skeleton (see server.h). */
#include "server.h"
#include "log.h"
#include "log_config.h"
#include "mem.h"
#include "privs.h"
#include <bsd/unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define DRAIN_TIMEOUT_MS (10 * 60 * 1000)

static volatile sig_atomic_t got_term, got_hup;
/* Self-pipe: the handlers wake the event loop at once, so a reload's old generation stops
 * accepting before the new one starts (not at the next tick). */
static int signal_pipe[2] = {-1, -1};

static void wake_loop(void)
{
    int saved = errno;
    if (signal_pipe[1] >= 0 && write(signal_pipe[1], "s", 1) < 0) {
        /* the pipe is full: the loop is already awake */
    }
    errno = saved;
}

static void on_term(int sig) { (void)sig; got_term = 1; wake_loop(); }
static void on_hup(int sig) { (void)sig; got_hup = 1; wake_loop(); }

struct skel {
    struct server srv;
    const struct server_def *def;
    long long drain_deadline;
};

void server_exit(struct server *srv) { event_stop(srv->loop); }

static void start_drain(struct skel *sk)
{
    struct server *srv = &sk->srv;
    if (srv->draining)
        return;
    srv->draining = true;
    sk->drain_deadline = event_now_ms() + DRAIN_TIMEOUT_MS;
    if (srv->listen_fd >= 0) {
        event_del(srv->loop, srv->listen_fd);
        close(srv->listen_fd);
        srv->listen_fd = -1;
    }
    if (sk->def->drain)
        sk->def->drain(srv);
}

static void on_listen(struct event_loop *loop, int fd, uint32_t events, void *ctx);

/* The processes of a service wait on the shared listener with EPOLLEXCLUSIVE: the kernel
 * wakes the first of them that sleeps in epoll_wait, so an idle process early in the
 * socket's wait queue would get every connection (one imapd-mailbox holding thousands of
 * sessions, the other none). Taking the listener out and adding it again puts this process
 * at the end of that queue: connections go round the idle processes (doc/master.md). */
static void requeue_listener(struct skel *sk, int fd)
{
    event_del(sk->srv.loop, fd);
    if (event_add(sk->srv.loop, fd, EPOLLIN | EPOLLEXCLUSIVE, on_listen, sk) < 0) {
        log_error("cannot watch the listening socket again: %m; finishing the sessions");
        start_drain(sk);
    }
}

/* One connection per wakeup: a backlog still drains (level-triggered), but through every
 * process that is free. */
static void on_listen(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct skel *sk = ctx;
    if (sk->srv.draining)
        return;
    int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
            log_warn("accept: %m");
        return;
    }
    sk->def->accept(&sk->srv, c);
    if (!sk->srv.draining)
        requeue_listener(sk, fd);
}

static void on_master(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct skel *sk = ctx;
    char b;
    ssize_t n = read(fd, &b, 1);
    if (n == 0 || (n < 0 && errno != EAGAIN)) {
        event_del(loop, fd);
        close(fd);
        log_debug("master went away; finishing open sessions");
        start_drain(sk);
    }
}

/* Act on SIGTERM/SIGHUP; true when the loop is stopping. */
static bool handle_signals(struct skel *sk)
{
    if (got_term) {
        if (sk->def->stop)
            sk->def->stop(&sk->srv);
        event_stop(sk->srv.loop);
        return true;
    }
    if (got_hup) {
        start_drain(sk);
        /* Nothing to finish: exit now, not at the next tick (a reload waits for the old
         * qmgr to exit before the new one starts). */
        if (!sk->def->busy || sk->def->busy(&sk->srv) == 0) {
            event_stop(sk->srv.loop);
            return true;
        }
    }
    return false;
}

static void on_signal_pipe(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    char buf[64];
    while (read(fd, buf, sizeof buf) > 0) {
    }
    handle_signals(ctx);
}

static void on_tick(struct event_loop *loop, void *ctx)
{
    struct skel *sk = ctx;
    if (handle_signals(sk))
        return;
    if (sk->def->tick)
        sk->def->tick(&sk->srv);
    if (sk->srv.draining) {
        unsigned busy = sk->def->busy ? sk->def->busy(&sk->srv) : 0;
        if (busy == 0 || event_now_ms() > sk->drain_deadline)
            event_stop(loop);
    }
}

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s [-c confdir] [-n service] [-t inet|unix] [-o name=value]... [-v]\n",
            prog);
    exit(2);
}

static bool fd_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

static void load_config(struct skel *sk, const char *confdir, char **overrides, int noverrides)
{
    struct errlist errs = {0};
    struct config *cfg = config_load(confdir, &errs);
    if (!cfg) {
        log_init(sk->def->program, "-");
        log_fatal("%s", errs.n ? errs.msgs[0] : "cannot load configuration");
    }
    for (int i = 0; i < noverrides; i++)
        config_override(cfg, overrides[i], "master.cf -o", &errs);
    errlist_free(&errs);
    sk->srv.cfg = cfg;
}

#ifdef POSTHORN_TEST_HOOKS
/* Test hook, compiled in only with the CMake option POSTHORN_TEST_HOOKS (t/run's builds):
 * POSTHORN_TEST_ABORT=PROGRAM makes that program abort on its way out, a crash with no
 * other visible effect; PROGRAM:overflow first reads past a heap buffer (a report under
 * ASan). t/integration/test_harness.py shows the harness fails a test on either. */
static void test_hook_exit(const char *program)
{
    const char *want = getenv("POSTHORN_TEST_ABORT");
    size_t n = strlen(program);
    if (!want || strncmp(want, program, n) != 0 || (want[n] != '\0' && want[n] != ':'))
        return;
    if (strcmp(want + n, ":overflow") == 0) {
        char *p = xmalloc(8);
        volatile size_t past = 8;
        log_warn("test hook: reading past a heap buffer (%d)", p[past]);
        free(p);
    }
    log_warn("test hook: aborting as POSTHORN_TEST_ABORT asks");
    abort();
}
#endif

int server_main(int argc, char **argv, const struct server_def *def)
{
    static struct skel sk;
    extern char **environ;
    setproctitle_init(argc, argv, environ);
    const char *confdir = getenv("POSTHORN_CONFIG");
    char **overrides = xcalloc((size_t)argc + 1, sizeof *overrides);
    int noverrides = 0, opt;
    bool verbose = false;
    sk.def = def;
    sk.srv.program = def->program;
    sk.srv.service = def->program;
    sk.srv.transport = "unix";
    while ((opt = getopt(argc, argv, "c:n:t:o:v")) != -1) {
        switch (opt) {
        case 'c': confdir = optarg; break;
        case 'n': sk.srv.service = optarg; break;
        case 't': sk.srv.transport = optarg; break;
        case 'o': overrides[noverrides++] = optarg; break;
        case 'v': verbose = true; break;
        default: usage(argv[0]);
        }
    }
    if (!confdir)
        confdir = "/etc/posthorn";
    /* Look at the inherited descriptors before anything (the log file) can take their numbers. */
    sk.srv.listen_fd = fd_open(SERVER_LISTEN_FD) ? SERVER_LISTEN_FD : -1;
    bool have_master = fd_open(SERVER_MASTER_FD);
    load_config(&sk, confdir, overrides, noverrides);
    log_config_init(sk.srv.cfg, def->log_name ? def->log_name : def->program, NULL);
    log_set_verbose(verbose || config_bool(sk.srv.cfg, PARAM(debug_log)));
    sk.srv.spool = config_str(sk.srv.cfg, PARAM(queue_directory));
    signal(SIGPIPE, SIG_IGN);
    if (pipe2(signal_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
        log_fatal("pipe: %m");
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    umask(077);

    if (def->pre_init)
        def->pre_init(&sk.srv);
    char *err = NULL;
    if (privs_drop(config_str(sk.srv.cfg, def->run_as), NULL, &err) < 0)
        log_fatal("%s", err);
    if (chdir(sk.srv.spool) < 0)
        log_fatal("chdir %s: %m", sk.srv.spool);
    setproctitle("-%s -n %s -c %s", def->program, sk.srv.service, confdir);

    sk.srv.loop = event_loop_new();
    if (def->post_init)
        def->post_init(&sk.srv);
    if (sk.srv.listen_fd >= 0) {
        fcntl(sk.srv.listen_fd, F_SETFL, fcntl(sk.srv.listen_fd, F_GETFL) | O_NONBLOCK);
        fcntl(sk.srv.listen_fd, F_SETFD, FD_CLOEXEC);
        if (event_add(sk.srv.loop, sk.srv.listen_fd, EPOLLIN | EPOLLEXCLUSIVE, on_listen, &sk) < 0)
            log_fatal("listen socket: %m");
    }
    if (have_master) {
        fcntl(SERVER_MASTER_FD, F_SETFL, fcntl(SERVER_MASTER_FD, F_GETFL) | O_NONBLOCK);
        fcntl(SERVER_MASTER_FD, F_SETFD, FD_CLOEXEC);
        event_add(sk.srv.loop, SERVER_MASTER_FD, EPOLLIN, on_master, &sk);
    }
    event_set_tick(sk.srv.loop, on_tick, &sk);
    if (event_add(sk.srv.loop, signal_pipe[0], EPOLLIN, on_signal_pipe, &sk) < 0)
        log_fatal("signal pipe: %m");
    handle_signals(&sk); /* a signal that came during start-up */
    log_debug("%s %s ready", def->program, sk.srv.service);
    event_run(sk.srv.loop);
#ifdef POSTHORN_TEST_HOOKS
    test_hook_exit(def->program);
#endif
    free(overrides);
    return 0;
}
