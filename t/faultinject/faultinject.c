/* faultinject.c - an LD_PRELOAD library that makes chosen I/O calls of a chosen Posthorn
 * process fail, stop or die, so the integration tests (t/integration/test_io_faults.py) can
 * prove what doc/ promises about I/O errors and crashes. Test-only: built by CMake into
 * build/t/, never installed.
 *
 * Configuration: POSTHORN_FAULT="SPEC[;SPEC...]", each SPEC a comma list of KEY=VALUE:
 *   prog=NAME     only in processes whose program_invocation_short_name is NAME (master
 *                 passes its environment to every child, so one daemon can be chosen)
 *   call=C[|C..]  write pwrite fsync fdatasync rename renameat close msync (renameat
 *                 also covers renameat2); required
 *   path=GLOB     only calls on a matching path (fnmatch, '*' crosses '/'): the file of an
 *                 fd (/proc/self/fd), either name of a rename, the file msync'd
 *   nth=N         the Nth matching call in this process fires (default 1)
 *   from=N        every matching call from the Nth on fires (instead of nth)
 *   errno=E       EIO (default), ENOSPC or a number: what a failing call returns
 *   action=A      fail (default: return -1 with errno E, without doing the call),
 *                 kill / stop (SIGKILL / SIGSTOP to itself before the call),
 *                 kill-after / stop-after (do the call, then the signal)
 *   once=FILE     fire at most once across all processes: firing creates FILE (O_EXCL)
 *                 and writes "PID CALL PATH" into it; if FILE exists the spec is spent.
 *                 Also how a test learns that (and where) the fault fired.
 *   armed=FILE    active only while FILE exists (a test disarms it by removing FILE)
 * Example: POSTHORN_FAULT="prog=local-mda,call=fsync,path=*\/new,errno=EIO,armed=/tmp/x"
 * Calls made by libraries (LMDB's fdatasync/msync) are matched like any other; calls
 * glibc makes internally (not through the PLT) are not seen. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

enum call { C_WRITE, C_PWRITE, C_FSYNC, C_FDATASYNC, C_RENAME, C_RENAMEAT, C_CLOSE, C_MSYNC, C_N };
static const char *const call_names[C_N] = {"write", "pwrite", "fsync", "fdatasync",
                                            "rename", "renameat", "close", "msync"};
enum action { A_FAIL, A_KILL, A_STOP, A_KILL_AFTER, A_STOP_AFTER };

#define MAX_SPECS 8
struct spec {
    unsigned calls; /* bit per enum call */
    char path[PATH_MAX];
    long nth, from;
    int err;
    enum action action;
    char once[PATH_MAX], armed[PATH_MAX];
    long count; /* matching calls so far (atomic) */
};

static struct spec specs[MAX_SPECS];
static int nspecs;
static unsigned any_calls; /* union of the specs' calls: a quick exit for the rest */
static __thread int busy;  /* our own close()/write() while firing pass straight through */

static void *real(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f)
        abort();
    return f;
}

static unsigned parse_calls(char *v)
{
    unsigned bits = 0;
    for (char *save = NULL, *c = strtok_r(v, "|", &save); c; c = strtok_r(NULL, "|", &save))
        for (int i = 0; i < C_N; i++)
            if (strcmp(c, call_names[i]) == 0)
                bits |= 1u << i;
    return bits;
}

static int parse_errno(const char *v)
{
    if (strcmp(v, "EIO") == 0)
        return EIO;
    if (strcmp(v, "ENOSPC") == 0)
        return ENOSPC;
    return atoi(v) > 0 ? atoi(v) : EIO;
}

static enum action parse_action(const char *v)
{
    static const char *const names[] = {"fail", "kill", "stop", "kill-after", "stop-after"};
    for (int i = 0; i < 5; i++)
        if (strcmp(v, names[i]) == 0)
            return (enum action)i;
    return A_FAIL;
}

static void copy(char *dst, const char *src) { snprintf(dst, PATH_MAX, "%s", src); }

/* One SPEC; false when it is for another program or names no call. */
static bool parse_spec(char *text, struct spec *s, const char *prog)
{
    bool mine = true;
    *s = (struct spec){.nth = 1, .err = EIO};
    for (char *save = NULL, *kv = strtok_r(text, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *v = strchr(kv, '=');
        if (!v)
            continue;
        *v++ = '\0';
        if (strcmp(kv, "prog") == 0)
            mine = strcmp(v, prog) == 0;
        else if (strcmp(kv, "call") == 0)
            s->calls = parse_calls(v);
        else if (strcmp(kv, "path") == 0)
            copy(s->path, v);
        else if (strcmp(kv, "nth") == 0)
            s->nth = atol(v);
        else if (strcmp(kv, "from") == 0)
            s->from = atol(v);
        else if (strcmp(kv, "errno") == 0)
            s->err = parse_errno(v);
        else if (strcmp(kv, "action") == 0)
            s->action = parse_action(v);
        else if (strcmp(kv, "once") == 0)
            copy(s->once, v);
        else if (strcmp(kv, "armed") == 0)
            copy(s->armed, v);
    }
    return mine && s->calls;
}

__attribute__((constructor)) static void faultinject_init(void)
{
    const char *env = getenv("POSTHORN_FAULT");
    if (!env || !*env)
        return;
    char *all = strdup(env), *save = NULL;
    for (char *t = strtok_r(all, ";", &save); t && nspecs < MAX_SPECS; t = strtok_r(NULL, ";", &save))
        if (parse_spec(t, &specs[nspecs], program_invocation_short_name)) {
            any_calls |= specs[nspecs].calls;
            nspecs++;
        }
    free(all);
}

static void fd_path(int fd, char *out)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, PATH_MAX - 1);
    out[n < 0 ? 0 : n] = '\0';
}

