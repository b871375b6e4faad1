/* state.c - the users' sending counts and the login failures across a reload or restart of
 * anvil (doc/anvil.md, "Across restarts"). A reload must neither hand a stolen password a
 * fresh sending quota nor a password guesser a fresh set of attempts; the connection counts
 * are about seconds and start from zero. On the way out anvil writes them to
 * SPOOL/private/anvil.state (times relative to the wall clock of the save); the next anvil
 * reads the file once, strictly (a malformed line is skipped, a file older than a day
 * ignored), and removes it. While it runs, SPOOL/private/anvil.running says so: an anvil that
 * finds that mark and no state file had a predecessor that crashed (kill -9) and may lack its
 * failures; for login_penalty_time it says so in its login replies ("amnesic"), and the login
 * processes then trust their own counts where those are higher. */
#include "anvil.h"
#include "fileio.h"
#include "log.h"
#include "mem.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define STATE_FILE "private/anvil.state"
#define RUNNING_MARK "private/anvil.running"
#define STATE_MAX_AGE_MS (24LL * 3600 * 1000)
#define STATE_USER_MAX 512
#define STATE_KEY_MAX (2 * STATE_USER_MAX + 64) /* "pair LEN:ADDR LEN:USER" */
#define FAILURES_MAX 1000000 /* the largest login_max_failures anvil takes (requests.c) */

static long long wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static char *spool_path(struct anvil *av, const char *name)
{
    return xasprintf("%s/%s", config_str(av->srv->cfg, PARAM(queue_directory)), name);
}

/* The user of a "send LEN:USER" key, or NULL. */
static const char *send_user(const struct entry *e)
{
    if (strncmp(e->key, "send ", 5) != 0)
        return NULL;
    const char *colon = strchr(e->key + 5, ':');
    return colon ? colon + 1 : NULL;
}

struct save {
    FILE *f;
    long long now, penalty_ms;
    size_t n, nfail;
};

static void save_entry(struct entry *e, void *ctx)
{
    struct save *sv = ctx;
    const struct send_count *c = &e->send;
    const char *user = send_user(e);
    if (!user || strpbrk(user, "\t\n") || (!c->started && c->held_until == 0))
        return;
    long long held = c->held_until > sv->now ? c->held_until - sv->now : 0;
    long long keep = e->keep_until > sv->now ? e->keep_until - sv->now : 0;
    fprintf(sv->f, "send\t%s\t%lld\t%u\t%u\t%u\t%u\t%lld\t%lld\n", user, sv->now - c->start_ms,
            c->messages, c->recipients, c->tried_messages, c->tried_recipients, held, keep);
    sv->n++;
}

/* Keys whose failures count against logins (requests.c). */
static bool failure_key(const char *key)
{
    return strncmp(key, "addr ", 5) == 0 || strncmp(key, "user ", 5) == 0 ||
           strncmp(key, "pair ", 5) == 0;
}

/* A failure count still within login_penalty_time: "fail KEY FAILURES AGE_OF_LAST". */
static void save_failures(struct entry *e, void *ctx)
{
    struct save *sv = ctx;
    if (!failure_key(e->key) || e->failures == 0 || sv->now - e->fail_ms > sv->penalty_ms ||
        strlen(e->key) > STATE_KEY_MAX || strpbrk(e->key, "\t\n"))
        return;
    fprintf(sv->f, "fail\t%s\t%u\t%lld\n", e->key, e->failures, sv->now - e->fail_ms);
    sv->nfail++;
}

/* Write the counts to tmp; false (errno set) when they may not be on disk. */
static bool write_state(struct anvil *av, const char *tmp, struct save *sv)
{
    unlink(tmp); /* whatever is there, a link included, is not followed */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
    if (!f) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    sv->f = f;
    fprintf(f, "anvil-state 1 %lld\n", wall_ms());
    if (av->amnesic_until > sv->now) /* the next anvil lacks the same failures */
        fprintf(f, "amnesic\t%lld\n", av->amnesic_until - sv->now);
    table_each(av->table, save_entry, sv);
    table_each(av->table, save_failures, sv);
    bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    return fclose(f) == 0 && ok;
}

void state_save(struct anvil *av)
{
    char *path = spool_path(av, STATE_FILE), *tmp = xasprintf("%s.tmp", path);
    struct save sv = {.now = event_now_ms(), .penalty_ms = av->penalty_ms};
    if (!write_state(av, tmp, &sv) || rename(tmp, path) < 0) {
        /* The mark stays: the next anvil knows it lacks these counts. */
        log_warn("%s: %m: the users' sending counts and the login failures start from zero "
                 "next time", path);
        unlink(tmp);
    } else {
        if (sv.n || sv.nfail)
            log_info("saved the sending counts of %zu users and %zu login failure counts for "
                     "the next anvil", sv.n, sv.nfail);
        char *mark = spool_path(av, RUNNING_MARK);
        unlink(mark); /* a clean exit */
        free(mark);
    }
    free(tmp);
    free(path);
}

/* The mark of a running anvil; true when a predecessor left one (it did not exit cleanly). */
static bool mark_running(struct anvil *av)
{
    char *path = spool_path(av, RUNNING_MARK);
    bool crashed = access(path, F_OK) == 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        log_warn("%s: %m", path);
    else
        close(fd);
    free(path);
    return crashed;
}

