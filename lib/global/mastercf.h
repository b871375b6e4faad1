/* mastercf.h - master.cf, Postfix's service table:
 *   service type private unpriv chroot wakeup maxproc command [args...]
 * '#' comments, leading white space continues the previous entry, "-o name=value" options
 * (also "-o name = value" is not allowed: one word). type is inet or unix. For inet the
 * service is [host:]port (host may be [::1]); for unix it names SPOOL/private/NAME (private y,
 * the default) or SPOOL/public/NAME. private/unpriv/chroot take y, n or '-' (default);
 * chroot must be n (chroot jails are not supported yet); wakeup '-' or 0; maxproc '-'
 * (the number of CPUs, at most default_process_limit) or a number >= 1. Problems go to errs as "file:line: reason". */
#ifndef POSTHORN_MASTERCF_H
#define POSTHORN_MASTERCF_H
#include "errlist.h"
#include <stdbool.h>
#include <stddef.h>

struct mastercf_entry {
    char *service;   /* "127.0.0.1:2525", "qmgr" */
    char *type;      /* "inet" or "unix" */
    bool private_;   /* unix: private/ (true) or public/ */
    int maxproc;     /* 0 means default_process_limit */
    char *command;   /* program name in daemon_directory */
    char **args;     /* NULL-terminated: everything after the command ("-o", "k=v", ...) */
    size_t nargs;
    char *where;     /* "master.cf:12" */
    char *columns[5]; /* private unpriv chroot wakeup maxproc as written ("n", "-", "2") */
};

struct mastercf {
    struct mastercf_entry *v;
    size_t n;
};

/* Parse CONFDIR/master.cf. Returns 0 when usable (no errors were added), -1 otherwise. */
int mastercf_load(const char *path, struct mastercf *m, struct errlist *errs);
void mastercf_free(struct mastercf *m);
/* Each service's "-o name=value": a known parameter with a valid value, else an error in
 * errs naming master.cf's line (mastercf_check.c; CONFDIR's main.cf is read for the rest). */
void mastercf_check_overrides(const char *confdir, const struct mastercf *m, struct errlist *errs);
/* For inet entries: split service into host ("" = all addresses) and port. */
int mastercf_inet_split(const char *service, char **host, char **port);

#endif