/* The file a mapping belongs to, from /proc/self/maps. */
static void map_path(const void *addr, char *out)
{
    out[0] = '\0';
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return;
    char line[PATH_MAX + 128];
    while (fgets(line, sizeof line, f)) {
        uintptr_t lo, hi;
        int off = 0;
        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %*s %*s %*s %*s %n", &lo, &hi, &off) < 2 || !off)
            continue;
        if ((uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
            line[strcspn(line, "\n")] = '\0';
            copy(out, line + off);
            break;
        }
    }
    fclose(f);
}

/* Create the once-file; false when another call (in any process) got there first. */
static bool claim_once(const struct spec *s, enum call c, const char *path)
{
    int fd = open(s->once, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0)
        return false;
    char line[PATH_MAX + 64];
    int n = snprintf(line, sizeof line, "%ld %s %s\n", (long)getpid(), call_names[c], path);
    ssize_t w = syscall(SYS_write, fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    (void)w;
    syscall(SYS_close, fd);
    return true;
}

static bool spec_fires(struct spec *s, enum call c, const char *p1, const char *p2)
{
    if (!(s->calls & (1u << c)))
        return false;
    if (s->path[0] && fnmatch(s->path, p1, 0) != 0 && !(p2 && fnmatch(s->path, p2, 0) == 0))
        return false;
    if (s->armed[0] && access(s->armed, F_OK) != 0)
        return false;
    if (s->once[0] && access(s->once, F_OK) == 0)
        return false;
    long n = __atomic_add_fetch(&s->count, 1, __ATOMIC_SEQ_CST);
    if (s->from > 0 ? n < s->from : n != s->nth)
        return false;
    return !s->once[0] || claim_once(s, c, p1);
}

/* The spec that fires for this call, or NULL. Paths are looked up only when a spec needs
 * them. fd < 0 means: use the names (rename) or the mapping (msync, addr). */
static struct spec *check(enum call c, int fd, const char *n1, const char *n2, const void *addr)
{
    if (!(any_calls & (1u << c)) || busy)
        return NULL;
    busy++;
    struct spec *hit = NULL;
    char path[PATH_MAX] = "";
    bool have_path = false;
    for (int i = 0; i < nspecs && !hit; i++) {
        if (!have_path && specs[i].path[0] && (specs[i].calls & (1u << c))) {
            if (fd >= 0)
                fd_path(fd, path);
            else if (addr)
                map_path(addr, path);
            have_path = true;
        }
        if (spec_fires(&specs[i], c, n1 ? n1 : path, n2))
            hit = &specs[i];
    }
    busy--;
    return hit;
}

/* Before the call: true when the call must fail (errno set); may not return at all. */
static bool before(const struct spec *s)
{
    if (!s)
        return false;
    switch (s->action) {
    case A_KILL:
        raise(SIGKILL);
        break;
    case A_STOP:
        raise(SIGSTOP);
        break;
    case A_FAIL:
        errno = s->err;
        return true;
    default:
        break;
    }
    return false;
}

static void after(const struct spec *s)
{
    if (s && s->action == A_KILL_AFTER)
        raise(SIGKILL);
    if (s && s->action == A_STOP_AFTER)
        raise(SIGSTOP);
}

/* Each wrapper: check, maybe fail, do the real call, maybe signal, keep its errno. */
#define WRAP(ret, name, spec_expr, args, call_args)                                       \
    ret name args                                                                         \
    {                                                                                     \
        static ret(*fn) args;                                                             \
        if (!fn)                                                                          \
            fn = (ret(*) args)real(#name);                                                \
        const struct spec *s = spec_expr;                                                 \
        if (before(s))                                                                    \
            return -1;                                                                    \
        ret r = fn call_args;                                                             \
        int e = errno;                                                                    \
        after(s);                                                                         \
        errno = e;                                                                        \
        return r;                                                                         \
    }

WRAP(ssize_t, write, check(C_WRITE, fd, NULL, NULL, NULL), (int fd, const void *b, size_t n), (fd, b, n))
WRAP(ssize_t, pwrite, check(C_PWRITE, fd, NULL, NULL, NULL), (int fd, const void *b, size_t n, off_t o), (fd, b, n, o))
WRAP(ssize_t, pwrite64, check(C_PWRITE, fd, NULL, NULL, NULL), (int fd, const void *b, size_t n, off_t o), (fd, b, n, o))
WRAP(int, fsync, check(C_FSYNC, fd, NULL, NULL, NULL), (int fd), (fd))
WRAP(int, fdatasync, check(C_FDATASYNC, fd, NULL, NULL, NULL), (int fd), (fd))

/* A failing close still releases the descriptor, as the kernel's does. */
int close(int fd)
{
    static int (*fn)(int);
    if (!fn)
        fn = (int (*)(int))real("close");
    const struct spec *s = check(C_CLOSE, fd, NULL, NULL, NULL);
    if (s && s->action == A_FAIL) {
        fn(fd);
        errno = s->err;
        return -1;
    }
    before(s);
    int r = fn(fd), e = errno;
    after(s);
    errno = e;
    return r;
}
WRAP(int, rename, check(C_RENAME, -1, a, b, NULL), (const char *a, const char *b), (a, b))
WRAP(int, renameat, check(C_RENAMEAT, -1, a, b, NULL), (int da, const char *a, int db, const char *b), (da, a, db, b))
WRAP(int, renameat2, check(C_RENAMEAT, -1, a, b, NULL),
     (int da, const char *a, int db, const char *b, unsigned fl), (da, a, db, b, fl))
WRAP(int, msync, check(C_MSYNC, -1, NULL, NULL, a), (void *a, size_t n, int fl), (a, n, fl))
