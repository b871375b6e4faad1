/* cli.h - shared state and helpers of the `posthorn` admin command and its front ends
 * (mailq, sendmail, newaliases). Each command group lives in its own file and exports one
 * entry point `int cmd_GROUP(struct cli *c, int argc, char **argv)` returning the exit
 * status. argv[0] of a command is its own name ("user", "queue", ...). */
#ifndef POSTHORN_CLI_H
#define POSTHORN_CLI_H
#include "config.h"
#include "errlist.h"
#include "mailq_format.h"
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/* Exit statuses (sysexits-like where it matters to scripts). */
#define EXIT_USAGE 2
#define EXIT_NOT_RUNNING 3

struct cli {
    const char *confdir; /* -c, POSTHORN_CONFIG or /etc/posthorn */
    struct config *cfg;  /* loaded on first cli_config() */
    bool verbose;
    const char *progname; /* the name messages start with: posthorn, or the front end's */
    int config_exit;      /* exit status when main.cf cannot be read: 1, or 78 for front ends */
};

/* main.c */
_Noreturn void cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* util.c: configuration and output helpers */
/* Load main.cf once (problems printed to stderr); exits with config_exit when it cannot
 * be read. */
struct config *cli_config(struct cli *c);
/* The classic front ends' -C CONFDIR (or a main.cf path), wherever it is on the command
 * line: sets c->confdir before anything reads the configuration. */
void cli_option_confdir(struct cli *c, int argc, char **argv);
/* The name messages start with (main sets it for the front ends). */
extern const char *cli_progname;
/* Print "PROGNAME: MESSAGE" to stderr. */
void cli_verr(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "PROG: [LEVEL: ]MESSAGE" to stderr, Postfix's shape (LEVEL "warning", "fatal" or
 * NULL), for the front ends that speak as Postfix's tools (mailq, postqueue, postsuper). */
void cli_say(const char *prog, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Start logging events (queue changes, sendmail) to maillog_file or syslog. */
void cli_log_open(struct cli *c, const char *name);
/* "where" of a parameter for messages: "main.cf:12" or "CONFDIR/main.cf (default)". */
char *cli_param_where(struct cli *c, const char *name);
void json_string(FILE *out, const char *s);
/* Spool paths. */
const char *cli_spool(struct cli *c);
/* Wake qmgr (request=wakeup); lossy by design. Returns 0 when sent. */
int cli_wake_qmgr(struct cli *c);
/* Rename and fsync both directories; 0 or -1 with errno. */
int cli_move(const char *from, const char *to);
/* Unlink and fsync the directory; ENOENT counts as success. */
int cli_remove(const char *path);

/* check_tls.c: the first PEM certificate of path (an X509 *, freed with X509_free), or
 * NULL with the reason added to errs. */
struct x509_st;
struct x509_st *cli_load_cert(const char *path, struct errlist *errs);

/* control.c: the pid of the running master, 0 when none runs, -1 on error (printed). */
pid_t master_pid(struct cli *c);

/* owner.c: the instance's users and file ownership when running as root */
struct owners {
    bool root;          /* running as root: apply ownership */
    uid_t mail_uid, vmail_uid;
    gid_t mail_gid, vmail_gid;
};
/* Resolve mail_owner and vmail_owner from cfg; -1 with *err. */
int owners_get(struct config *cfg, struct owners *o, char **err);
/* Give an LMDB database (file plus "-lock", or a directory) to mail_owner with group
 * vmail_owner: readable by both, writable by mail_owner. No-op when not root. */
void owners_fix_db(const struct owners *o, const char *path);

/* password_input.c: read a new password: twice without echo from a terminal, else one
 * line from stdin. Returns a malloc'ed string (wipe with explicit_bzero) or NULL. */
char *read_new_password(bool from_stdin);

/* Validation of addresses and domains we store (lowercases in place). */
bool valid_domain(char *d);
/* A domain or address as typed, with the domain in A-labels ("bücher.test" ->
 * "xn--bcher-kva.test", RFC 5890), malloc'ed; unchanged when not a valid IDN. */
char *idn_input(const char *s);
bool valid_address(char *addr, char **domain_out);

/* Command groups. */
int cmd_init(struct cli *c, int argc, char **argv);
int cmd_start(struct cli *c, int argc, char **argv);
int cmd_stop(struct cli *c, int argc, char **argv);
int cmd_reload(struct cli *c, int argc, char **argv);
int cmd_status(struct cli *c, int argc, char **argv);
int cmd_check(struct cli *c, int argc, char **argv);
/* check.c: run every check into errs (used by start and reload). */
void check_all(struct cli *c, struct errlist *errs);
int cmd_conf(struct cli *c, int argc, char **argv);
int cmd_user(struct cli *c, int argc, char **argv);
int cmd_domain(struct cli *c, int argc, char **argv);
int cmd_map(struct cli *c, int argc, char **argv);
int cmd_newaliases(struct cli *c, int argc, char **argv);
/* maps.c: compile one table (checked as aliases(5) when aliases); problems printed; 0 or 1. */
int cli_map_build(struct cli *c, const char *source, bool aliases);
int cmd_migrate(struct cli *c, int argc, char **argv);
int cmd_mailbox(struct cli *c, int argc, char **argv);
int cmd_queue(struct cli *c, int argc, char **argv);
/* Ask qmgr to deliver deferred mail now (without qmgr, move it to incoming); 0 or 1. */
int cli_flush(struct cli *c, bool quiet);
int cmd_mailq(struct cli *c, int argc, char **argv);
int cmd_sendmail(struct cli *c, int argc, char **argv);
int cmd_postqueue(struct cli *c, int argc, char **argv);
int cmd_postsuper(struct cli *c, int argc, char **argv);
int cmd_dkim(struct cli *c, int argc, char **argv);
int cmd_dns(struct cli *c, int argc, char **argv);

/* queue_list.c: `queue list` and `queue show` (called by cmd_queue in queue_admin.c). */
int queue_read_cmd(struct cli *c, int argc, char **argv);
/* One queue listing (mailq, sendmail -bp, postqueue -p and -j, queue list): from showq, or
 * from the spool when showq is down and the caller may read it. */
struct list_opts {
    const char *prog;      /* name in messages: "mailq", "sendmail", "postqueue", "posthorn" */
    enum mailq_style style;
    bool held;             /* only the hold queue ("No mail is on hold") */
    bool quiet_fallback;   /* read the spool without postqueue's "Mail system is down" warning */
};
/* The exit status: 0, EX_UNAVAILABLE (down, and the spool is not readable), EX_SOFTWARE (a
 * failed or malformed listing) or EX_IOERR (stdout). */
int cli_list_queue(struct cli *c, const struct list_opts *o);

#endif
