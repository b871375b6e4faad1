/* check.c - `posthorn check`: validate an instance before it runs. main.cf (syntax, names,
 * values), master.cf, the daemons in daemon_directory, compiled maps (a source newer than
 * its .lmdb is a warning), directories with their owners and modes, the account database,
 * the TLS certificate and key (check_tls.c) and the DKIM keys (check_dkim.c). Every problem is one line,
 * "file:line: reason" or "path: reason"; exit 1 when there are errors (warnings are fine).
 * start and reload run the same checks. */
#include "cli.h"
#include "accounts.h"
#include "resolve.h"
#include "map.h"
#include "mastercf.h"
#include "mem.h"
#include "pop3_uidl.h"
#include "privs.h"
#include "queue.h"
#include "trust.h"
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void check_tls(struct cli *c, struct errlist *errs); /* check_tls.c */
void check_dkim(struct cli *c, const struct mastercf *m, struct errlist *errs); /* check_dkim.c */

/* Services that log users in (and count what they send), or smtpd with its per-client
 * limits, without the anvil service
 * (an instance made before it existed): their limits then hold per process only and every
 * login waits login_failure_delay (doc/anvil.md, "When anvil is gone"). */
static void check_anvil(const struct mastercf *m, const char *path, struct errlist *errs)
{
    bool anvil = false, users = false;
    for (size_t i = 0; i < m->n; i++) {
        const char *cmd = m->v[i].command;
        anvil |= strcmp(cmd, "anvil") == 0 && strcmp(m->v[i].service, "anvil") == 0;
        users |= strcmp(cmd, "pop3d") == 0 || strcmp(cmd, "imapd") == 0 || strcmp(cmd, "smtpd") == 0 ||
                 strcmp(cmd, "submission") == 0;
    }
    if (users && !anvil)
        errlist_warn(errs, "%s: no anvil service: login, connection and sending limits hold per process only, "
                     "and every login waits login_failure_delay; add \"anvil unix - - n - 1 anvil\" "
                     "(doc/anvil.md)", path);
}

/* mailq for local users goes through the public showq service (an instance made before it
 * existed has none): without it only root and the instance's user can list the queue. */
static void check_showq(const struct mastercf *m, const char *path, struct errlist *errs)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->v[i].command, "showq") == 0 && strcmp(m->v[i].service, "showq") == 0 &&
            strcmp(m->v[i].type, "unix") == 0 && !m->v[i].private_)
            return;
    errlist_warn(errs, "%s: no public showq service: mailq works for root and the mail system's user "
                 "only; add \"showq unix n - n - 2 showq\" (doc/showq.md)", path);
}

static void check_master_cf(struct cli *c, struct errlist *errs)
{
    struct config *cfg = cli_config(c);
    const char *ddir = config_str(cfg, PARAM(daemon_directory));
    char *path = xasprintf("%s/master.cf", c->confdir);
    struct mastercf m;
    mastercf_load(path, &m, errs);
    char *master = xasprintf("%s/master", ddir);
    if (access(master, X_OK) != 0)
        errlist_add(errs, "%s: %s (daemon_directory is %s)", master, strerror(errno), ddir);
    free(master);
    for (size_t i = 0; i < m.n; i++) {
        char *prog = xasprintf("%s/%s", ddir, m.v[i].command);
        if (access(prog, X_OK) != 0)
            errlist_add(errs, "%s: command \"%s\": %s: %s", m.v[i].where, m.v[i].command, prog,
                        strerror(errno));
        free(prog);
    }
    if (m.n == 0 && errlist_errors(errs) == 0)
        errlist_warn(errs, "%s: no services are defined", path);
    check_anvil(&m, path, errs);
    if (m.n > 0)
        check_showq(&m, path, errs);
    check_dkim(c, &m, errs);
    trust_check_instance(cfg, &m, errs);
    mastercf_check_overrides(c->confdir, &m, errs);
    mastercf_free(&m);
    free(path);
}

