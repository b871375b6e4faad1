/* spawn.c - start, watch and restart service processes. Each service keeps maxproc
 * processes running (they share its listener); a process that dies is restarted at once if
 * it had run for a while, else after a delay that doubles up to service_throttle_time. */
#include "master.h"
#include "buf.h"
#include "log.h"
#include "mem.h"
#include "server.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HEALTHY_RUN_MS 10000

long long master_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A singleton unix service (maxproc 1: qmgr) must not run two generations at once: the
 * new one waits for the old to exit. Services with several processes (local, the POP3
 * mailbox part) overlap, so a reload never blocks deliveries or logins. */
static bool old_generation_running(struct master *m, const struct service *s)
{
    if (strcmp(s->type, "unix") != 0 || s->maxproc != 1)
        return false;
    for (struct service *o = m->services; o; o = o->next)
        if (o->retired && o->live > 0 && strcmp(o->key, s->key) == 0)
            return true;
    return false;
}

bool master_generation_pending(struct master *m)
{
    for (struct service *s = m->services; s; s = s->next)
        if (!s->retired && old_generation_running(m, s))
            return true;
    return false;
}

static _Noreturn void exec_child(struct master *m, struct service *s, const sigset_t *mask)
{
    sigprocmask(SIG_SETMASK, mask, NULL);
    signal(SIGPIPE, SIG_DFL);
    int lfd = fcntl(s->listen_fd, F_DUPFD, 10), pfd = fcntl(m->alive_pipe[0], F_DUPFD, 10);
    if (lfd < 0 || pfd < 0 || dup2(lfd, SERVER_LISTEN_FD) < 0 || dup2(pfd, SERVER_MASTER_FD) < 0)
        _exit(127);
    close(lfd);
    close(pfd);
    struct buf path = BUF_INIT;
    buf_printf(&path, "%s/%s", config_str(m->cfg, PARAM(daemon_directory)), s->command);
    size_t nargs = 0;
    while (s->args[nargs])
        nargs++;
    char **argv = xcalloc(nargs + 8, sizeof *argv);
    size_t i = 0;
    argv[i++] = s->command;
    argv[i++] = "-c";
    argv[i++] = m->confdir;
    argv[i++] = "-n";
    argv[i++] = s->name;
    argv[i++] = "-t";
    argv[i++] = s->type;
    for (size_t j = 0; j < nargs; j++)
        argv[i++] = s->args[j];
    setenv("POSTHORN_CONFIG", m->confdir, 1);
    execv(path.data, argv);
    log_error("exec %s: %m", path.data);
    _exit(127);
}

static void spawn_one(struct master *m, struct service *s)
{
    sigset_t none;
    sigemptyset(&none); /* the child starts with no signal blocked */
    pid_t pid = fork();
    if (pid < 0) {
        log_warn("fork for service %s: %m", s->name);
        s->next_spawn_ms = master_now_ms() + 1000;
        return;
    }
    if (pid == 0)
        exec_child(m, s, &none);
    m->children = xreallocarray(m->children, m->nchildren + 1, sizeof *m->children);
    m->children[m->nchildren++] = (struct child){pid, s, master_now_ms()};
    s->live++;
}

void master_spawn_missing(struct master *m)
{
    if (m->stopping)
        return;
    long long now = master_now_ms();
    bool changed = false;
    for (struct service *s = m->services; s; s = s->next) {
        if (s->retired || now < s->next_spawn_ms || old_generation_running(m, s))
            continue;
        while (s->live < (unsigned)s->maxproc) {
            spawn_one(m, s);
            changed = true;
            if (s->next_spawn_ms > now)
                break;
        }
    }
    if (changed)
        master_write_status(m);
}

/* A child's end is normal when it exited with status 0, or was ended by the very signal
 * master itself sent it (SIGTERM when stopping, SIGHUP to a retired generation) before it
 * could install its handler. */
static bool normal_end(const struct master *m, const struct child *c, int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status) == 0;
    int sig = WTERMSIG(status);
    return (m->stopping && sig == SIGTERM) || (c->svc->retired && sig == SIGHUP);
}

/* Every abnormal end gets one line of a fixed shape, also while stopping and for a retired
 * generation: the test harness (t/integration/conftest.py) fails a test on any such line
 * the test did not cause. */
static void log_abnormal_end(const struct master *m, const struct child *c, int status)
{
    const char *dir = config_str(m->cfg, PARAM(daemon_directory));
    if (WIFSIGNALED(status))
        log_warn("process %s/%s pid %d killed by signal %d", dir, c->svc->command, (int)c->pid,
                 WTERMSIG(status));
    else
        log_warn("process %s/%s pid %d exit status %d", dir, c->svc->command, (int)c->pid,
                 WEXITSTATUS(status));
}

static void child_died(struct master *m, struct child *c, int status)
{
    struct service *s = c->svc;
    s->live--;
    if (!normal_end(m, c, status))
        log_abnormal_end(m, c, status);
    if (m->stopping || s->retired)
        return;
    long long now = master_now_ms();
    if (now - c->started_ms >= HEALTHY_RUN_MS) {
        s->backoff_ms = 0;
        s->next_spawn_ms = now;
        return;
    }
    long long first = config_int(m->cfg, PARAM(service_restart_delay)) * 1000;
    long long cap = config_int(m->cfg, PARAM(service_throttle_time)) * 1000;
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : first;
    if (s->backoff_ms > cap)
        s->backoff_ms = cap;
    s->next_spawn_ms = now + s->backoff_ms;
    if (s->backoff_ms >= 4000)
        log_warn("%s service %s: dying too fast; next start in %lld s", s->type, s->name,
                 s->backoff_ms / 1000);
}

void master_reap(struct master *m)
{
    int status;
    pid_t pid;
    bool changed = false;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (size_t i = 0; i < m->nchildren; i++) {
            if (m->children[i].pid != pid)
                continue;
            child_died(m, &m->children[i], status);
            m->children[i] = m->children[--m->nchildren];
            changed = true;
            break;
        }
    }
    if (changed) {
        master_forget_retired(m);
        master_write_status(m);
    }
}

void master_signal_all(struct master *m, int sig, bool only_retired)
{
    for (size_t i = 0; i < m->nchildren; i++)
        if (!only_retired || m->children[i].svc->retired)
            kill(m->children[i].pid, sig);
}

long long master_next_deadline(struct master *m)
{
    long long next = -1;
    for (struct service *s = m->services; s; s = s->next)
        if (!s->retired && s->live < (unsigned)s->maxproc && (next < 0 || s->next_spawn_ms < next))
            next = s->next_spawn_ms;
    return next;
}

void master_write_status(struct master *m)
{
    struct buf b = BUF_INIT;
    for (struct service *s = m->services; s; s = s->next) {
        if (s->retired)
            continue;
        buf_printf(&b, "%s %s", s->name, s->type);
        for (size_t i = 0; i < m->nchildren; i++)
            if (m->children[i].svc == s)
                buf_printf(&b, " %d", (int)m->children[i].pid);
        buf_putc(&b, '\n');
    }
    const char *spool = config_str(m->cfg, PARAM(queue_directory));
    char *tmp = xasprintf("%s/pid/master.status.tmp", spool);
    char *path = xasprintf("%s/pid/master.status", spool);
    FILE *f = fopen(tmp, "we");
    if (f) {
        fwrite(b.data ? b.data : "", 1, b.len, f);
        if (fclose(f) == 0)
            rename(tmp, path);
    }
    free(tmp);
    free(path);
    buf_free(&b);
}
