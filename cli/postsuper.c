/* postsuper.c - Postfix's postsuper(1) for admins' scripts (installed apart, in
 * libexec/posthorn/compat/; doc/operator.md, "Postfix's queue tools"):
 *
 *   postsuper [-c CONFDIR] [-v] [-d ID] [-h ID] [-H ID] [-r ID] [queue...]
 *
 * -d deletes, -h puts on hold, -H releases from hold, -r requeues (back-off reset); each
 * option may repeat, and runs in the order given. ID is a queue ID, ALL (upper case) or "-"
 * (IDs one per line on standard input). Queue names after the options restrict every
 * operation to those queues (default: what `posthorn queue` takes from). The work is
 * cli/queue_run.c's; this file speaks as postsuper does: "postsuper: ID: removed" on stderr
 * for each message named by ID, "postsuper: warning: invalid mail queue id: X", and at the
 * end one line per kind of operation asked for, in Postfix's order ("postsuper: Requeued: 1
 * message", "Deleted: 3 messages", "Placed on hold: ...", "Released from hold: ..."). An ID in
 * no queue (or in one the operation does not take from) counts nothing and is no error.
 *
 * Only root and the instance's user may run it; root works as mail_owner, as Postfix's
 * does. Exit 0, or 1 after a fatal error (usage, unknown queue name, not allowed, I/O).
 * Differences from Postfix: -H moves mail to incoming (delivered at once) rather than
 * deferred; mail in active/ is left to qmgr unless "active" is named while the mail system
 * is stopped; -e, -f (forced expiry), -p, -s and -S are not supported. */
#include "cli.h"
#include "log.h"
#include "mem.h"
#include "privs.h"
#include "queue.h"
#include "queue_run.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "postsuper"
#define OPTIONS "+c:d:e:f:h:H:pr:sSv"
#define ID_LINE_MAX 256 /* a line of standard input longer than this is no queue ID */

/* The operations by option letter, in the order Postfix reports them. */
static const struct {
    char opt;
    const char *op;
    const char *summary;
} kinds[] = {{'r', "requeue", "Requeued"}, {'d', "delete", "Deleted"},
             {'h', "hold", "Placed on hold"}, {'H', "release", "Released from hold"}};
#define NKINDS (sizeof kinds / sizeof kinds[0])

struct super {
    struct queue_run runs[NKINDS];
    bool asked[NKINDS];
};

static _Noreturn void usage(void)
{
    cli_say(PROG, "fatal", "usage: " PROG " [-c config_dir] [-d queue_id (delete)] "
            "[-h queue_id (hold)] [-H queue_id (un-hold)] [-r queue_id (requeue)] [-v (verbose)] "
            "[queue...]");
    exit(1);
}

static int kind_of(int opt)
{
    for (size_t k = 0; k < NKINDS; k++)
        if (kinds[k].opt == opt)
            return (int)k;
    return -1;
}

static void one(struct queue_run *r, const char *id)
{
    const char *queue;
    switch (queue_run_one(r, id, &queue)) {
    case QUEUE_ONE_DONE:
        cli_say(PROG, NULL, "%s: %s", id, r->op->logged);
        break;
    case QUEUE_ONE_BAD_ID:
        cli_say(PROG, "warning", "invalid mail queue id: %s", id);
        break;
    case QUEUE_ONE_ACTIVE:
        cli_say(PROG, "warning", "%s: in the active queue, being delivered: left alone (name the "
                "active queue with the mail system stopped)", id);
        break;
    default: /* not there, or nothing to do: as Postfix, no word */
        break;
    }
}

static void from_stdin(struct queue_run *r)
{
    char line[ID_LINE_MAX + 2];
    while (fgets(line, sizeof line, stdin)) {
        size_t len = strcspn(line, "\n");
        bool whole = line[len] == '\n' || feof(stdin);
        line[len] = 0;
        if (!whole) { /* too long for an ID: skip the rest of the line */
            int ch;
            while ((ch = getchar()) != EOF && ch != '\n') {
            }
        }
        one(r, line);
    }
}

/* First pass: which operations, and are the option values and queues usable. */
static void parse(struct cli *c, int argc, char **argv, struct super *s)
{
    int opt;
    while ((opt = getopt(argc, argv, OPTIONS)) != -1) {
        int k = kind_of(opt);
        if (k >= 0)
            s->asked[k] = true;
        else if (opt == 'c')
            c->confdir = optarg;
        else if (opt == 'v')
            log_set_verbose(true);
        else if (opt == 'e' || opt == 'f' || opt == 'p' || opt == 's' || opt == 'S')
            cli_say(PROG, "fatal", "-%c is not supported by Posthorn", opt), exit(1);
        else
            usage();
    }
    for (int i = optind; i < argc; i++)
        if (!queue_run_known(argv[i]))
            cli_say(PROG, "fatal", "invalid directory name: %s", argv[i]), exit(1);
}

/* Root or the instance's user; then root becomes mail_owner. */
static void become_owner(struct cli *c, char **queues)
{
    char *incoming = xasprintf("%s/%s", cli_spool(c), QUEUE_INCOMING);
    bool owner = access(incoming, W_OK | X_OK) == 0;
    free(incoming);
    if (!privs_is_root() && !owner)
        cli_say(PROG, "fatal", "use of this command is reserved for the superuser"), exit(1);
    for (char **q = queues; *q; q++)
        if (strcmp(*q, QUEUE_ACTIVE) == 0 && master_pid(c) != 0)
            cli_say(PROG, "fatal", "the active queue belongs to qmgr while the mail system runs; "
                    "stop it first"), exit(1);
    cli_log_open(c, PROG);
    char *err = NULL;
    if (privs_is_root() && privs_drop(config_str(cli_config(c), PARAM(mail_owner)), NULL, &err) < 0)
        cli_say(PROG, "fatal", "%s", err), exit(1);
}

int cmd_postsuper(struct cli *c, int argc, char **argv)
{
    struct super s = {0};
    parse(c, argc, argv, &s);
    char **queues = argv + optind;
    become_owner(c, queues);
    for (size_t k = 0; k < NKINDS; k++)
        s.runs[k] = (struct queue_run){.c = c, .prog = PROG, .op = queue_op_find(kinds[k].op),
                                       .only = *queues ? (const char *const *)queues : NULL};
    optind = 0; /* second pass: the operations, in the order given */
    int opt;
    while ((opt = getopt(argc, argv, OPTIONS)) != -1) {
        int k = kind_of(opt);
        if (k < 0)
            continue;
        if (strcmp(optarg, "ALL") == 0)
            queue_run_all(&s.runs[k]);
        else if (strcmp(optarg, "-") == 0)
            from_stdin(&s.runs[k]);
        else
            one(&s.runs[k], optarg);
    }
    bool failed = false;
    for (size_t k = 0; k < NKINDS; k++) {
        queue_run_finish(&s.runs[k]);
        failed |= s.runs[k].failed;
        if (s.asked[k])
            cli_say(PROG, NULL, "%s: %zu message%s", kinds[k].summary, s.runs[k].done,
                    s.runs[k].done == 1 ? "" : "s");
    }
    return failed ? 1 : 0;
}
