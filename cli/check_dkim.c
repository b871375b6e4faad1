/* check_dkim.c - `posthorn check` for DKIM signing (doc/dkim.md): with keys in
 * dkim_key_directory there must be a dkim-signer service on private/dkim (else every message
 * of every domain fails to be signed: an error under dkim_failure_policy = tempfail, as
 * nothing could be sent); dkim_owner must exist and reach the keys; the directories are
 * 0700 and the keys 0600, owned by dkim_owner when the instance runs as root; every key
 * file loads. */
#include "cli.h"
#include "dkim_key.h"
#include "dkim_keydir.h"
#include "mastercf.h"
#include "mem.h"
#include "privs.h"
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void check_dkim(struct cli *c, const struct mastercf *m, struct errlist *errs);

/* Owner (when uid is not -1) and exact mode of path. */
static void check_mode(const char *path, uid_t uid, const char *owner, mode_t mode,
                       struct errlist *errs)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        errlist_add(errs, "%s: %s", path, strerror(errno));
        return;
    }
    if (uid != (uid_t)-1 && st.st_uid != uid)
        errlist_add(errs, "%s: owned by uid %ld, expected %s (dkim_owner)", path, (long)st.st_uid, owner);
    if ((st.st_mode & 07777) != mode)
        errlist_add(errs, "%s: mode %04o, expected %04o (it holds DKIM private keys)", path,
                    (unsigned)(st.st_mode & 07777), (unsigned)mode);
}

static void check_keys(const char *dir, uid_t uid, const char *owner, struct errlist *errs)
{
    struct dkim_keylist l;
    char *err = NULL;
    if (dkim_keydir_scan(dir, NULL, &l, &err) < 0) {
        errlist_add(errs, "%s", err);
        free(err);
        return;
    }
    check_mode(dir, uid, owner, 0700, errs);
    for (size_t i = 0; i < l.n; i++) {
        if (i == 0 || strcmp(l.v[i].domain, l.v[i - 1].domain) != 0) {
            char *d = xasprintf("%s/%s", dir, l.v[i].domain);
            check_mode(d, uid, owner, 0700, errs);
            free(d);
        }
        check_mode(l.v[i].path, uid, owner, 0600, errs);
        struct dkim_key *k = dkim_key_load(l.v[i].path, &err);
        if (!k) {
            errlist_add(errs, "%s", err);
            free(err);
            err = NULL;
        }
        dkim_key_free(k);
    }
    dkim_keylist_free(&l);
}

void check_dkim(struct cli *c, const struct mastercf *m, struct errlist *errs)
{
    struct config *cfg = cli_config(c);
    const char *dir = config_str(cfg, PARAM(dkim_key_directory));
    const char *owner = config_str(cfg, PARAM(dkim_owner));
    bool signer = false, wrong_name = false;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->v[i].command, "dkim-signer") == 0) {
            signer |= strcmp(m->v[i].service, "dkim") == 0 && strcmp(m->v[i].type, "unix") == 0;
            wrong_name |= !signer;
        }
    if (wrong_name)
        errlist_warn(errs, "master.cf: dkim-signer must be the unix service \"dkim\" "
                     "(its clients connect to private/dkim)");
    struct stat st;
    bool keys = stat(dir, &st) == 0;
    if (keys && !signer) {
        char *msg = xasprintf("%s: DKIM keys but no dkim-signer service in master.cf: no message "
                              "can be signed; add \"dkim unix - - n - 2 dkim-signer\" (doc/dkim.md)", dir);
        if (config_enum(cfg, PARAM(dkim_failure_policy)) == 0)
            errlist_add(errs, "%s", msg);
        else
            errlist_warn(errs, "%s", msg);
        free(msg);
    }
    if (!signer && !keys)
        return;
    uid_t uid = (uid_t)-1;
    if (privs_is_root()) {
        struct passwd *pw = getpwnam(owner);
        if (!pw) {
            char *where = cli_param_where(c, PARAM(dkim_owner));
            errlist_add(errs, "%s: dkim_owner: unknown user \"%s\"", where, owner);
            free(where);
            return;
        }
        uid = pw->pw_uid;
    }
    if (keys)
        check_keys(dir, uid, owner, errs);
}
