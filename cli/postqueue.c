/* postqueue.c - Postfix's postqueue(1) for admins' scripts (installed apart, in
 * libexec/posthorn/compat/; doc/operator.md, "Postfix's queue tools"):
 *
 *   postqueue [-c CONFDIR] [-v] -p | -j | -f | -i ID | -s SITE
 *
 * -p lists the queue as mailq does and -j as JSON lines (one object per message), for any
 * local user, through the showq service (cli_list_queue). -f asks qmgr to deliver the
 * deferred mail now; -i ID moves that deferred message to incoming, -s SITE every deferred
 * message with a recipient in the domain SITE (or the address literal [SITE]), and wakes
 * qmgr (cli/queue_run.c). Messages and exit statuses are postqueue's: EX_USAGE (64) for a
 * bad command line, queue ID or site, EX_UNAVAILABLE (69) when the mail system is down,
 * EX_NOPERM (77) when the caller may not flush. -f is for every local user, as with
 * Postfix's default authorized_flush_users: others than root and the instance's user ask
 * through the pickup service (doc/pickup.md). -i and -s move queue files, which needs root
 * or the instance's user. */
#include "cli.h"
#include "mem.h"
#include "pickup_client.h"
#include "queue.h"
#include "queue_listing.h"
#include "queue_run.h"
#include <arpa/inet.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#define PROG "postqueue"

static _Noreturn void usage(void)
{
    cli_say(PROG, "fatal", "usage: postqueue -f | postqueue -i queueid | postqueue -j | "
            "postqueue -p | postqueue -s site");
    exit(EX_USAGE);
}

static _Noreturn void fatal_status(int status, const char *what)
{
    cli_say(PROG, "fatal", "%s", what);
    exit(status);
}

/* RFC 5321 sec 4.1.3: a domain, or an address literal "[192.0.2.1]" / "[IPv6:2001:db8::1]". */
static bool valid_site(const char *site)
{
    size_t len = strlen(site);
    if (site[0] != '[') {
        char *d = xstrdup(site);
        bool ok = valid_domain(d);
        free(d);
        return ok;
    }
    if (len < 3 || site[len - 1] != ']' || len > 64)
        return false;
    char lit[64];
    memcpy(lit, site + 1, len - 2);
    lit[len - 2] = 0;
    unsigned char addr[16];
    if (strncasecmp(lit, "IPv6:", 5) == 0)
        return inet_pton(AF_INET6, lit + 5, addr) == 1;
    return inet_pton(AF_INET, lit, addr) == 1;
}

static bool spool_owner(struct cli *c)
{
    char *deferred = xasprintf("%s/%s", cli_spool(c), QUEUE_DEFERRED);
    bool owner = access(deferred, W_OK | X_OK) == 0;
    free(deferred);
    return owner;
}

/* Root or the instance's user (who may change the spool); others are refused as Postfix
 * refuses users outside authorized_flush_users. */
static void check_flush_allowed(struct cli *c)
{
    if (spool_owner(c))
        return;
    struct passwd *pw = getpwuid(getuid());
    cli_say(PROG, "fatal", "User %s(%ld) is not allowed to flush the mail queue",
            pw ? pw->pw_name : "?", (long)getuid());
    exit(EX_NOPERM);
}

static int flush_all(struct cli *c)
{
    char *err = NULL;
    int r;
    if (spool_owner(c))
        r = queue_flush_request(c, &err);
    else
        r = pickup_flush(cli_spool(c), (int)(config_int(cli_config(c), PARAM(pickup_timeout)) * 1000),
                         &err) == EX_OK ? 0 : -1;
    if (r < 0)
        cli_say(PROG, "warning", "%s", err);
    free(err);
    if (r != 0)
        fatal_status(EX_UNAVAILABLE, "Cannot flush mail queue - mail system is down");
    return 0;
}

/* -i ID (site NULL) or -s SITE: deferred mail to incoming, then qmgr is woken. */
static int flush_some(struct cli *c, const char *id, const char *site)
{
    check_flush_allowed(c);
    if (master_pid(c) <= 0)
        fatal_status(EX_UNAVAILABLE, "Cannot flush mail queue - mail system is down");
    struct queue_run r = {.c = c, .prog = PROG, .op = queue_op_find("flush")};
    cli_log_open(c, PROG);
    const char *queue;
    if (id)
        queue_run_one(&r, id, &queue);
    if (site)
        queue_run_site(&r, site);
    queue_run_finish(&r);
    if (r.failed)
        fatal_status(EX_UNAVAILABLE, "Cannot flush mail queue - see the messages above");
    return 0;
}

static void check_arg(bool ok, const char *what, const char *arg)
{
    if (ok)
        return;
    cli_say(PROG, "fatal", "%s: \"%.100s%s\"", what, arg, strlen(arg) > 100 ? "..." : "");
    exit(EX_USAGE);
}

int cmd_postqueue(struct cli *c, int argc, char **argv)
{
    int mode = 0, opt;
    const char *arg = NULL;
    while ((opt = getopt(argc, argv, "+c:fi:jps:v")) != -1) {
        switch (opt) {
        case 'c': c->confdir = optarg; break;
        case 'v': break;
        case 'f': case 'i': case 'j': case 'p': case 's':
            if (mode)
                usage();
            mode = opt;
            arg = optarg;
            break;
        default: usage();
        }
    }
    if (optind < argc || !mode)
        usage();
    if (mode == 'i')
        check_arg(queue_id_valid(arg), "Cannot flush queue ID - invalid name", arg);
    if (mode == 's')
        check_arg(valid_site(arg), "Cannot flush mail queue - invalid destination", arg);
    switch (mode) {
    case 'p':
    case 'j': {
        struct list_opts o = {.prog = PROG, .style = mode == 'p' ? MAILQ_TEXT : MAILQ_JSON_LINES};
        return cli_list_queue(c, &o);
    }
    case 'f': return flush_all(c);
    case 'i': return flush_some(c, arg, NULL);
    default: return flush_some(c, NULL, arg);
    }
}
