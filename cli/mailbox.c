/* mailbox.c - `posthorn mailbox reindex [--rebuild] ADDR...`: a user's index made again from
 * the Maildir (mailbox_reindex in lib/store, doc/mailstore.md "Reindex"): folders copied in
 * by hand get their records, and every folder is synced with its files. As root it first
 * gives what was copied in as root to vmail_owner (the owner of the mail), then runs as
 * that user. --rebuild first moves the index and its journal files
 * aside (INDEX.corrupt-TIME): what to do when the store reports the index corrupt. It needs
 * the instance stopped, since running sessions keep the old file open. */
#include "cli.h"
#include "mailstore.h"
#include "mem.h"
#include "privs.h"
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void report(void *ctx, const char *mailbox, bool made, int changes, const char *err)
{
    const char *addr = ctx;
    if (changes < 0)
        cli_err("%s: %s: %s", addr, mailbox, err ? err : "failed");
    else
        printf("%s: %s:%s %d change%s\n", addr, mailbox, made ? " folder added," : "", changes,
               changes == 1 ? "" : "s");
}

/* Move INDEX, INDEX-journal and INDEX-pending aside and drop INDEX-lock. */
static int move_aside(const char *index)
{
    static const char *const suffix[] = {"", "-journal", "-pending"};
    long long now = (long long)time(NULL);
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        char *from = xasprintf("%s%s", index, suffix[i]);
        char *to = xasprintf("%s%s.corrupt-%lld", index, suffix[i], now);
        int r = rename(from, to) < 0 && errno != ENOENT ? -1 : 0;
        if (r == 0 && i == 0)
            printf("%s moved aside to %s\n", from, to);
        else if (r < 0)
            cli_err("%s: %s", from, strerror(errno));
        free(from);
        free(to);
        if (r < 0)
            return -1;
    }
    char *lock = xasprintf("%s-lock", index);
    (void)unlink(lock);
    free(lock);
    return 0;
}

/* Files copied in by root: given to vmail_owner (nftw has no context pointer). */
static uid_t owner_uid;
static gid_t owner_gid;
static unsigned chowned;

static int give(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)flag, (void)ftw;
    if ((st->st_uid != owner_uid || st->st_gid != owner_gid) && lchown(path, owner_uid, owner_gid) == 0)
        chowned++;
    return 0;
}

/* BASE/DOMAIN/LOCALPART of an address as typed, NULL when it is not valid. */
static char *user_dir(const char *base, const char *addr)
{
    char *a = xstrdup(addr), *domain = NULL, *dir = NULL;
    if (valid_address(a, &domain))
        dir = xasprintf("%s/%s/%.*s", base, domain, (int)(strrchr(a, '@') - a), a);
    free(a);
    return dir;
}

static void give_to_owner(const char *addr, const char *dir)
{
    chowned = 0;
    nftw(dir, give, 16, FTW_PHYS);
    if (chowned)
        printf("%s: %u file%s given to vmail_owner\n", addr, chowned, chowned == 1 ? "" : "s");
}

static int reindex(struct config *cfg, char *addr, bool rebuild)
{
    const char *base = config_str(cfg, PARAM(virtual_mailbox_base));
    const char *index_name = config_str(cfg, PARAM(mailbox_index_name));
    char *domain = NULL, *dir = user_dir(base, addr);
    if (!dir || !valid_address(addr, &domain)) {
        cli_err("%s: not a valid address", addr);
        free(dir);
        return 1;
    }
    char *local = xstrndup(addr, (size_t)(strrchr(addr, '@') - addr));
    char *index = xasprintf("%s/%s", dir, index_name);
    char *err = NULL;
    struct mail_user *mu = NULL;
    int rc = 1;
    if (access(dir, F_OK) < 0)
        cli_err("%s: no mail at %s", addr, dir);
    else if (rebuild && move_aside(index) < 0)
        ;
    else if (!(mu = mail_user_open(base, domain, local, index_name, true, &err)))
        cli_err("%s: %s", addr, err ? err : "cannot open the index");
    else
        rc = mailbox_reindex(mu, report, addr) < 0;
    if (mu)
        mail_user_close(mu);
    free(err);
    free(index);
    free(dir);
    free(local);
    return rc;
}

int cmd_mailbox(struct cli *c, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "reindex") != 0)
        cli_usage("mailbox needs a subcommand: reindex");
    bool rebuild = false;
    int first = 2;
    if (argc > 2 && strcmp(argv[2], "--rebuild") == 0) {
        rebuild = true;
        first = 3;
    }
    if (first >= argc)
        cli_usage("mailbox reindex: which address?");
    struct config *cfg = cli_config(c);
    if (rebuild && master_pid(c) > 0) {
        cli_err("mailbox reindex --rebuild: stop the instance first (its sessions keep the old "
                "index open)");
        return 1;
    }
    char *err = NULL;
    const char *vmail = config_str(cfg, PARAM(vmail_owner));
    if (privs_is_root() && privs_lookup(vmail, &owner_uid, &owner_gid, &err) < 0) {
        cli_err("vmail_owner: %s", err);
        free(err);
        return 1;
    }
    const char *base = config_str(cfg, PARAM(virtual_mailbox_base));
    for (int i = first; privs_is_root() && i < argc; i++) {
        char *dir = user_dir(base, argv[i]); /* copied in as root: given to vmail_owner */
        if (dir)
            give_to_owner(argv[i], dir);
        free(dir);
    }
    if (privs_drop(vmail, NULL, &err) < 0) { /* the rest as the owner of the mail */
        cli_err("vmail_owner: %s", err);
        free(err);
        return 1;
    }
    int rc = 0;
    for (int i = first; i < argc; i++)
        rc |= reindex(cfg, argv[i], rebuild);
    return rc;
}
