/* fsync_ceiling.c - the physical ceiling of durable mail writes on one file system: how many
 * times per second "create a file, write SIZE bytes, fsync it, close, rename it into another
 * directory, fsync that directory" completes, with W concurrent writers (processes). Every
 * durable mail path (a queue file before 250, a Maildir file before delivery success) pays
 * at least this sequence once, so the rate bounds messages/s per durable write.
 *
 * usage: fsync-ceiling [-j WRITERS] [-n MAX_OPS] [-t SECONDS] [-s SIZE] [-q] DIR
 * Works in a fresh DIR/fsync-ceiling.PID/ (tmp/ and new/), removes everything it made, and
 * prints one line: "fsync-ceiling: writers=W size=S ops=N seconds=T rate=R".
 * With -q only the rate is printed. Bounded by both MAX_OPS (default 20000) and SECONDS
 * (default 3). Exit 0 on success, 1 on any failed system call, 2 on usage errors. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct opts {
    int writers;
    long max_ops;
    double seconds;
    size_t size;
    int quiet;
    const char *dir;
};

struct work {
    char root[PATH_MAX];
    char tmp[PATH_MAX];
    char new[PATH_MAX];
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what, const char *path)
{
    fprintf(stderr, "fsync-ceiling: %s %s: %s\n", what, path, strerror(errno));
    return -1;
}

/* One durable write: create+write+fsync+close tmp/NAME, rename to new/NAME, fsync new/. */
static int one_op(const struct work *w, int newfd, const char *buf, size_t size, int id, long n)
{
    char src[PATH_MAX + 64], dst[PATH_MAX + 64];
    snprintf(src, sizeof src, "%s/w%d.%ld", w->tmp, id, n);
    snprintf(dst, sizeof dst, "%s/w%d.%ld", w->new, id, n);
    int fd = open(src, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail("open", src);
    size_t off = 0;
    while (off < size) {
        ssize_t r = write(fd, buf + off, size - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            close(fd);
            return fail("write", src);
        }
        off += (size_t)r;
    }
    if (fsync(fd) < 0) {
        close(fd);
        return fail("fsync", src);
    }
    if (close(fd) < 0)
        return fail("close", src);
    if (rename(src, dst) < 0)
        return fail("rename", src);
    if (fsync(newfd) < 0)
        return fail("fsync", w->new);
    return 0;
}

/* A writer process: ops until its share of max_ops or the deadline; exit status 0/1, the
 * count goes to the pipe. */
static void writer(const struct work *w, const struct opts *o, int id, double deadline, int out)
{
    char *buf = malloc(o->size);
    if (!buf)
        _exit(1);
    memset(buf, 'x', o->size);
    int newfd = open(w->new, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (newfd < 0) {
        fail("open", w->new);
        _exit(1);
    }
    long share = (o->max_ops + o->writers - 1) / o->writers, n = 0;
    int rc = 0;
    while (n < share && now() < deadline) {
        if (one_op(w, newfd, buf, o->size, id, n) < 0) {
            rc = 1;
            break;
        }
        n++;
    }
    if (write(out, &n, sizeof n) != (ssize_t)sizeof n)
        rc = 1;
    _exit(rc);
}

static void remove_tree(const struct work *w, int writers, long max_ops)
{
    char p[PATH_MAX + 64];
    long share = (max_ops + writers - 1) / writers;
    for (int id = 0; id < writers; id++)
        for (long n = 0; n < share; n++) {
            snprintf(p, sizeof p, "%s/w%d.%ld", w->new, id, n);
            if (unlink(p) < 0 && errno == ENOENT) {
                snprintf(p, sizeof p, "%s/w%d.%ld", w->tmp, id, n);
                if (unlink(p) < 0 && errno == ENOENT)
                    break;
            }
        }
    rmdir(w->tmp);
    rmdir(w->new);
    rmdir(w->root);
}

static int parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.writers = 1, .max_ops = 20000, .seconds = 3.0, .size = 4096};
    int c;
    while ((c = getopt(argc, argv, "j:n:t:s:q")) != -1) {
        switch (c) {
        case 'j': o->writers = atoi(optarg); break;
        case 'n': o->max_ops = atol(optarg); break;
        case 't': o->seconds = atof(optarg); break;
        case 's': o->size = (size_t)atol(optarg); break;
        case 'q': o->quiet = 1; break;
        default: return -1;
        }
    }
    if (optind != argc - 1 || o->writers < 1 || o->writers > 256 || o->max_ops < 1 ||
        o->max_ops > 1000000 || o->seconds <= 0 || o->seconds > 600 || o->size < 1 ||
        o->size > 64 << 20)
        return -1;
    o->dir = argv[optind];
    return 0;
}

/* dst = a + "/" + b; -1 when it does not fit. */
static int join(char *dst, size_t n, const char *a, const char *b)
{
    int r = snprintf(dst, n, "%s/%s", a, b);
    return r < 0 || (size_t)r >= n ? -1 : 0;
}

static int make_dirs(struct work *w, const char *dir)
{
    char leaf[64];
    snprintf(leaf, sizeof leaf, "fsync-ceiling.%ld", (long)getpid());
    if (join(w->root, sizeof w->root, dir, leaf) < 0 ||
        join(w->tmp, sizeof w->tmp, w->root, "tmp") < 0 ||
        join(w->new, sizeof w->new, w->root, "new") < 0) {
        fprintf(stderr, "fsync-ceiling: directory name too long\n");
        return -1;
    }
    if (mkdir(w->root, 0700) < 0)
        return fail("mkdir", w->root);
    if (mkdir(w->tmp, 0700) < 0 || mkdir(w->new, 0700) < 0) {
        fail("mkdir", w->tmp);
        rmdir(w->tmp);
        rmdir(w->root);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    struct work w;
    if (parse(argc, argv, &o) < 0) {
        fprintf(stderr, "usage: fsync-ceiling [-j WRITERS] [-n MAX_OPS] [-t SECONDS] "
                        "[-s SIZE] [-q] DIR\n");
        return 2;
    }
    if (make_dirs(&w, o.dir) < 0)
        return 1;
    int fds[2];
    if (pipe(fds) < 0)
        return fail("pipe", ""), 1;
    double start = now(), deadline = start + o.seconds;
    int started = 0, rc = 0;
    for (int id = 0; id < o.writers; id++) {
        pid_t pid = fork();
        if (pid < 0) {
            fail("fork", "");
            rc = 1;
            break;
        }
        if (pid == 0) {
            close(fds[0]);
            writer(&w, &o, id, deadline, fds[1]);
        }
        started++;
    }
    close(fds[1]);
    long total = 0, n;
    for (int i = 0; i < started; i++) {
        int st;
        if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            rc = 1;
    }
    double secs = now() - start;
    while (read(fds[0], &n, sizeof n) == (ssize_t)sizeof n)
        total += n;
    close(fds[0]);
    remove_tree(&w, o.writers, o.max_ops);
    if (rc == 0 && total > 0) {
        if (o.quiet)
            printf("%.0f\n", (double)total / secs);
        else
            printf("fsync-ceiling: writers=%d size=%zu ops=%ld seconds=%.3f rate=%.0f\n",
                   o.writers, o.size, total, secs, (double)total / secs);
    }
    return rc;
}
