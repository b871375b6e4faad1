/* privs.c - privilege drop (see privs.h). */
#include "privs.h"
#include "mem.h"
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

bool privs_is_root(void) { return geteuid() == 0; }

int privs_lookup(const char *user, uid_t *uid, gid_t *gid, char **err)
{
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        *err = xasprintf("unknown user \"%s\"%s%s", user, errno ? ": " : "",
                         errno ? strerror(errno) : "");
        return -1;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

int privs_drop(const char *user, const char *chroot_dir, char **err)
{
    if (!privs_is_root())
        return 0;
    uid_t uid;
    gid_t gid;
    if (privs_lookup(user, &uid, &gid, err) < 0)
        return -1;
    if (uid == 0) {
        *err = xasprintf("user \"%s\" has uid 0; refusing to run network-facing code as root", user);
        return -1;
    }
    if (chroot_dir && (chroot(chroot_dir) < 0 || chdir("/") < 0)) {
        *err = xasprintf("chroot %s: %s", chroot_dir, strerror(errno));
        return -1;
    }
    if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
        *err = xasprintf("drop privileges to %s: %s", user, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0 || geteuid() == 0 || getegid() == 0) {
        *err = xasprintf("privileges still reachable after dropping to %s", user);
        return -1;
    }
    return 0;
}
