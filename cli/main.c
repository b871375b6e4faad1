/* main.c - the `posthorn` admin command: global options, dispatch to the command groups,
 * and the classic front ends chosen by the program name (argv[0]): mailq, sendmail,
 * newaliases, and Postfix's postqueue and postsuper. The configuration directory is
 * -c CONFDIR, else $POSTHORN_CONFIG, else /etc/posthorn. */
#include "cli.h"
#include "log.h"
#include <getopt.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: posthorn [-c CONFDIR] [-v] COMMAND [ARGS]\n"
    "  init DIR [--hostname H] [--domain D] [--listen ADDR] [--port-offset N] [--user ADDR]\n"
    "  start | stop | reload | status [--json] | check\n"
    "  conf [-n | -d] [-h] [-x] [NAME...]   conf -e|set NAME=VALUE...   conf -# NAME...\n"
    "       | conf -M [SERVICE[/TYPE]...] | conf -m   (postconf's flags; -v conf -d: every\n"
    "       parameter with its type, bounds and description)\n"
    "  user add ADDR [--password-stdin] [--quota SIZE] | del ADDR | passwd ADDR [--password-stdin]\n"
    "       | quota ADDR SIZE | list [--json]\n"
    "  domain add DOMAIN | del DOMAIN [--force] | list [--json]\n"
    "  map build FILE | query TYPE:NAME KEY        newaliases\n"
    "  queue list [--held] [--json] | show ID | flush | delete ID|ALL [--queue NAME]\n"
    "        | hold ID|ALL | release ID|ALL | requeue ID|ALL\n"
    "  dkim keygen DOMAIN [--selector S] [--type rsa|ed25519] [--bits N] [--pending]\n"
    "       | list [DOMAIN] [--json] | activate|retire|delete DOMAIN SELECTOR\n"
    "  dns records DOMAIN [--ip ADDR]... [--dmarc-policy P] [--mta-sts-mode M] [--json]\n"
    "  dns check DOMAIN [--ip ADDR]... [--json]\n"
    "  migrate [--dry-run] [--postfix DIR] [--passwd-file FILE]... [--passwd-domain D]\n"
    "       [--mail-location maildir:PATH[:CONTROL=DIR]] [--domains|--mailbox-maps|--alias-maps SPEC]\n"
    "       [--mailbox-base DIR] [--default-scheme S] [--pop3-uidl-format F | --keep-uidl-format]\n"
    "       [--no-mail]   (from Postfix + Dovecot: doc/migration.md)\n"
    "  mailq          sendmail [-f SENDER] [-t] [-i] RCPT...\n"
    "  postqueue -p | -j | -f | -i ID | -s SITE    postsuper -d|-h|-H|-r ID|ALL|- [QUEUE...]\n"
    "       (Postfix's queue tools, from libexec/posthorn/compat/; -c CONFDIR)\n"
    "CONFDIR defaults to $POSTHORN_CONFIG, else /etc/posthorn.\n";

void cli_usage(const char *fmt, ...)
{
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        cli_verr(fmt, ap);
        va_end(ap);
    }
    fputs(usage_text, stderr);
    exit(EXIT_USAGE);
}

struct command {
    const char *name;
    int (*fn)(struct cli *c, int argc, char **argv);
};

static const struct command commands[] = {
    {"init", cmd_init},       {"start", cmd_start},   {"stop", cmd_stop},
    {"reload", cmd_reload},   {"status", cmd_status}, {"check", cmd_check},
    {"conf", cmd_conf},       {"user", cmd_user},     {"domain", cmd_domain},
    {"map", cmd_map},         {"newaliases", cmd_newaliases},
    {"queue", cmd_queue},     {"mailq", cmd_mailq},   {"sendmail", cmd_sendmail},
    {"dkim", cmd_dkim},       {"dns", cmd_dns},       {"migrate", cmd_migrate},
    {"mailbox", cmd_mailbox},
};

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* Programs chosen by the name they are called by (symlinks to posthorn); postqueue and
 * postsuper are installed apart, in libexec/posthorn/compat/ (doc/operator.md). */
static const struct command frontends[] = {
    {"mailq", cmd_mailq},         {"sendmail", cmd_sendmail},   {"newaliases", cmd_newaliases},
    {"postqueue", cmd_postqueue}, {"postsuper", cmd_postsuper},
};

static const struct command *find_frontend(const char *name)
{
    for (size_t i = 0; i < sizeof frontends / sizeof frontends[0]; i++)
        if (strcmp(frontends[i].name, name) == 0)
            return &frontends[i];
    return NULL;
}

int main(int argc, char **argv)
{
    struct cli c = {.confdir = getenv("POSTHORN_CONFIG"), .progname = "posthorn", .config_exit = 1};
    if (c.confdir == NULL || *c.confdir == 0)
        c.confdir = "/etc/posthorn";
    log_init("posthorn", "-");
    char *self = strdup(argv[0] ? argv[0] : "posthorn");
    const char *base = self ? basename(self) : "posthorn";
    /* Front ends keep their traditional option syntax: hand them the whole command line. */
    const struct command *front = find_frontend(base);
    if (front) {
        argv[0] = (char *)front->name;
        c.progname = cli_progname = front->name;
        c.config_exit = 78; /* EX_CONFIG (sysexits.h), what mutt and cron report */
        cli_option_confdir(&c, argc, argv);
        free(self);
        return front->fn(&c, argc, argv);
    }
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    int opt;
    while ((opt = getopt(argc, argv, "+c:vh")) != -1) {
        switch (opt) {
        case 'c': c.confdir = optarg; break;
        case 'v': c.verbose = true; log_set_verbose(true); break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: cli_usage(NULL);
        }
    }
    if (optind >= argc)
        cli_usage("no command given");
    if (strcmp(argv[optind], "help") == 0 || strcmp(argv[optind], "--help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    const struct command *cmd = find_command(argv[optind]);
    if (cmd == NULL)
        cli_usage("unknown command \"%s\"", argv[optind]);
    free(self);
    /* Absolute paths in messages and in $config_directory, whatever the cwd later. */
    char *abs = realpath(c.confdir, NULL);
    if (abs)
        c.confdir = abs; /* lives as long as the process */
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    if (sub_argc >= 2 && strcmp(sub_argv[1], "--help") == 0) { /* posthorn user --help */
        fputs(usage_text, stdout);
        return 0;
    }
    optind = 0; /* each command parses its own options (0 re-initialises GNU getopt) */
    return cmd->fn(&c, sub_argc, sub_argv);
}
