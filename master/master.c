/* master.c - the supervising process. Runs as root only to bind privileged ports and
 * fork; never parses network input. Reads main.cf and master.cf, binds every listener,
 * holds the spool lock (SPOOL/pid/master.pid, flock), forks maxproc processes per service
 * and keeps them running. SIGHUP reloads (new generation takes over the listeners, the old
 * one drains), SIGTERM/SIGINT stop everything.
 * Usage: master [-c CONFDIR] [-f]   (-f: stay in the foreground) */
#include "master.h"
#include "errlist.h"
#include "fileio.h"
#include "log.h"
#include "log_config.h"
#include "mem.h"
#include "trust.h"
#include <bsd/unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define STOP_GRACE_MS 10000

/* Load main.cf + master.cf; on problems print them (to stderr and the log) and fail. */
static int load_all(const char *confdir, struct config **cfg, struct mastercf *mcf, bool startup)
{
    struct errlist errs = {0};
    *cfg = config_load(confdir, &errs);
    if (*cfg)
        config_validate(*cfg, &errs);
    char *path = xasprintf("%s/master.cf", confdir);
    if (mastercf_load(path, mcf, &errs) == 0 && *cfg)
        mastercf_check_overrides(confdir, mcf, &errs);
    free(path);
    if (*cfg)
        trust_check_instance(*cfg, mcf, &errs);
    for (size_t i = 0; i < errs.n; i++) {
        if (startup)
            fprintf(stderr, "posthorn/master: %s\n", errs.msgs[i]);
        else if (strncmp(errs.msgs[i], "warning: ", 9) == 0)
            log_warn("%s", errs.msgs[i] + 9); /* log_warn adds its own "warning: " */
        else
            log_error("%s", errs.msgs[i]);
    }
    int rc = (*cfg && errlist_errors(&errs) == 0) ? 0 : -1;
    errlist_free(&errs);
    if (rc < 0) {
        config_free(*cfg);
        *cfg = NULL;
        mastercf_free(mcf);
    }
    return rc;
}

static int take_lock(struct master *m)
{
    char *path = xasprintf("%s/pid/master.pid", config_str(m->cfg, PARAM(queue_directory)));
    m->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (m->lock_fd < 0) {
        fprintf(stderr, "posthorn/master: open %s: %s\n", path, strerror(errno));
        free(path);
        return -1;
    }
    if (flock(m->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        char pid[32] = "";
        ssize_t n = pread(m->lock_fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        fprintf(stderr, "posthorn/master: the mail system is already running (pid %s, lock %s)\n",
                pid, path);
        free(path);
        return -1;
    }
    free(path);
    return 0;
}

static void write_pid(struct master *m)
{
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(m->lock_fd, 0) < 0 || pwrite(m->lock_fd, pid, (size_t)n, 0) != n)
        log_warn("cannot write the master pid file: %m");
}

/* Fork into the background. The parent exits only when the child reports (through
 * ready_fd) that its services are started and the status file is written, so a caller of
 * `posthorn start` can use the instance at once. */
static int daemonize(void)
{
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0) {
        perror("posthorn/master: pipe");
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("posthorn/master: fork");
        exit(1);
    }
    if (pid > 0) {
        close(ready[1]);
        char ok;
        ssize_t n;
        do
            n = read(ready[0], &ok, 1);
        while (n < 0 && errno == EINTR);
        _exit(n == 1 ? 0 : 1);
    }
    close(ready[0]);
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0), dup2(null, 1), dup2(null, 2);
        if (null > 2)
            close(null);
    }
    return ready[1];
}

static void report_ready(int ready_fd)
{
    if (ready_fd >= 0) {
        if (write(ready_fd, "1", 1) != 1) {
            /* the parent is gone; nothing to tell */
        }
        close(ready_fd);
    }
}

/* SPOOL/pid/master.reload: "COUNT STATE [WHY]", COUNT the SIGHUPs handled, STATE "done",
 * "waiting" (a singleton's new generation waits for its old one to exit) or "failed", so
 * `posthorn reload` returns once the change is in effect (doc/master.md). */
static void write_reload_state(struct master *m, const char *state, const char *why)
{
    char *path = xasprintf("%s/pid/master.reload", config_str(m->cfg, PARAM(queue_directory)));
    char *text = xasprintf("%lu %s%s%s\n", m->reloads, state, why ? " " : "", why ? why : "");
    if (write_file_atomic(path, text, strlen(text), 0644) < 0)
        log_warn("cannot write %s: %m", path);
    free(text);
    free(path);
}

static void reload_settled(struct master *m)
{
    if (m->reload_waiting && !master_generation_pending(m)) {
        m->reload_waiting = false;
        write_reload_state(m, "done", NULL);
    }
}

