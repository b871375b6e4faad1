/* fileio.c - durable file primitives (see fileio.h). */
#include "fileio.h"
#include "mem.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int write_full(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int read_full(int fd, void *data, size_t len)
{
    char *p = data;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return r;
}

int fsync_dir_moved(const char *dir)
{
    if (fsync_dir(dir) == 0)
        return 0;
    if (errno != ENOENT)
        return -1;
    char *up = xstrdup(dir);
    int r = -1;
    for (char *slash; r < 0 && (slash = strrchr(up, '/')) != NULL && slash != up;) {
        *slash = '\0';
        int fd = open(up, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            r = syncfs(fd);
            int saved = errno;
            close(fd);
            errno = saved;
            break;
        }
    }
    free(up);
    return r;
}

int fsync_parent(const char *path)
{
    char *copy = xstrdup(path);
    int r = fsync_dir(dirname(copy));
    int saved = errno;
    free(copy);
    errno = saved;
    return r;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        free(tmp);
        return -1;
    }
    int saved;
    if (write_full(fd, data, len) < 0 || fsync(fd) < 0) {
        saved = errno;
        close(fd);
        goto fail;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        saved = errno;
        goto fail;
    }
    free(tmp);
    return fsync_parent(path);
fail:
    unlink(tmp);
    free(tmp);
    errno = saved;
    return -1;
}

int read_file(const char *path, size_t max, struct buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char chunk[65536];
    size_t total = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        if (n == 0)
            break;
        total += (size_t)n;
        if (total > max) {
            close(fd);
            errno = EFBIG;
            return -1;
        }
        buf_append(out, chunk, (size_t)n);
    }
    close(fd);
    return 0;
}

int mkdir_p(const char *path, mode_t mode)
{
    char *copy = xstrdup(path);
    for (char *p = copy + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char saved = *p;
            *p = 0;
            if (mkdir(copy, mode) < 0 && errno != EEXIST) {
                int e = errno;
                free(copy);
                errno = e;
                return -1;
            }
            *p = saved;
            if (saved == 0)
                break;
        }
    }
    free(copy);
    return 0;
}
