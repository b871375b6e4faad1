/* include.c - :include: files of aliases (aliases(5)): a file of further targets in the
 * syntax of alias values (lib/global/alias_value.h), one or more per line, '#' comment
 * lines and blank lines skipped; a target does not continue on the next line.
 *
 * SECURITY: local-mda reads the file as itself (vmail_owner), and only a regular file
 * (not followed through a symbolic link) owned by a trusted user (trusted_owner: root, or
 * the instance's user when it runs unprivileged) that no one else can write, at most
 * alias_include_size_limit bytes. Anything else is refused, so an alias cannot turn a
 * mailbox file or another user's file into a list of targets. Errors name the file and
 * the line, never its content: they travel into bounces to the sender. */
#include "local.h"
#include "buf.h"
#include "mem.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool trusted_owner(const struct mda *m, uid_t uid, mode_t mode)
{
    bool owner = uid == 0 || (m->unprivileged && uid == m->instance_uid);
    return owner && !(mode & (S_IWGRP | S_IWOTH));
}

/* Read the whole file into b: 0, or -1 with *err. */
static int slurp(struct mda *m, const char *path, struct buf *b, char **err)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        *err = xasprintf("include file %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    long long limit = config_int(m->cfg, PARAM(alias_include_size_limit));
    const char *why = !S_ISREG(st.st_mode) ? "not a regular file"
                    : !trusted_owner(m, st.st_uid, st.st_mode)
                        ? "not owned by root (or the instance's user) or writable by others"
                    : st.st_size > limit ? "larger than alias_include_size_limit" : NULL;
    if (why) {
        *err = xasprintf("include file %s: %s", path, why);
        close(fd);
        return -1;
    }
    char chunk[8192];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0 && b->len + (size_t)n <= (size_t)limit)
        buf_append(b, chunk, (size_t)n);
    int e = errno;
    close(fd);
    if (n != 0) {
        *err = xasprintf("include file %s: %s", path, n < 0 ? strerror(e) : "grew while read");
        return -1;
    }
    return 0;
}

int include_read(struct mda *m, const char *path, struct alias_list *list, char **err)
{
    struct buf b = BUF_INIT;
    if (slurp(m, path, &b, err) < 0) {
        buf_free(&b);
        return -1;
    }
    const char *p = b.data ? b.data : "", *end = p + b.len;
    int rc = 0;
    for (unsigned long line = 1; p < end && rc == 0; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char *text = xstrndup(p, len);
        const char *first = text + strspn(text, " \t\r");
        char *perr = NULL;
        if (memchr(p, 0, len) || (*first != '#' && alias_value_parse(first, list, &perr) < 0)) {
            *err = xasprintf("include file %s, line %lu: not a list of alias targets", path, line);
            rc = -1;
        }
        free(perr);
        free(text);
        p += len + 1;
    }
    buf_free(&b);
    return rc;
}
