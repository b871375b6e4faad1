/* fuzz_daemon.h - what the targets that run a daemon's own session code (fuzz_smtpd,
 * fuzz_pop3d, fuzz_pop3_login, fuzz_imap_login) share for their set-up: abort on a failed step (a set-up
 * failure is a bug of the target, never a finding) and main.cf parameters set in code. */
#ifndef POSTHORN_FUZZ_DAEMON_H
#define POSTHORN_FUZZ_DAEMON_H
#include "config.h"
#include "errlist.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static inline void must(bool ok)
{
    if (!ok)
        abort();
}

/* name = value, as if main.cf said so. */
static inline void set(struct config *cfg, const char *name, const char *value)
{
    char a[800];
    struct errlist errs = {0};
    must((size_t)snprintf(a, sizeof a, "%s=%s", name, value) < sizeof a);
    must(config_override(cfg, a, "fuzz", &errs));
    errlist_free(&errs);
}

#endif
