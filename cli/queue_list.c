/* queue_list.c - reading the queue: `posthorn queue list [--held] [--json]`, the `mailq` front
 * end (and `sendmail -bp`, `postqueue -p` and `-j` through cli_list_queue()), and `posthorn
 * queue show ID` (envelope, defer state, message).
 *
 * A listing comes from the showq service (SPOOL/public/showq, doc/ipc.md "showq") whoever
 * asks, as with Postfix's postqueue; when showq does not answer (the mail system is down), a
 * caller that may read the spool (root, or the instance's user) scans it directly with the
 * same code showq runs (lib/global/queue_listing.h), root as mail_owner; anybody else is told
 * the mail system is down. Either source feeds one formatter (lib/global/mailq_format.h).
 * Messages and exit statuses are postqueue's: EX_UNAVAILABLE when the mail system is down,
 * EX_SOFTWARE for a broken listing. */
#include "cli.h"
#include "mailq_format.h"
#include "mem.h"
#include "privs.h"
#include "queue.h"
#include "queue_listing.h"
#include "queue_ops.h"
#include "showq_proto.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

struct entry {
    const char *queue;
    struct queue_msg m;
    struct defer_log defer; /* SPOOL/defer/ID (written by qmgr) */
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

/* Where the listing comes from: showq, or the spool itself. */
struct source {
    struct showq_client *showq;
    struct qlist *direct;
};

/* Open the direct scan when showq cannot be reached for a reason that means "not running".
 * 0, or an exit status after saying why. */
static int open_direct(struct cli *c, const struct list_opts *o, const char *why,
                       const char *const *queues, struct source *s)
{
    char *incoming = xasprintf("%s/%s", cli_spool(c), QUEUE_INCOMING);
    bool readable = access(incoming, R_OK | X_OK) == 0;
    free(incoming);
    if (!readable) {
        cli_say(o->prog, "fatal", "Queue report unavailable - mail system is down (%s)", why);
        return EX_UNAVAILABLE;
    }
    if (!o->quiet_fallback)
        cli_say(o->prog, "warning", "Mail system is down -- accessing queue directly (%s)", why);
    char *err = NULL;
    if (privs_is_root() && privs_drop(config_str(cli_config(c), PARAM(mail_owner)), NULL, &err) < 0) {
        cli_say(o->prog, "fatal", "%s", err);
        free(err);
        return EX_SOFTWARE;
    }
    s->direct = qlist_open(cli_spool(c), queues);
    return 0;
}

static int open_source(struct cli *c, const struct list_opts *o, struct source *s)
{
    static const char *const held[] = {QUEUE_HOLD, NULL};
    memset(s, 0, sizeof *s);
    int timeout_ms = (int)config_int(cli_config(c), PARAM(showq_timeout)) * 1000;
    char *err = NULL;
    s->showq = showq_connect(cli_spool(c), o->held ? QUEUE_HOLD : NULL, timeout_ms, &err);
    if (s->showq)
        return 0;
    int e = errno, rc;
    char *why = xasprintf("Connect to the %s showq service: %s",
                          config_str(cli_config(c), PARAM(syslog_name)), strerror(e));
    if (e == ENOENT || e == ECONNREFUSED) {
        rc = open_direct(c, o, why, o->held ? held : qlist_mailq_queues, s);
    } else if (e == EPROTO) {
        cli_say(o->prog, "fatal", "malformed showq server response: %s", err);
        rc = EX_SOFTWARE;
    } else {
        cli_say(o->prog, "fatal", "%s", why);
        rc = EX_SOFTWARE;
    }
    free(why);
    free(err);
    return rc;
}

static enum qlist_result source_next(struct source *s, const struct qlist_msg **m, char **err)
{
    return s->showq ? showq_next(s->showq, m, err) : qlist_next(s->direct, m, err);
}

int cli_list_queue(struct cli *c, const struct list_opts *o)
{
    struct source s;
    int rc = open_source(c, o, &s);
    if (rc)
        return rc;
    struct mailq_out out;
    mailq_out_init(&out, stdout, o->style);
    const struct qlist_msg *m;
    char *err = NULL;
    enum qlist_result r;
    while ((r = source_next(&s, &m, &err)) != QLIST_END && r != QLIST_FAILED) {
        if (r == QLIST_SKIPPED || m->warning)
            cli_say(o->prog, "warning", "%s", r == QLIST_SKIPPED ? err : m->warning);
        if (r == QLIST_MSG)
            mailq_out_msg(&out, m);
        free(err);
        err = NULL;
    }
    if (r == QLIST_END)
        mailq_out_end(&out, o->held ? "No mail is on hold" : "Mail queue is empty");
    else
        cli_say(o->prog, "fatal", "%s", err);
    free(err);
    showq_close(s.showq);
    qlist_close(s.direct);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (errno != EPIPE)
            cli_say(o->prog, "fatal", "output write error: %s", strerror(errno));
        return EX_IOERR;
    }
    return r == QLIST_END ? 0 : EX_SOFTWARE;
}

/* mailq [-C CONFDIR] [-v]; as `sendmail -bp` argv[0] is "sendmail" and nothing follows. */
int cmd_mailq(struct cli *c, int argc, char **argv)
{
    struct list_opts o = {.prog = argv[0], .style = MAILQ_TEXT};
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "-C", 2) == 0 && (argv[i][2] || i + 1 < argc))
            c->confdir = argv[i][2] ? argv[i] + 2 : argv[++i];
        else if (strcmp(argv[i], "-v") != 0) {
            cli_say(o.prog, "fatal", "usage: %s [-C config_dir] [-v]", o.prog);
            return EX_USAGE;
        }
    }
    return cli_list_queue(c, &o);
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
        struct list_opts o = {.prog = "posthorn", .style = MAILQ_TEXT, .quiet_fallback = true};
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--json") == 0 && o.style == MAILQ_TEXT)
                o.style = MAILQ_JSON_ARRAY;
            else if (strcmp(argv[i], "--held") == 0 && !o.held)
                o.held = true;
            else
                cli_usage("queue list [--held] [--json]");
        }
        return cli_list_queue(c, &o);
    }
    if (argc != 3)
        cli_usage("queue show ID");
    return show(c, argv[2]);
}