static bool newer(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

static void check_one_map(const char *spec, const char *where, struct errlist *errs)
{
    if (strncmp(spec, "lmdb:", 5) != 0) {
        errlist_add(errs, "%s: alias_maps: unsupported table type in \"%s\" (only lmdb:)", where, spec);
        return;
    }
    const char *src = spec + 5;
    char *db = xasprintf("%s.lmdb", src);
    struct stat s_src, s_db;
    bool have_src = stat(src, &s_src) == 0, have_db = stat(db, &s_db) == 0;
    if (!have_db)
        errlist_add(errs, "%s: not compiled (run: posthorn map build %s)", db, src);
    else if (have_src && newer(&s_src.st_mtim, &s_db.st_mtim))
        errlist_warn(errs, "%s: source is newer than %s (run: posthorn map build %s)", src, db, src);
    if (have_db) {
        char *err = NULL;
        struct map *mp = map_open(spec, &err);
        if (!mp)
            errlist_add(errs, "%s: %s", db, err ? err : "cannot open");
        else
            map_close(mp);
        free(err);
    }
    free(db);
}

static void check_maps(struct cli *c, struct errlist *errs)
{
    size_t n;
    char **maps = config_list(cli_config(c), PARAM(alias_maps), &n);
    char *where = cli_param_where(c, PARAM(alias_maps));
    for (size_t i = 0; i < n; i++)
        check_one_map(maps[i], where, errs);
    free(where);
}

/* A directory that must exist, owned by uid (when uid != -1), with exactly mode. */
static void check_dir(const char *path, uid_t uid, const char *owner, mode_t mode,
                      struct errlist *errs)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        errlist_add(errs, "%s: %s", path, strerror(errno));
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        errlist_add(errs, "%s: not a directory", path);
        return;
    }
    if (uid != (uid_t)-1 && st.st_uid != uid)
        errlist_add(errs, "%s: owned by uid %ld, expected %s (uid %ld)", path, (long)st.st_uid,
                    owner, (long)uid);
    mode_t m = st.st_mode & 07777;
    if (m & 0002)
        errlist_add(errs, "%s: mode %04o is world-writable", path, (unsigned)m);
    else if (mode && m != mode)
        errlist_add(errs, "%s: mode %04o, expected %04o", path, (unsigned)m, (unsigned)mode);
}

static uid_t user_uid(struct cli *c, const char *param, struct errlist *errs)
{
    const char *name = config_str(cli_config(c), param);
    struct passwd *pw = getpwnam(name);
    if (pw)
        return pw->pw_uid;
    char *where = cli_param_where(c, param);
    errlist_add(errs, "%s: %s: unknown user \"%s\"", where, param, name);
    free(where);
    return (uid_t)-1;
}

/* Can uid/gid reach path (search permission on every ancestor)? The first directory that
 * stops it goes to *blocker (malloc'ed). */
static bool reachable(const char *path, uid_t uid, gid_t gid, char **blocker)
{
    char *copy = xstrdup(path);
    bool ok = true;
    for (char *p = copy + 1; ok; p++) {
        char saved = *p;
        if (saved != '/' && saved != 0)
            continue;
        *p = 0;
        struct stat st;
        if (stat(copy, &st) == 0 && S_ISDIR(st.st_mode)) {
            mode_t need = st.st_uid == uid ? 0100 : st.st_gid == gid ? 0010 : 0001;
            if (!(st.st_mode & need)) {
                *blocker = xasprintf("%s (mode %04o)", copy, (unsigned)(st.st_mode & 07777));
                ok = false;
            }
        }
        *p = saved;
        if (saved == 0)
            break;
    }
    free(copy);
    return ok;
}

