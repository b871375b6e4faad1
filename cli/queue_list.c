/* queue_list.c - reading the queue: `posthorn queue list [--held] [--json]` (--held: only
 * the mail in hold/, which qmgr leaves alone until `posthorn queue release`), the `mailq` front end
 * (Postfix's output shape) and `posthorn queue show ID` (envelope, defer state, message).
 * Files are opened without following symlinks; a file that moves or vanishes during the
 * scan (qmgr at work) is skipped, one that does not parse is reported. */
#include "cli.h"
#include "buf.h"
#include "fileio.h"
#include "ipc.h"
#include "mem.h"
#include "queue.h"
#include "queue_ops.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The queues mailq shows (corrupt files are not mail any more). */
static const char *const listed[] = {QUEUE_INCOMING, QUEUE_ACTIVE, QUEUE_DEFERRED, QUEUE_HOLD, NULL};

struct entry {
    const char *queue;
    struct queue_msg m;
    struct defer_log defer; /* SPOOL/defer/ID (written by qmgr) */
};

struct listing {
    struct entry *v;
    size_t n;
};

/* 1 read, 0 vanished, -1 bad (reported). */
static int read_entry(struct cli *c, const char *queue, const char *id, struct entry *e)
{
    char *p = queue_path(cli_spool(c), queue, id);
    int fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e2 = errno;
        if (e2 != ENOENT)
            cli_err("%s: %s", p, strerror(e2));
        free(p);
        return e2 == ENOENT ? 0 : -1;
    }
    char *err = NULL;
    memset(e, 0, sizeof *e);
    int r = queue_read(fd, id, &e->m, &err);
    close(fd);
    if (r < 0) {
        cli_err("%s: %s", p, err ? err : "unreadable");
        free(err);
        free(p);
        return -1;
    }
    free(p);
    e->queue = queue;
    if (defer_log_read(cli_spool(c), id, &e->defer, &err) < 0) {
        cli_err("%s", err); /* shown without reasons */
        free(err);
    }
    return 1;
}

static int scan_queue(struct cli *c, const char *queue, struct listing *l)
{
    char **ids;
    size_t n;
    if (queue_list(cli_spool(c), queue, &ids, &n) < 0) {
        cli_err("%s/%s: %s%s", cli_spool(c), queue, strerror(errno),
                errno == EACCES ? " (run as root or as the mail_owner)" : "");
        return -1;
    }
    l->v = xreallocarray(l->v, l->n + n + 1, sizeof *l->v);
    for (size_t i = 0; i < n; i++)
        if (read_entry(c, queue, ids[i], &l->v[l->n]) == 1)
            l->n++;
    queue_list_free(ids, n);
    return 0;
}

static int by_arrival(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->m.arrival_sec != y->m.arrival_sec)
        return x->m.arrival_sec < y->m.arrival_sec ? -1 : 1;
    if (x->m.arrival_usec != y->m.arrival_usec)
        return x->m.arrival_usec < y->m.arrival_usec ? -1 : 1;
    return strcmp(x->m.id, y->m.id);
}

static void free_listing(struct listing *l)
{
    for (size_t i = 0; i < l->n; i++) {
        queue_msg_free(&l->v[i].m);
        defer_log_free(&l->v[i].defer);
    }
    free(l->v);
}

/* The recorded defer reason for a recipient, or NULL. */
static const char *defer_reason(const struct entry *e, const char *addr)
{
    for (size_t i = 0; i < e->defer.n; i++)
        if (strcmp(e->defer.v[i].addr, addr) == 0)
            return e->defer.v[i].reason;
    return NULL;
}

#define SENDER_COLUMN (QUEUE_ID_LEN + 1 + 1 + 8 + 1 + 20 + 1)
#define REASON_WIDTH 79

static void print_reason(const char *reason)
{
    size_t len = strlen(reason) + 2;
    int pad = len < REASON_WIDTH ? (int)(REASON_WIDTH - len) : 0;
    printf("%*s(%s)\n", pad, "", reason);
}

/* Postfix's mailq shape: recipients grouped under their defer reason. */
static void print_entry(const struct entry *e)
{
    char when[32];
    time_t t = (time_t)e->m.arrival_sec;
    struct tm tm;
    strftime(when, sizeof when, "%a %b %e %H:%M:%S", localtime_r(&t, &tm));
    char status = strcmp(e->queue, QUEUE_ACTIVE) == 0 ? '*' : strcmp(e->queue, QUEUE_HOLD) == 0 ? '!' : ' ';
    printf("%s%c %8zu %-20.20s %s\n", e->m.id, status, e->m.body_size, when,
           *e->m.sender ? e->m.sender : "MAILER-DAEMON");
    bool *shown = xcalloc(e->m.nrcpts + 1, sizeof *shown);
    for (size_t i = 0; i < e->m.nrcpts; i++) {
        if (e->m.rcpts[i].done || shown[i])
            continue;
        const char *reason = defer_reason(e, e->m.rcpts[i].addr);
        if (reason)
            print_reason(reason);
        for (size_t j = i; j < e->m.nrcpts; j++) {
            if (e->m.rcpts[j].done || shown[j])
                continue;
            const char *r2 = defer_reason(e, e->m.rcpts[j].addr);
            if ((reason == NULL) != (r2 == NULL) || (reason && strcmp(reason, r2) != 0))
                continue;
            printf("%*s%s\n", SENDER_COLUMN, "", e->m.rcpts[j].addr);
            shown[j] = true;
        }
    }
    free(shown);
    printf("\n");
}

