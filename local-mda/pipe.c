/* pipe.c - delivery to an alias command (aliases(5) "|command"), in the helper's child,
 * already running as default_privs (helper.c).
 *
 * The command is the text of the aliases file as written, run as /bin/sh -c COMMAND in
 * its own process group, in the user's home directory (or /), umask 077, with a clean
 * environment of Postfix's variables and nothing else: SENDER, RECIPIENT (the alias that
 * lists the command), ORIGINAL_RECIPIENT, LOCAL and DOMAIN (of RECIPIENT), EXTENSION (when
 * there is one), HOME, USER, LOGNAME, SHELL=/bin/sh, PATH=/usr/bin:/bin. Envelope data only
 * ever reaches the command through these variables and its standard input, never its
 * command line. Standard input is the message as local delivery writes it (Return-Path:,
 * Delivered-To:, then the message); standard output and error are read together, the
 * first command_output_limit bytes kept for the reason. A command that has not exited
 * after command_time_limit is killed with its process group and the delivery deferred.
 * The exit status maps as Postfix's does (sysexits.h): 0 delivered; EX_TEMPFAIL and
 * EX_OSERR defer; the other sysexits codes bounce with their RFC 3463 code; any other
 * status bounces 5.3.0; death by a signal defers. A command that exits 0 without reading
 * all of its input has the message: the rest is not its business. */
#include "helper.h"
#include "buf.h"
#include "mem.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t command_group; /* for the SIGTERM handler: the command's group */

static void on_term(int sig)
{
    (void)sig;
    if (command_group > 0)
        kill(-command_group, SIGKILL);
    _exit(1);
}

/* --- the environment --- */

static void env_add(char ***env, size_t *n, const char *name, const char *value)
{
    *env = xreallocarray(*env, *n + 2, sizeof **env);
    char *v = xasprintf("%s=%s", name, value ? value : "");
    for (char *p = v + strlen(name) + 1; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            *p = '?';
    (*env)[(*n)++] = v;
    (*env)[*n] = NULL;
}

static char **environment(const struct special_job *j)
{
    char **env = NULL;
    size_t n = 0;
    const char *at = strrchr(j->recipient, '@');
    char *local = at ? xstrndup(j->recipient, (size_t)(at - j->recipient)) : xstrdup(j->recipient);
    env_add(&env, &n, "SENDER", j->sender);
    env_add(&env, &n, "RECIPIENT", j->recipient);
    env_add(&env, &n, "ORIGINAL_RECIPIENT", j->original);
    env_add(&env, &n, "LOCAL", local);
    env_add(&env, &n, "DOMAIN", at ? at + 1 : "");
    if (j->extension)
        env_add(&env, &n, "EXTENSION", j->extension);
    env_add(&env, &n, "HOME", j->home);
    env_add(&env, &n, "USER", j->user);
    env_add(&env, &n, "LOGNAME", j->user);
    env_add(&env, &n, "SHELL", "/bin/sh");
    env_add(&env, &n, "PATH", "/usr/bin:/bin");
    free(local);
    return env;
}

/* --- running it --- */

static _Noreturn void exec_command(const struct special_job *j, int in, int out, char **env)
{
    setpgid(0, 0);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
        _exit(EX_OSERR);
    closefrom(3);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL); /* SIGPIPE above all: ignored in the daemon, not in the command */
    umask(077);
    if (chdir(j->home) < 0 && chdir("/") < 0)
        _exit(EX_OSERR);
    execle("/bin/sh", "sh", "-c", j->target, (char *)NULL, env);
    _exit(EX_OSERR);
}

struct run {
    int in, out;         /* our ends: the command's stdin (-1 once closed), its output */
    pid_t pid;
    long long deadline;  /* CLOCK_MONOTONIC ms */
    struct buf output;   /* the first limit bytes */
    size_t limit;
    bool timed_out, exited;
    int status;
};

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void take_output(struct run *r)
{
    char chunk[4096];
    ssize_t n;
    while ((n = read(r->out, chunk, sizeof chunk)) > 0)
        if (r->output.len < r->limit)
            buf_append(&r->output, chunk, (size_t)n < r->limit - r->output.len ? (size_t)n
                                                                              : r->limit - r->output.len);
    if (n == 0) {
        close(r->out);
        r->out = -1;
    }
}

/* Wait until fd can take input (when want_write) or output came, the command exited or
 * the time is up; false when the delivery is over (timed out or exited). */
static bool wait_some(struct run *r, bool want_write)
{
    if (!r->exited && waitpid(r->pid, &r->status, WNOHANG) == r->pid)
        r->exited = true;
    if (r->exited && !want_write)
        return false;
    long long left = r->deadline - now_ms();
    if (left <= 0) {
        r->timed_out = true;
        return false;
    }
    struct pollfd p[2] = {{.fd = r->out, .events = POLLIN}, {.fd = want_write ? r->in : -1, .events = POLLOUT}};
    if (poll(p, 2, (int)(left < 100 ? left : 100)) > 0 && p[0].revents)
        take_output(r);
    return true;
}