/* The daemons run as param's user once they dropped privileges: can it reach path? */
static void check_reach(struct cli *c, const char *param, const char *path, struct errlist *errs)
{
    struct passwd *pw = getpwnam(config_str(cli_config(c), param));
    char *blocker = NULL;
    if (!pw || pw->pw_uid == 0 || reachable(path, pw->pw_uid, pw->pw_gid, &blocker))
        return;
    errlist_add(errs, "%s: %s %s cannot reach it: %s is not searchable", path, param,
                pw->pw_name, blocker);
    free(blocker);
}

/* Can every local user reach path (each directory on the way searchable by others; the last
 * one too, or only readable when it is a file)? Returns the first component in the way, or
 * NULL. */
static char *blocked_for_others(const char *path, bool file)
{
    char *p = xstrdup(path);
    for (char *slash = p; slash;) {
        slash = strchr(slash + 1, '/');
        if (slash)
            *slash = 0;
        struct stat st;
        bool last = slash == NULL;
        mode_t need = last && file ? S_IROTH : S_IXOTH;
        if (*p && (stat(p, &st) < 0 || !(st.st_mode & need)))
            return p;
        if (slash)
            *slash = '/';
    }
    free(p);
    return NULL;
}

/* mailq for local users needs main.cf (to find the spool) and SPOOL/public/ (showq's socket). */
static void check_public(struct cli *c, const char *spool, struct errlist *errs)
{
    char *mcf = xasprintf("%s/main.cf", c->confdir), *pub = xasprintf("%s/public", spool);
    char *in_way = blocked_for_others(mcf, true);
    if (!in_way)
        in_way = blocked_for_others(pub, false);
    if (in_way)
        errlist_warn(errs, "%s: not open to other users: mailq works for root and the mail "
                     "system's user only (doc/showq.md)", in_way);
    free(in_way);
    free(mcf);
    free(pub);
}

static void check_dirs(struct cli *c, struct errlist *errs)
{
    struct config *cfg = cli_config(c);
    uid_t mail = user_uid(c, PARAM(mail_owner), errs), vmail = user_uid(c, PARAM(vmail_owner), errs);
    const char *mo = config_str(cfg, PARAM(mail_owner)), *vo = config_str(cfg, PARAM(vmail_owner));
    const char *spool = config_str(cfg, PARAM(queue_directory));
    check_dir(spool, (uid_t)-1, NULL, 0, errs);
    for (const char *const *q = queue_dirs; *q; q++) {
        char *p = xasprintf("%s/%s", spool, *q);
        check_dir(p, mail, mo, 0700, errs);
        free(p);
    }
    struct { const char *name; bool owned; mode_t mode; } sub[] = {
        {"private", true, 0700}, {"public", true, 0}, {"pid", false, 0}};
    for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
        char *p = xasprintf("%s/%s", spool, sub[i].name);
        check_dir(p, sub[i].owned ? mail : (uid_t)-1, mo, sub[i].mode, errs);
        free(p);
    }
    check_public(c, spool, errs);
    const char *sts = config_str(cfg, PARAM(smtp_mta_sts_cache_directory));
    struct stat st;
    if (*sts && config_bool(cfg, PARAM(smtp_mta_sts_enable)) && lstat(sts, &st) < 0 && errno == ENOENT)
        errlist_warn(errs, "%s: missing: smtp-client keeps MTA-STS policies in memory only "
                     "(create it with mode 0700, owned by %s)", sts, mo);
    else if (*sts && config_bool(cfg, PARAM(smtp_mta_sts_enable)))
        check_dir(sts, mail, mo, 0700, errs);
    check_dir(config_str(cfg, PARAM(data_directory)), mail, mo, 0, errs);
    check_dir(config_str(cfg, PARAM(virtual_mailbox_base)), vmail, vo, 0, errs);
    check_reach(c, PARAM(mail_owner), spool, errs);
    check_reach(c, PARAM(mail_owner), c->confdir, errs);
    check_reach(c, PARAM(vmail_owner), c->confdir, errs);
    check_reach(c, PARAM(vmail_owner), config_str(cfg, PARAM(virtual_mailbox_base)), errs);
    check_reach(c, PARAM(vmail_owner), config_str(cfg, PARAM(data_directory)), errs);
    const char *log = config_str(cfg, PARAM(maillog_file));
    if (log && *log) {
        char *dir = xstrdup(log);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = 0;
            check_dir(dir, (uid_t)-1, NULL, 0, errs);
        }
        free(dir);
    }
}

