/* init_layout.c - file-system work of `posthorn init`: directories and files with exact
 * owners and modes (no symlink following), template filling, system users, and finding
 * the daemons beside the running binary. */
#include "init.h"
#include "fileio.h"
#include "mem.h"
#include "privs.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define USERADD "/usr/sbin/useradd"
#define NOLOGIN "/usr/sbin/nologin"

static int set_owner_mode(int fd, const char *path, mode_t mode, const struct init_owner *o,
                          char **err)
{
    if (o->apply && fchown(fd, o->uid, o->gid) < 0) {
        *err = xasprintf("%s: chown: %s", path, strerror(errno));
        return -1;
    }
    if (fchmod(fd, mode) < 0) {
        *err = xasprintf("%s: chmod: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int init_dir(const char *path, mode_t mode, const struct init_owner *owner, char **err)
{
    if (mkdir(path, mode) < 0 && errno != EEXIST) {
        *err = xasprintf("%s: mkdir: %s", path, strerror(errno));
        return -1;
    }
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        *err = xasprintf("%s: %s", path,
                         errno == ELOOP || errno == ENOTDIR ? "exists and is not a directory"
                                                            : strerror(errno));
        return -1;
    }
    int rc = set_owner_mode(fd, path, mode, owner, err);
    close(fd);
    return rc;
}

int init_file(const char *path, const char *data, size_t len, mode_t mode,
              const struct init_owner *owner, char **err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        *err = xasprintf("%s: %s", path, strerror(errno));
        return -1;
    }
    if (set_owner_mode(fd, path, mode, owner, err) < 0) {
        close(fd);
        return -1;
    }
    if (write_full(fd, data, len) < 0 || fsync(fd) < 0) {
        *err = xasprintf("%s: write: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (close(fd) < 0) {
        *err = xasprintf("%s: close: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static const char *lookup_var(const char *const *vars, const char *name, size_t len)
{
    for (size_t i = 0; vars[i]; i += 2)
        if (strlen(vars[i]) == len && strncmp(vars[i], name, len) == 0)
            return vars[i + 1];
    return NULL;
}

int init_fill(const char *tmpl, const char *const *vars, struct buf *out, char **err)
{
    for (const char *p = tmpl; *p;) {
        const char *at = strchr(p, '@');
        if (!at) {
            buf_puts(out, p);
            break;
        }
        buf_append(out, p, (size_t)(at - p));
        const char *q = at + 1;
        while (isupper((unsigned char)*q) || isdigit((unsigned char)*q) || *q == '_')
            q++;
        if (*q != '@' || q == at + 1) {
            buf_putc(out, '@'); /* an ordinary '@' (e.g. in an address) */
            p = at + 1;
            continue;
        }
        const char *v = lookup_var(vars, at + 1, (size_t)(q - at - 1));
        if (!v) {
            *err = xasprintf("template placeholder %.*s has no value", (int)(q - at + 1), at);
            return -1;
        }
        buf_puts(out, v);
        p = q + 1;
    }
    return 0;
}

int init_system_user(const char *name, char **err)
{
    if (getpwnam(name) != NULL)
        return 0;
    pid_t pid = fork();
    if (pid < 0) {
        *err = xasprintf("fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        execl(USERADD, "useradd", "--system", "--user-group", "--no-create-home", "--shell",
              NOLOGIN, "--comment", "Posthorn mail system", name, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            *err = xasprintf("waitpid: %s", strerror(errno));
            return -1;
        }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || getpwnam(name) == NULL) {
        *err = xasprintf("%s %s failed (status %d)", USERADD, name,
                         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return -1;
    }
    return 0;
}

char *init_daemon_dir_guess(void)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = 0;
    /* The build tree keeps every program in one directory; an installation puts the
     * daemons in ../libexec/posthorn relative to sbin/posthorn, whatever the prefix. */
    char *bindir = xstrdup(dirname(exe));
    char *cands[2] = {xstrdup(bindir), xasprintf("%s/../libexec/posthorn", bindir)};
    char *found = NULL;
    for (int i = 0; i < 2; i++) {
        char *master = xasprintf("%s/master", cands[i]);
        if (!found && access(master, X_OK) == 0)
            found = realpath(cands[i], NULL);
        free(master);
        free(cands[i]);
    }
    free(bindir);
    return found;
}
