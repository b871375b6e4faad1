/* privs.h - the one audited privilege drop: resolve the user (before any chroot), drop
 * supplementary groups, then gid, then uid, and refuse to go on if root is still reachable.
 * When the process does not run as root this does nothing: the instance runs as its user. */
#ifndef POSTHORN_PRIVS_H
#define POSTHORN_PRIVS_H
#include <stdbool.h>
#include <sys/types.h>

/* Returns 0, or -1 with *err (malloc'ed). chroot_dir may be NULL. */
int privs_drop(const char *user, const char *chroot_dir, char **err);
/* Look up a user's uid/gid; returns 0 or -1 with *err. */
int privs_lookup(const char *user, uid_t *uid, gid_t *gid, char **err);
bool privs_is_root(void);

#endif
