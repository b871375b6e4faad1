/* control.c - `posthorn start|stop|reload` (status: status.c). master holds an flock on
 * SPOOL/pid/master.pid while it runs and writes its pid there. start runs the same checks as
 * `posthorn check` and refuses on errors, then runs DAEMON_DIR/master, which backgrounds
 * itself once every listener is bound; its exit status is passed on. reload returns once
 * master says (SPOOL/pid/master.reload) that the new configuration is in effect, as systemd
 * wants of an ExecReload command. */
#include "cli.h"
#include "buf.h"
#include "fileio.h"
#include "mem.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STOP_WAIT_MS 30000
#define ZOMBIE_GRACE_MS 2000
#define RELOAD_WAIT_MS 60000

/* SPOOL/pid/master.reload: "COUNT STATE [WHY]" (master/master.c). */
struct reload_state {
    bool known;
    unsigned long count;
    char state[16];
    char why[512];
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* The pid of the running master, 0 when none runs, -1 on error (printed). */
pid_t master_pid(struct cli *c)
{
    char *path = xasprintf("%s/pid/master.pid", cli_spool(c));
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e != ENOENT)
            cli_err("%s: %s", path, strerror(e));
        free(path);
        return e == ENOENT ? 0 : -1;
    }
    free(path);
    /* Nobody holds the lock: no master, whatever the file says. */
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        close(fd);
        return 0;
    }
    char text[32] = "";
    pid_t pid = 0;
    /* The lock is taken before the pid is written: give a starting master a moment. */
    for (int tries = 0; tries < 50 && pid <= 0; tries++) {
        ssize_t n = pread(fd, text, sizeof text - 1, 0);
        text[n > 0 ? n : 0] = 0;
        pid = (pid_t)strtol(text, NULL, 10);
        if (pid <= 0)
            sleep_ms(20);
    }
    close(fd);
    return pid > 0 ? pid : -1;
}

static char *master_program(struct cli *c)
{
    return xasprintf("%s/master", config_str(cli_config(c), PARAM(daemon_directory)));
}

/* Print the configuration problems; true when start/reload may go on. */
static bool config_ok(struct cli *c, const char *what)
{
    struct errlist errs = {0};
    check_all(c, &errs);
    errlist_print(&errs, stderr);
    bool ok = errlist_errors(&errs) == 0;
    if (!ok)
        cli_err("%s refused: %zu configuration error%s", what, errlist_errors(&errs),
                errlist_errors(&errs) == 1 ? "" : "s");
    errlist_free(&errs);
    return ok;
}

