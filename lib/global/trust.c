/* trust.c - ownership checks of the files root executes or reads (see trust.h). */
#include "trust.h"
#include "mem.h"
#include "privs.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int trust_one(const char *path, char **why)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        *why = xasprintf("%s: %s", path, strerror(errno));
        return -1;
    }
    if (st.st_uid != 0) {
        *why = xasprintf("%s: owned by uid %u, not root", path, (unsigned)st.st_uid);
        return -1;
    }
    bool sticky_dir = S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX);
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !sticky_dir) {
        *why = xasprintf("%s: writable by group or others (mode %04o)", path,
                         (unsigned)(st.st_mode & 07777));
        return -1;
    }
    return 0;
}

int trust_path(const char *path, char **why)
{
    char *real = realpath(path, NULL);
    if (!real) {
        *why = xasprintf("%s: %s", path, strerror(errno));
        return -1;
    }
    /* Check "/", then each prefix, then the path itself (realpath resolved symlinks, so an
     * attacker's symlink shows up as the untrusted target). */
    int rc = trust_one("/", why);
    for (char *p = real + 1; rc == 0 && *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        rc = trust_one(real, why);
        *p = '/';
    }
    if (rc == 0 && strcmp(real, "/") != 0)
        rc = trust_one(real, why);
    free(real);
    return rc;
}

static void need(const char *path, const char *what, struct errlist *errs)
{
    char *why = NULL;
    if (trust_path(path, &why) < 0) {
        errlist_add(errs, "%s: %s; root would trust it, refusing", why, what);
        free(why);
    }
}

void trust_check_instance(struct config *cfg, const struct mastercf *mcf, struct errlist *errs)
{
    if (!privs_is_root())
        return;
    const char *confdir = config_dir(cfg);
    char *main_cf = xasprintf("%s/main.cf", confdir), *master_cf = xasprintf("%s/master.cf", confdir);
    need(main_cf, "main.cf", errs);
    need(master_cf, "master.cf", errs);
    const char *ddir = config_str(cfg, PARAM(daemon_directory));
    need(ddir, PARAM(daemon_directory), errs);
    char *master = xasprintf("%s/master", ddir);
    need(master, "the master program", errs);
    free(master);
    for (size_t i = 0; mcf && i < mcf->n; i++) {
        char *prog = xasprintf("%s/%s", ddir, mcf->v[i].command);
        need(prog, "a daemon program", errs);
        free(prog);
    }
    free(main_cf);
    free(master_cf);
}