static void reload(struct master *m)
{
    struct config *cfg;
    struct mastercf mcf;
    m->reloads++;
    m->reload_waiting = false; /* a "done" of an earlier reload must not cover this one */
    if (load_all(m->confdir, &cfg, &mcf, false) < 0) {
        log_warn("reload: configuration has errors; keeping the running configuration");
        write_reload_state(m, "failed", "the configuration has errors; see the log");
        return;
    }
    struct config *old = m->cfg;
    m->cfg = cfg;
    char *err = NULL;
    if (master_load_services(m, &mcf, &err) < 0) {
        log_warn("reload: %s; keeping the running configuration", err);
        write_reload_state(m, "failed", err);
        free(err);
        m->cfg = old;
        config_free(cfg);
    } else {
        /* Old-generation children still point at services, not at the old config. */
        config_free(old);
        master_signal_all(m, SIGHUP, true);
        log_info("reload -- version %s, configuration %s", POSTHORN_VERSION, m->confdir);
        m->reload_waiting = true;
        write_reload_state(m, "waiting", NULL);
    }
    mastercf_free(&mcf);
    master_forget_retired(m);
    master_spawn_missing(m);
    master_write_status(m);
}

static void stop_all(struct master *m, int sfd)
{
    m->stopping = true;
    master_signal_all(m, SIGTERM, false);
    long long deadline = master_now_ms() + STOP_GRACE_MS;
    while (m->nchildren > 0 && master_now_ms() < deadline) {
        struct pollfd p = {.fd = sfd, .events = POLLIN};
        poll(&p, 1, 100);
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == sizeof si) {
        }
        master_reap(m);
    }
    if (m->nchildren > 0) {
        log_warn("%zu processes did not stop in time; killing them", m->nchildren);
        master_signal_all(m, SIGKILL, false);
        while (m->nchildren > 0) {
            usleep(20000);
            master_reap(m);
        }
    }
    static const char *const state_files[] = {"status", "reload"};
    for (size_t i = 0; i < sizeof state_files / sizeof *state_files; i++) {
        char *st = xasprintf("%s/pid/master.%s", config_str(m->cfg, PARAM(queue_directory)),
                             state_files[i]);
        unlink(st);
        free(st);
    }
    if (ftruncate(m->lock_fd, 0) < 0) {
    }
    log_info("terminating on signal");
}

static void run(struct master *m, int sfd, int ready_fd)
{
    write_reload_state(m, "done", NULL);
    for (;;) {
        master_spawn_missing(m);
        reload_settled(m);
        report_ready(ready_fd);
        ready_fd = -1;
        long long next = master_next_deadline(m), now = master_now_ms();
        int timeout = next < 0 ? 60000 : next <= now ? 0 : (int)(next - now);
        struct pollfd p = {.fd = sfd, .events = POLLIN};
        if (poll(&p, 1, timeout) < 0 && errno != EINTR)
            log_fatal("poll: %m");
        struct signalfd_siginfo si;
        bool hup = false, term = false;
        while (read(sfd, &si, sizeof si) == sizeof si) {
            if (si.ssi_signo == SIGHUP)
                hup = true;
            else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
                term = true;
        }
        master_reap(m);
        if (term) {
            stop_all(m, sfd);
            return;
        }
        if (hup)
            reload(m);
    }
}

int main(int argc, char **argv)
{
    extern char **environ;
    setproctitle_init(argc, argv, environ);
    struct master m = {.lock_fd = -1};
    const char *confdir = getenv("POSTHORN_CONFIG");
    bool foreground = false;
    int opt;
    while ((opt = getopt(argc, argv, "c:f")) != -1) {
        if (opt == 'c')
            confdir = optarg;
        else if (opt == 'f')
            foreground = true;
        else {
            fprintf(stderr, "usage: master [-c confdir] [-f]\n");
            return 2;
        }
    }
    char *abs = realpath(confdir ? confdir : "/etc/posthorn", NULL);
    if (!abs) {
        fprintf(stderr, "posthorn/master: %s: %s\n", confdir ? confdir : "/etc/posthorn", strerror(errno));
        return 1;
    }
    m.confdir = abs;
    struct mastercf mcf;
    if (load_all(m.confdir, &m.cfg, &mcf, true) < 0)
        return 1;
    log_config_init(m.cfg, "master", NULL);
    if (take_lock(&m) < 0)
        return 1;
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD), sigaddset(&mask, SIGHUP), sigaddset(&mask, SIGTERM), sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    char *err = NULL;
    if (sfd < 0 || master_load_services(&m, &mcf, &err) < 0) {
        fprintf(stderr, "posthorn/master: %s\n", err ? err : strerror(errno));
        return 1;
    }
    mastercf_free(&mcf);
    if (pipe2(m.alive_pipe, O_CLOEXEC) < 0) {
        perror("posthorn/master: pipe");
        return 1;
    }
    int ready_fd = foreground ? -1 : daemonize();
    write_pid(&m);
    setproctitle("-master -c %s", m.confdir); /* leading '-': no "master:" prefix */
    log_info("daemon started -- version %s, configuration %s", POSTHORN_VERSION, m.confdir);
    run(&m, sfd, ready_fd);
    return 0;
}
