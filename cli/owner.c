/* owner.c - ownership of instance files when `posthorn` runs as root: the spool belongs
 * to mail_owner, mailboxes to vmail_owner, and the LMDB databases (account database) to
 * mail_owner with vmail_owner's group so both can read them while password hashes stay
 * hidden from everyone else. As another user everything simply belongs to that user. */
#include "cli.h"
#include "mem.h"
#include "privs.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int owners_get(struct config *cfg, struct owners *o, char **err)
{
    memset(o, 0, sizeof *o);
    o->root = privs_is_root();
    if (!o->root) {
        o->mail_uid = o->vmail_uid = geteuid();
        o->mail_gid = o->vmail_gid = getegid();
        return 0;
    }
    if (privs_lookup(config_str(cfg, PARAM(mail_owner)), &o->mail_uid, &o->mail_gid, err) < 0)
        return -1;
    uid_t vu;
    if (privs_lookup(config_str(cfg, PARAM(vmail_owner)), &vu, &o->vmail_gid, err) < 0)
        return -1;
    o->vmail_uid = vu;
    return 0;
}

/* chown + chmod one path without following a symlink planted there. */
static void fix_one(const struct owners *o, const char *path, mode_t mode)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            cli_err("%s: %s", path, strerror(errno));
        return;
    }
    if (fchown(fd, o->mail_uid, o->vmail_gid) < 0 || fchmod(fd, mode) < 0)
        cli_err("%s: cannot set owner or mode: %s", path, strerror(errno));
    close(fd);
}

void owners_fix_db(const struct owners *o, const char *path)
{
    if (!o->root)
        return;
    struct stat st;
    if (lstat(path, &st) < 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        /* MDB_NOSUBDIR layout: PATH and PATH-lock. Readers write the lock file. */
        fix_one(o, path, 0640);
        char *lock = xasprintf("%s-lock", path);
        fix_one(o, lock, 0660);
        free(lock);
        return;
    }
    fix_one(o, path, 0750);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *p = xasprintf("%s/%s", path, de->d_name);
        fix_one(o, p, strstr(de->d_name, "lock") ? 0660 : 0640);
        free(p);
    }
    closedir(d);
}
