/* state.c - the users' sending counts across a reload or restart of anvil (doc/anvil.md,
 * "Across restarts"). The connection and login counts are about seconds and minutes and
 * start from zero; a user's messages and recipients per submission_rate_time_unit, and a
 * hold after a hard limit, are about hours, and a reload must not hand a stolen password
 * a fresh quota. On the way out anvil writes them to SPOOL/private/anvil.state (times
 * relative to the wall clock of the save); the next anvil reads the file once, strictly
 * (a malformed line is skipped, a file older than a day ignored), and removes it. */
#include "anvil.h"
#include "fileio.h"
#include "log.h"
#include "mem.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define STATE_FILE "private/anvil.state"
#define STATE_MAX_AGE_MS (24LL * 3600 * 1000)
#define STATE_USER_MAX 512

static long long wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static char *state_path(struct anvil *av)
{
    return xasprintf("%s/%s", config_str(av->srv->cfg, PARAM(queue_directory)), STATE_FILE);
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
    long long now;
    size_t n;
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

void state_save(struct anvil *av)
{
    char *path = state_path(av), *tmp = xasprintf("%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        log_warn("%s: %m: the users' sending counts start from zero next time", tmp);
    } else {
        struct save sv = {f, event_now_ms(), 0};
        fprintf(f, "anvil-state 1 %lld\n", wall_ms());
        table_each(av->table, save_entry, &sv);
        bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
        ok = fclose(f) == 0 && ok;
        if (!ok || rename(tmp, path) < 0) {
            log_warn("%s: %m: the users' sending counts start from zero next time", path);
            unlink(tmp);
        } else if (sv.n) {
            log_info("saved the sending counts of %zu users for the next anvil", sv.n);
        }
    }
    free(tmp);
    free(path);
}

/* One "send" line; false when it is malformed. */
static bool load_line(struct anvil *av, char *line, long long now, long long elapsed)
{
    char *f[9], *save = NULL;
    int n = 0;
    for (char *t = strtok_r(line, "\t", &save); t && n < 9; t = strtok_r(NULL, "\t", &save))
        f[n++] = t;
    long long v[7];
    if (n != 9 || strcmp(f[0], "send") != 0 || !*f[1] || strlen(f[1]) > STATE_USER_MAX)
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

void state_load(struct anvil *av)
{
    char *path = state_path(av);
    FILE *f = fopen(path, "r");
    if (!f) {
        free(path);
        return;
    }
    char line[STATE_USER_MAX + 256];
    long long saved = 0, now = event_now_ms();
    size_t loaded = 0, bad = 0;
    if (fgets(line, sizeof line, f) && sscanf(line, "anvil-state 1 %lld", &saved) == 1) {
        long long elapsed = wall_ms() - saved;
        while (elapsed >= 0 && elapsed < STATE_MAX_AGE_MS && fgets(line, sizeof line, f)) {
            size_t len = strlen(line);
            bool whole = len > 0 && line[len - 1] == '\n';
            if (whole)
                line[len - 1] = 0;
            if (whole && load_line(av, line, now, elapsed))
                loaded++;
            else
                bad++;
        }
    }
    fclose(f);
    unlink(path);
    if (loaded || bad)
        log_info("%s: took over the sending counts of %zu users%s", path, loaded,
                 bad ? " (malformed lines skipped)" : "");
    free(path);
}
