/* fileio.h - durable file primitives: full writes, fsync of a file's directory, atomic
 * replacement (temp, write, fsync, rename, directory fsync) and bounded whole-file reads.
 * Every function returns 0 on success or -1 with errno set; none of them logs. */
#ifndef POSTHORN_FILEIO_H
#define POSTHORN_FILEIO_H
#include "buf.h"
#include <stddef.h>
#include <sys/types.h>

int write_full(int fd, const void *data, size_t len);
int read_full(int fd, void *data, size_t len); /* -1 with errno=EIO on early EOF */
int fsync_dir(const char *dir);
/* fsync_dir, and when dir is gone (renamed away since its entries changed: the entries
 * moved with it, under a name the caller does not know) a syncfs of the file system of its
 * nearest ancestor still there, which writes them out wherever they are. 0 or -1. */
int fsync_dir_moved(const char *dir);
/* fsync the directory that contains path. */
int fsync_parent(const char *path);
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Read a whole file of at most max bytes (EFBIG beyond) into out (appended). */
int read_file(const char *path, size_t max, struct buf *out);
/* mkdir -p with mode for each created component. */
int mkdir_p(const char *path, mode_t mode);

#endif