static void print_json(const struct listing *l)
{
    printf("[");
    for (size_t i = 0; i < l->n; i++) {
        const struct entry *e = &l->v[i];
        printf("%s\n  {\"queue_name\": \"%s\", \"queue_id\": \"%s\", \"arrival_time\": %lld, "
               "\"message_size\": %zu, \"sender\": ",
               i ? "," : "", e->queue, e->m.id, e->m.arrival_sec, e->m.body_size);
        json_string(stdout, e->m.sender);
        printf(", \"recipients\": [");
        size_t k = 0;
        for (size_t j = 0; j < e->m.nrcpts; j++) {
            if (e->m.rcpts[j].done)
                continue;
            printf("%s{\"address\": ", k++ ? ", " : "");
            json_string(stdout, e->m.rcpts[j].addr);
            const char *reason = defer_reason(e, e->m.rcpts[j].addr);
            if (reason) {
                printf(", \"delay_reason\": ");
                json_string(stdout, reason);
            }
            printf("}");
        }
        printf("]}");
    }
    printf("%s]\n", l->n ? "\n" : "");
}

static int list(struct cli *c, bool json, bool held_only)
{
    static const char *const held[] = {QUEUE_HOLD, NULL};
    struct listing l = {0};
    int rc = 0;
    for (const char *const *q = held_only ? held : listed; *q && rc == 0; q++)
        if (scan_queue(c, *q, &l) < 0)
            rc = 1;
    if (rc) {
        free_listing(&l);
        return 1;
    }
    qsort(l.v, l.n, sizeof *l.v, by_arrival);
    if (json) {
        print_json(&l);
    } else if (l.n == 0) {
        printf(held_only ? "No mail is on hold\n" : "Mail queue is empty\n");
    } else {
        unsigned long long total = 0;
        /* Postfix's headings, widened to our 18-character queue IDs so the columns line up. */
        printf("%-19s %8s %-20s %s\n", "-Queue ID-", "--Size--", "----Arrival Time----",
               "-Sender/Recipient-------");
        for (size_t i = 0; i < l.n; i++) {
            print_entry(&l.v[i]);
            total += l.v[i].m.body_size;
        }
        printf("-- %llu Kbytes in %zu Request%s.\n", (total + 1023) / 1024, l.n, l.n == 1 ? "" : "s");
    }
    free_listing(&l);
    return rc;
}

int cmd_mailq(struct cli *c, int argc, char **argv)
{
    return list(c, argc > 1 && strcmp(argv[1], "--json") == 0, false);
}

static int put_body(void *ctx, const char *data, size_t len)
{
    return fwrite(data, 1, len, stdout) == len ? 0 : -1;
}

static void show_envelope(const struct entry *e)
{
    char when[64];
    time_t t = (time_t)e->m.arrival_sec;
    struct tm tm;
    strftime(when, sizeof when, "%a %b %e %H:%M:%S %Y", localtime_r(&t, &tm));
    printf("*** ENVELOPE RECORDS %s/%s ***\n", e->queue, e->m.id);
    printf("message_size: %zu\narrival_time: %s\nsender: %s\n", e->m.body_size, when, e->m.sender);
    for (size_t i = 0; i < e->m.nattrs; i++)
        printf("named_attribute: %s=%s\n", e->m.attrs[i].name, e->m.attrs[i].value);
    for (size_t i = 0; i < e->m.nrcpts; i++) {
        const struct queue_rcpt *r = &e->m.rcpts[i];
        printf("%s: %s", r->done ? "done_recipient" : "recipient", r->addr);
        if (*r->orcpt)
            printf(" orcpt=%s", r->orcpt);
        if (*r->notify)
            printf(" notify=%s", r->notify);
        printf("\n");
    }
    if (e->defer.n || e->defer.backoff) {
        printf("*** DEFER LOG %s/%s ***\nbackoff: %lld\n", QUEUE_DEFER_LOG, e->m.id, e->defer.backoff);
        for (size_t i = 0; i < e->defer.n; i++)
            printf("deferred: %s dsn=%s (%s)\n", e->defer.v[i].addr, e->defer.v[i].dsn,
                   e->defer.v[i].reason);
    }
}

static int show(struct cli *c, const char *id)
{
    const char *queue;
    if (!queue_id_valid(id)) {
        cli_err("\"%s\" is not a queue ID", id);
        return 1;
    }
    if (queue_find(cli_spool(c), id, &queue) < 0) {
        cli_err("%s: %s", id, errno == ENOENT ? "not in the queue" : strerror(errno));
        return 1;
    }
    struct entry e;
    if (read_entry(c, queue, id, &e) != 1) {
        if (errno == ENOENT)
            cli_err("%s: left the queue while reading it", id);
        return 1;
    }
    show_envelope(&e);
    printf("*** MESSAGE CONTENTS %s/%s ***\n", e.queue, id);
    fflush(stdout);
    char *p = queue_path(cli_spool(c), queue, id), *err = NULL;
    int fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int rc = fd >= 0 && queue_read_body(fd, &e.m, put_body, NULL, &err) == 0 ? 0 : 1;
    if (fd >= 0)
        close(fd);
    if (rc)
        cli_err("%s: %s", p, err ? err : strerror(errno));
    printf("*** END OF MESSAGE %s/%s ***\n", e.queue, id);
    free(err);
    free(p);
    queue_msg_free(&e.m);
    defer_log_free(&e.defer);
    return rc;
}

int queue_read_cmd(struct cli *c, int argc, char **argv)
{
    if (strcmp(argv[1], "list") == 0) {
        bool json = false, held = false;
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--json") == 0 && !json)
                json = true;
            else if (strcmp(argv[i], "--held") == 0 && !held)
                held = true;
            else
                cli_usage("queue list [--held] [--json]");
        }
        return list(c, json, held);
    }
    if (argc != 3)
        cli_usage("queue show ID");
    return show(c, argv[2]);
}
