/* pop3load.c - POP3 session load for the benchmark (RFC 1939): CONCURRENCY worker processes
 * run SESSIONS sessions in all against 127.0.0.1:PORT; each session is connect, greeting,
 * USER/PASS, STAT, UIDL, RETR of every message, QUIT (no DELE: the mailbox is unchanged, so
 * every session does the same work). Sessions whose STAT count differs from -m, or whose
 * UIDL/RETR replies are short or negative, count as errors. A "%d" in USER is replaced by
 * the worker's number (0 .. CONCURRENCY-1), so each worker can log in as its own user: a
 * POP3 server may lock the maildrop for the whole session (RFC 1939 sec 8), and parallel
 * sessions of one user then get "-ERR [IN-USE]".
 *
 * usage: pop3load -p PORT -u USER -w PASS -n SESSIONS -c CONCURRENCY [-m MSGS] [-t SECS]
 * prints: "sessions=N ok=K errors=E msgs=M bytes=B seconds=S"; exit 0 when E == 0. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ 65536

struct opts {
    int port, sessions, concurrency, timeout;
    long expect;
    const char *user, *pass;
};

struct conn {
    int fd;
    size_t len, off;
    char bad[160]; /* the last negative reply, for the error message */
    char buf[BUFSZ];
};

struct tally {
    long ok, errors, msgs, bytes;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Next line without CRLF into *line (points into c->buf), its length in *n; -1 on EOF,
 * error, timeout or a line longer than the buffer. */
static int read_line(struct conn *c, const char **line, size_t *n)
{
    for (;;) {
        char *s = c->buf + c->off;
        char *nl = memmem(s, c->len - c->off, "\r\n", 2);
        if (nl) {
            *line = s;
            *n = (size_t)(nl - s);
            c->off += *n + 2;
            return 0;
        }
        memmove(c->buf, s, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
        if (c->len == BUFSZ)
            return -1;
        ssize_t r = read(c->fd, c->buf + c->len, BUFSZ - c->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c->len += (size_t)r;
    }
}

/* Read a single-line reply; 0 when it is +OK (else the line is kept in c->bad). */
static int reply_ok(struct conn *c, const char **line, size_t *n)
{
    if (read_line(c, line, n) < 0)
        return -1;
    if (*n >= 3 && memcmp(*line, "+OK", 3) == 0)
        return 0;
    snprintf(c->bad, sizeof c->bad, "%.*s", (int)(*n < 150 ? *n : 150), *line);
    return -1;
}

/* Read a multi-line reply body after its +OK line up to the "." line; counts lines and
 * bytes. */
static int read_multi(struct conn *c, long *lines, long *bytes)
{
    const char *l;
    size_t n;
    for (;;) {
        if (read_line(c, &l, &n) < 0)
            return -1;
        if (n == 1 && l[0] == '.')
            return 0;
        (*lines)++;
        *bytes += (long)n + 2;
    }
}

static int send_cmd(struct conn *c, const char *fmt, const char *arg)
{
    char cmd[512];
    int n = snprintf(cmd, sizeof cmd, fmt, arg);
    if (n < 0 || (size_t)n >= sizeof cmd)
        return -1;
    return write(c->fd, cmd, (size_t)n) == n ? 0 : -1;
}

static int connect_to(const struct opts *o)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = o->timeout};
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Retrieve every message of an open, authenticated session. */
static const char *retr_all(struct conn *c, long count, struct tally *t)
{
    const char *l;
    size_t n;
    long lines = 0, bytes = 0;
    if (send_cmd(c, "UIDL\r\n", "") < 0 || reply_ok(c, &l, &n) < 0 ||
        read_multi(c, &lines, &bytes) < 0 || lines != count)
        return "UIDL";
    for (long i = 1; i <= count; i++) {
        char num[32];
        snprintf(num, sizeof num, "%ld", i);
        lines = 0;
        if (send_cmd(c, "RETR %s\r\n", num) < 0 || reply_ok(c, &l, &n) < 0 ||
            read_multi(c, &lines, &t->bytes) < 0)
            return "RETR";
        t->msgs++;
    }
    return NULL;
}

/* One session; NULL on success, else the step that failed. */
static const char *session(const struct opts *o, struct conn *c, struct tally *t)
{
    const char *l, *err;
    size_t n;
    c->len = c->off = 0;
    c->bad[0] = '\0';
    if ((c->fd = connect_to(o)) < 0)
        return "connect";
    long count = -1;
    if (reply_ok(c, &l, &n) < 0)
        err = "greeting";
    else if (send_cmd(c, "USER %s\r\n", o->user) < 0 || reply_ok(c, &l, &n) < 0)
        err = "USER";
    else if (send_cmd(c, "PASS %s\r\n", o->pass) < 0 || reply_ok(c, &l, &n) < 0)
        err = "PASS";
    else if (send_cmd(c, "STAT\r\n", "") < 0 || reply_ok(c, &l, &n) < 0 ||
             sscanf(l, "+OK %ld", &count) != 1 || (o->expect >= 0 && count != o->expect))
        err = "STAT";
    else if ((err = retr_all(c, count, t)) == NULL &&
             (send_cmd(c, "QUIT\r\n", "") < 0 || reply_ok(c, &l, &n) < 0))
        err = "QUIT";
    close(c->fd);
    return err;
}

/* USER with its first "%d" replaced by the worker number; -1 when it does not fit. */
static int worker_user(char *dst, size_t size, const char *user, int w)
{
    const char *p = strstr(user, "%d");
    int n = p ? snprintf(dst, size, "%.*s%d%s", (int)(p - user), user, w, p + 2)
              : snprintf(dst, size, "%s", user);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static void worker(const struct opts *base, int id, int share, int out)
{
    struct tally t = {0};
    char user[256];
    struct opts mine = *base;
    const struct opts *o = &mine;
    if (worker_user(user, sizeof user, base->user, id) < 0) {
        fprintf(stderr, "pop3load: user name too long\n");
        t.errors = share;
        _exit(write(out, &t, sizeof t) == (ssize_t)sizeof t ? 0 : 1);
    }
    mine.user = user;
    struct conn *c = malloc(sizeof *c);
    int reported = 0;
    for (int i = 0; c && i < share; i++) {
        errno = 0;
        const char *err = session(o, c, &t);
        if (!err) {
            t.ok++;
            continue;
        }
        t.errors++;
        if (!reported++)
            fprintf(stderr, "pop3load: %s: session failed at %s: %s\n", o->user, err,
                    c->bad[0] ? c->bad : errno ? strerror(errno) : "bad reply");
    }
    if (!c)
        t.errors = share;
    _exit(write(out, &t, sizeof t) == (ssize_t)sizeof t ? 0 : 1);
}

static int parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.expect = -1, .concurrency = 1, .sessions = 1, .timeout = 30};
    int ch;
    while ((ch = getopt(argc, argv, "p:u:w:n:c:m:t:")) != -1) {
        switch (ch) {
        case 'p': o->port = atoi(optarg); break;
        case 'u': o->user = optarg; break;
        case 'w': o->pass = optarg; break;
        case 'n': o->sessions = atoi(optarg); break;
        case 'c': o->concurrency = atoi(optarg); break;
        case 'm': o->expect = atol(optarg); break;
        case 't': o->timeout = atoi(optarg); break;
        default: return -1;
        }
    }
    if (o->port <= 0 || o->port > 65535 || !o->user || !o->pass || o->sessions < 1 ||
        o->sessions > 1000000 || o->concurrency < 1 || o->concurrency > 512 ||
        o->timeout < 1)
        return -1;
    if (o->concurrency > o->sessions)
        o->concurrency = o->sessions;
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse(argc, argv, &o) < 0) {
        fprintf(stderr, "usage: pop3load -p PORT -u USER -w PASS -n SESSIONS -c CONCURRENCY "
                        "[-m MSGS] [-t SECS]\n");
        return 2;
    }
    int fds[2];
    if (pipe(fds) < 0) {
        perror("pop3load: pipe");
        return 1;
    }
    double start = now();
    int started = 0;
    for (int w = 0; w < o.concurrency; w++) {
        int share = o.sessions / o.concurrency + (w < o.sessions % o.concurrency);
        pid_t pid = fork();
        if (pid < 0) {
            perror("pop3load: fork");
            break;
        }
        if (pid == 0) {
            close(fds[0]);
            worker(&o, w, share, fds[1]);
        }
        started++;
    }
    close(fds[1]);
    struct tally sum = {0}, t;
    for (int i = 0; i < started; i++)
        (void)wait(NULL);
    double secs = now() - start;
    int reports = 0;
    while (read(fds[0], &t, sizeof t) == (ssize_t)sizeof t) {
        sum.ok += t.ok, sum.errors += t.errors, sum.msgs += t.msgs, sum.bytes += t.bytes;
        reports++;
    }
    sum.errors += o.sessions - sum.ok - sum.errors;
    printf("sessions=%d ok=%ld errors=%ld msgs=%ld bytes=%ld seconds=%.3f\n", o.sessions,
           sum.ok, sum.errors, sum.msgs, sum.bytes, secs);
    return sum.errors == 0 && reports == started ? 0 : 1;
}