static int collect_domain(void *ctx, const char *domain)
{
    struct errlist *list = ctx; /* used as a plain list of strings */
    errlist_add(list, "%s", domain);
    return 0;
}

/* RFC 5321 sec 4.5.1: postmaster@ every domain we serve must be deliverable. The domains
 * are collected first: a lookup inside the listing's read transaction would nest two
 * LMDB read transactions in one thread. */
static void check_postmasters(struct resolver *r, const char *path, struct errlist *errs)
{
    struct errlist domains = {0};
    if (accounts_domain_list(resolver_accounts(r), collect_domain, &domains) < 0)
        errlist_add(errs, "%s: cannot read the domains", path);
    for (size_t i = 0; i < domains.n; i++) {
        char *addr = xasprintf("postmaster@%s", domains.msgs[i]), *result = NULL;
        if (resolve_recipient(r, addr, &result, NULL) == RCPT_UNKNOWN)
            errlist_warn(errs, "domain %s has no postmaster (RFC 5321 sec 4.5.1): add the alias "
                         "%s or set postmaster_recipient", domains.msgs[i], addr);
        free(result);
        free(addr);
    }
    errlist_free(&domains);
}

static void check_accounts(struct cli *c, struct errlist *errs)
{
    char *err = NULL;
    struct config *cfg = cli_config(c);
    const char *path = config_str(cfg, PARAM(account_database));
    if (access(path, R_OK) != 0) {
        errlist_add(errs, "%s: %s (posthorn init creates it; without it all mail is deferred)",
                    path, strerror(errno));
        return;
    }
    /* One LMDB environment per file and process: use the resolver's. */
    struct resolver *r = resolver_open(cfg, &err);
    if (!r) {
        errlist_add(errs, "%s: %s", path, err ? err : "cannot open");
        free(err);
        return;
    }
    check_postmasters(r, path, errs);
    resolver_close(r);
}

/* Parameters whose values have a grammar of their own (beyond type and bounds). */
static void check_templates(struct cli *c, struct errlist *errs)
{
    const char *fmt = config_str(c->cfg, PARAM(pop3d_uidl_format));
    const char *why = pop3_uidl_check(fmt);
    if (why) {
        char *where = cli_param_where(c, PARAM(pop3d_uidl_format));
        errlist_add(errs, "%s: pop3d_uidl_format = %s: %s", where, fmt, why);
        free(where);
    }
}

void check_all(struct cli *c, struct errlist *errs)
{
    config_free(c->cfg); /* reload so its problems are collected here */
    c->cfg = config_load(c->confdir, errs);
    if (!c->cfg)
        return;
    config_validate(c->cfg, errs);
    check_templates(c, errs);
    check_master_cf(c, errs);
    check_dirs(c, errs);
    check_maps(c, errs);
    check_accounts(c, errs);
    check_tls(c, errs);
}

int cmd_check(struct cli *c, int argc, char **argv)
{
    if (argc != 1)
        cli_usage("check takes no arguments");
    struct errlist errs = {0};
    check_all(c, &errs);
    errlist_print(&errs, stderr);
    size_t n = errlist_errors(&errs);
    if (c->verbose || n)
        cli_err("%zu error%s, %zu warning%s", n, n == 1 ? "" : "s", errs.warnings,
                errs.warnings == 1 ? "" : "s");
    errlist_free(&errs);
    return n ? 1 : 0;
}