/* One "send" line (fields split); false when it is malformed. */
static bool load_send(struct anvil *av, char **f, int n, long long now, long long elapsed)
{
    long long v[7];
    if (n != 9 || !*f[1] || strlen(f[1]) > STATE_USER_MAX)
        return false;
    for (int i = 0; i < 7; i++) {
        char *end;
        errno = 0;
        v[i] = strtoll(f[i + 2], &end, 10);
        if (errno || *end || v[i] < 0 || (i >= 1 && i <= 4 && v[i] > UINT32_MAX))
            return false;
    }
    struct entry *e = table_get(av->table, "send", f[1], NULL, true);
    if (!e)
        return false;
    e->send.started = true;
    e->send.start_ms = now - v[0] - elapsed;
    e->send.messages = (unsigned)v[1], e->send.recipients = (unsigned)v[2];
    e->send.tried_messages = (unsigned)v[3], e->send.tried_recipients = (unsigned)v[4];
    e->send.held_until = v[5] > elapsed ? now + v[5] - elapsed : 0;
    e->keep_until = v[6] > elapsed ? now + v[6] - elapsed : now;
    e->touched_ms = now;
    return true;
}

/* One "fail" line; true also when its failures are past login_penalty_time by now. */
static bool load_fail(struct anvil *av, char **f, int n, long long now, long long elapsed)
{
    if (n != 4 || !failure_key(f[1]) || strlen(f[1]) > STATE_KEY_MAX)
        return false;
    char *end1, *end2;
    errno = 0;
    long long failures = strtoll(f[2], &end1, 10), age = strtoll(f[3], &end2, 10);
    if (errno || *end1 || *end2 || failures <= 0 || failures > FAILURES_MAX || age < 0)
        return false;
    if (age > av->penalty_ms - elapsed) /* elapsed is within a day: no overflow */
        return true;
    struct entry *e = table_get_key(av->table, f[1], true);
    if (!e)
        return false;
    e->failures = (unsigned)failures;
    e->fail_ms = now - age - elapsed;
    e->touched_ms = now;
    return true;
}

/* One line; false when it is malformed. */
static bool load_line(struct anvil *av, char *line, long long now, long long elapsed)
{
    char *f[9], *save = NULL;
    int n = 0;
    for (char *t = strtok_r(line, "\t", &save); t && n < 9; t = strtok_r(NULL, "\t", &save))
        f[n++] = t;
    if (n > 0 && strcmp(f[0], "send") == 0)
        return load_send(av, f, n, now, elapsed);
    if (n > 0 && strcmp(f[0], "fail") == 0)
        return load_fail(av, f, n, now, elapsed);
    if (n == 2 && strcmp(f[0], "amnesic") == 0) { /* the predecessor lacked failures too */
        char *end;
        errno = 0;
        long long left = strtoll(f[1], &end, 10);
        if (errno || *end || left < 0 || left > STATE_MAX_AGE_MS)
            return false;
        if (left > elapsed)
            av->amnesic_until = now + left - elapsed;
        return true;
    }
    return false;
}

/* The state file, opened without following a link or waiting on a FIFO; NULL when there
 * is none or it is not a regular file (logged). */
static FILE *open_state(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        if (errno != ENOENT)
            log_warn("%s: %m: the counts start from zero", path);
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        log_warn("%s: not a regular file: ignored, the counts start from zero", path);
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "r");
    if (!f)
        close(fd);
    return f;
}

/* The lines after the header; counts of the lines taken over and skipped. */
static void load_lines(struct anvil *av, FILE *f, long long elapsed, size_t *loaded, size_t *bad)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long long now = event_now_ms();
    while ((len = getline(&line, &cap, f)) > 0) {
        bool whole = line[len - 1] == '\n';
        if (whole)
            line[--len] = 0;
        /* a NUL inside or an over-long line is damage, not a shorter line */
        if (whole && len <= STATE_KEY_MAX + 255 && !memchr(line, 0, (size_t)len) &&
            load_line(av, line, now, elapsed))
            (*loaded)++;
        else
            (*bad)++;
    }
    free(line);
}

void state_load(struct anvil *av)
{
    char *path = spool_path(av, STATE_FILE);
    FILE *f = open_state(path);
    /* A predecessor that crashed saved nothing: its failures are missing for a while. */
    if (mark_running(av)) {
        av->amnesic_until = event_now_ms() + av->penalty_ms;
        if (!f)
            log_warn("the previous anvil did not exit cleanly: for login_penalty_time the login "
                     "processes' own failure counts decide where they are higher");
    }
    if (!f) {
        free(path);
        return;
    }
    char head[64];
    long long saved = 0, elapsed = -1;
    size_t loaded = 0, bad = 0;
    if (fgets(head, sizeof head, f) && sscanf(head, "anvil-state 1 %lld", &saved) == 1)
        elapsed = wall_ms() - saved;
    if (elapsed >= 0 && elapsed < STATE_MAX_AGE_MS) {
        av->amnesic_until = 0;
        load_lines(av, f, elapsed, &loaded, &bad);
        if (bad)
            log_warn("%s: took over %zu counts (sending limits, login failures); %zu malformed "
                     "lines skipped", path, loaded, bad);
        else if (loaded)
            log_info("%s: took over %zu counts (sending limits, login failures)", path, loaded);
    } else {
        log_warn("%s: %s: ignored, the counts start from zero", path,
                 saved == 0 ? "not an anvil state file" : "saved more than a day ago");
    }
    fclose(f);
    unlink(path);
    free(path);
}