int cmd_start(struct cli *c, int argc, char **argv)
{
    if (argc != 1)
        cli_usage("start takes no arguments");
    if (!config_ok(c, "start"))
        return 1;
    pid_t running = master_pid(c);
    if (running > 0) {
        cli_err("the mail system is already running (master pid %ld)", (long)running);
        return 1;
    }
    char *prog = master_program(c);
    char *confdir = realpath(c->confdir, NULL);
    pid_t pid = fork();
    if (pid < 0) {
        cli_err("fork: %s", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        execl(prog, "master", "-c", confdir ? confdir : c->confdir, (char *)NULL);
        fprintf(stderr, "posthorn: cannot run %s: %s\n", prog, strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            cli_err("waitpid: %s", strerror(errno));
            return 1;
        }
    free(prog);
    free(confdir);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
        cli_err("master did not start (exit status %d)", code);
        return code ? code : 1;
    }
    pid_t now = master_pid(c);
    if (now > 0)
        printf("posthorn: started (master pid %ld)\n", (long)now);
    else
        printf("posthorn: started\n");
    return 0;
}

/* Has pid exited and only waits to be reaped ("Z" in /proc/PID/stat)? */
static bool is_zombie(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *paren = strrchr(buf, ')'); /* the command name may hold spaces */
    return paren && paren[1] == ' ' && paren[2] == 'Z';
}

int cmd_stop(struct cli *c, int argc, char **argv)
{
    if (argc != 1)
        cli_usage("stop takes no arguments");
    pid_t pid = master_pid(c);
    if (pid <= 0) {
        if (pid == 0)
            cli_err("the mail system is not running");
        return pid == 0 ? 0 : 1;
    }
    if (kill(pid, SIGTERM) < 0) {
        cli_err("kill %ld: %s", (long)pid, strerror(errno));
        return 1;
    }
    /* Gone when the process no longer exists or is a zombie (it has exited; a container's
     * init may be slow to reap it). Once its lock is free it has closed every descriptor;
     * if even /proc cannot tell, accept that after ZOMBIE_GRACE_MS. */
    long lock_free_since = -1;
    for (long waited = 0; waited < STOP_WAIT_MS; waited += 50) {
        bool gone = (kill(pid, 0) < 0 && errno == ESRCH) || is_zombie(pid);
        if (!gone && lock_free_since < 0 && master_pid(c) == 0)
            lock_free_since = waited;
        if (gone || (lock_free_since >= 0 && waited - lock_free_since >= ZOMBIE_GRACE_MS)) {
            printf("posthorn: stopped (master pid %ld)\n", (long)pid);
            return 0;
        }
        sleep_ms(50);
    }
    cli_err("master (pid %ld) is still running after %d s", (long)pid, STOP_WAIT_MS / 1000);
    return 1;
}

static struct reload_state read_reload_state(struct cli *c)
{
    struct reload_state r = {0};
    char *path = xasprintf("%s/pid/master.reload", cli_spool(c));
    struct buf b = BUF_INIT;
    int n = 0;
    if (read_file(path, 4096, &b) == 0 &&
        sscanf(buf_cstr(&b), "%lu %15s %n", &r.count, r.state, &n) == 2) {
        r.known = true;
        snprintf(r.why, sizeof r.why, "%s", buf_cstr(&b) + n);
        r.why[strcspn(r.why, "\n")] = 0;
    }
    buf_free(&b);
    free(path);
    return r;
}

/* Wait for master to handle the SIGHUP sent after it had handled BEFORE.count of them. */
static int wait_reloaded(struct cli *c, pid_t pid, const struct reload_state *before)
{
    struct reload_state r = {0};
    for (long waited = 0; waited < RELOAD_WAIT_MS; waited += 50) {
        r = read_reload_state(c);
        if (r.known && r.count > before->count && strcmp(r.state, "waiting") != 0) {
            if (strcmp(r.state, "done") == 0) {
                printf("posthorn: reloaded (master pid %ld)\n", (long)pid);
                return 0;
            }
            cli_err("reload failed, the running configuration stays: %s", r.why);
            return 1;
        }
        if (kill(pid, 0) < 0 && errno == ESRCH) {
            cli_err("master (pid %ld) exited during the reload; see the log", (long)pid);
            return 1;
        }
        sleep_ms(50);
    }
    if (r.known && r.count > before->count) { /* loaded; qmgr's running deliveries go on */
        printf("posthorn: reloaded (master pid %ld); the new qmgr starts once the old one's "
               "running deliveries end\n", (long)pid);
        return 0;
    }
    cli_err("master (pid %ld) did not answer the reload in %d s; see the log", (long)pid,
            RELOAD_WAIT_MS / 1000);
    return 1;
}

int cmd_reload(struct cli *c, int argc, char **argv)
{
    if (argc != 1)
        cli_usage("reload takes no arguments");
    if (!config_ok(c, "reload"))
        return 1;
    pid_t pid = master_pid(c);
    if (pid <= 0) {
        if (pid == 0)
            cli_err("the mail system is not running");
        return pid == 0 ? EXIT_NOT_RUNNING : 1;
    }
    struct reload_state before = read_reload_state(c);
    if (kill(pid, SIGHUP) < 0) {
        cli_err("kill %ld: %s", (long)pid, strerror(errno));
        return 1;
    }
    if (!before.known) { /* a master from before master.reload existed */
        printf("posthorn: reloading (signal sent to master pid %ld)\n", (long)pid);
        return 0;
    }
    return wait_reloaded(c, pid, &before);
}