static int feed(void *ctx, const char *data, size_t len)
{
    struct run *r = ctx;
    while (len > 0) {
        ssize_t n = write(r->in, data, len);
        if (n > 0) {
            data += n, len -= (size_t)n;
        } else if (n < 0 && errno == EPIPE) {
            return 1; /* it stopped reading: its exit status says the rest */
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            return 1;
        } else if (!wait_some(r, true)) {
            return 1;
        }
    }
    return 0;
}

/* --- the outcome --- */

static const struct {
    int code;
    const char *dsn, *text;
} sysexits[] = {
    {EX_USAGE, "5.3.0", "command line usage error"}, {EX_DATAERR, "5.6.0", "data format error"},
    {EX_NOINPUT, "5.3.0", "cannot open input"},      {EX_NOUSER, "5.1.1", "user unknown"},
    {EX_NOHOST, "5.1.2", "host name unknown"},       {EX_UNAVAILABLE, "5.3.0", "service unavailable"},
    {EX_SOFTWARE, "5.3.0", "internal software error"}, {EX_OSERR, "4.3.0", "system resource problem"},
    {EX_OSFILE, "5.3.0", "critical OS file missing"}, {EX_CANTCREAT, "5.2.0", "can't create user output file"},
    {EX_IOERR, "5.3.0", "input/output error"},       {EX_TEMPFAIL, "4.3.0", "temporary failure"},
    {EX_PROTOCOL, "5.5.0", "remote error in protocol"}, {EX_NOPERM, "5.7.0", "permission denied"},
    {EX_CONFIG, "5.3.5", "local configuration error"},
};

/* The output as one line: runs of white space and control characters become one space. */
static char *output_text(struct buf *b)
{
    struct buf t = BUF_INIT;
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->data[i];
        bool space = c <= ' ' || c == 0x7f;
        if (!space)
            buf_putc(&t, (char)c);
        else if (t.len && t.data[t.len - 1] != ' ')
            buf_putc(&t, ' ');
    }
    while (t.len && t.data[t.len - 1] == ' ')
        t.len--;
    buf_putc(&t, 0);
    return buf_steal(&t);
}

static void outcome_of(const struct special_job *j, struct run *r, struct outcome *o)
{
    char *out = output_text(&r->output);
    const char *sep = *out ? ". Command output: " : "";
    if (r->timed_out) {
        outcome_set(o, "defer", "4.3.0", "command time limit exceeded: \"%s\"%s%s", j->target, sep, out);
    } else if (WIFSIGNALED(r->status)) {
        outcome_set(o, "defer", "4.3.0", "command died with signal %d: \"%s\"%s%s",
                    WTERMSIG(r->status), j->target, sep, out);
    } else if (WEXITSTATUS(r->status) == 0) {
        outcome_set(o, "sent", "2.0.0", "delivered to command: %s", j->target);
    } else {
        int code = WEXITSTATUS(r->status);
        const char *dsn = "5.3.0", *text = "unknown mail transport error";
        for (size_t i = 0; i < sizeof sysexits / sizeof sysexits[0]; i++)
            if (sysexits[i].code == code)
                dsn = sysexits[i].dsn, text = sysexits[i].text;
        outcome_set(o, dsn[0] == '4' ? "defer" : "bounce", dsn,
                    "command died with status %d (%s): \"%s\"%s%s", code, text, j->target, sep, out);
    }
    free(out);
}

void pipe_deliver(struct special_job *j, struct outcome *o)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
        outcome_set(o, "defer", "4.3.0", "pipe: %s", strerror(errno));
        return;
    }
    char **env = environment(j);
    struct run r = {.in = in[1], .out = out[0], .output = BUF_INIT,
                    .limit = (size_t)config_int(j->cfg, PARAM(command_output_limit)),
                    .deadline = now_ms() + config_int(j->cfg, PARAM(command_time_limit)) * 1000};
    signal(SIGTERM, on_term);
    r.pid = fork();
    if (r.pid == 0)
        exec_command(j, in[0], out[1], env);
    close(in[0]);
    close(out[1]);
    if (r.pid < 0) {
        outcome_set(o, "defer", "4.3.0", "fork: %s", strerror(errno));
        return;
    }
    command_group = r.pid;
    signal(SIGPIPE, SIG_IGN);
    fcntl(r.in, F_SETFL, O_NONBLOCK);
    fcntl(r.out, F_SETFL, O_NONBLOCK);
    char *err = NULL;
    if (special_message(j, feed, &r, &err) < 0) {
        kill(-r.pid, SIGKILL);
        outcome_set(o, "defer", "4.3.0", "cannot read queue file: %s", err);
    }
    close(r.in);
    while (!r.timed_out && wait_some(&r, false)) {
    }
    if (r.timed_out)
        kill(-r.pid, SIGKILL);
    if (!r.exited)
        while (waitpid(r.pid, &r.status, 0) < 0 && errno == EINTR) {
        }
    if (r.out >= 0) /* what it wrote before it exited; a child it left keeps its own */
        take_output(&r);
    if (!err)
        outcome_of(j, &r, o);
    free(err);
    buf_free(&r.output);
}
