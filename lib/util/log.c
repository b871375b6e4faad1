/* log.c - file and syslog logging with Postfix's line shapes (see log.h). */
#include "log.h"
#include "utf8.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static char log_prefix[64] = "posthorn"; /* syslog_name */
static char log_program[64] = "posthorn";
static char log_name[130] = "posthorn"; /* "PREFIX/PROGRAM" */
static char log_host[128];
static int log_fd = -1;          /* file descriptor when logging to a file */
static bool log_syslog_on = true;
static bool log_stderr_on;
static bool log_verbose_on;
static char log_socket_path[108] = "/dev/log";
static int log_facility = LOG_MAIL;
static int syslog_fd = -1;
#define SYSLOG_WAIT_MS 1000 /* longest wait for a full syslog socket, per line */
static bool syslog_stream; /* the socket is a stream socket (each message ends in NUL) */

void log_set_name(const char *name)
{
    snprintf(log_program, sizeof log_program, "%s", name);
    snprintf(log_name, sizeof log_name, "%s/%s", log_prefix, log_program);
}

static void close_file(void)
{
    if (log_fd > 2)
        close(log_fd);
    log_fd = -1;
}

void log_setup(const struct log_options *o)
{
    if (gethostname(log_host, sizeof log_host) != 0)
        strcpy(log_host, "localhost");
    log_host[sizeof log_host - 1] = 0;
    char *dot = strchr(log_host, '.');
    if (dot)
        *dot = 0;
    close_file();
    if (syslog_fd >= 0)
        close(syslog_fd);
    syslog_fd = -1;
    const char *file = o->file;
    bool to_file = file && *file;
    log_syslog_on = !to_file || o->syslog;
    snprintf(log_prefix, sizeof log_prefix, "%s", o->syslog_name && *o->syslog_name ? o->syslog_name : "posthorn");
    snprintf(log_socket_path, sizeof log_socket_path, "%s", o->syslog_socket && *o->syslog_socket ? o->syslog_socket : "/dev/log");
    log_facility = o->facility;
    if (to_file && strcmp(file, "-") == 0) {
        log_fd = 2;
    } else if (to_file) {
        log_fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (log_fd < 0) {
            fprintf(stderr, "%s: cannot open log file %s: %s\n", log_prefix, file, strerror(errno));
            log_syslog_on = true;
        }
    }
    log_set_name(o->name);
}

void log_init(const char *name, const char *file)
{
    struct log_options o = {.name = name, .file = file, .facility = LOG_MAIL};
    log_setup(&o);
}

void log_to_stderr(bool on) { log_stderr_on = on; }
void log_set_verbose(bool on) { log_verbose_on = on; }
bool log_verbose(void) { return log_verbose_on; }

/* How one byte (or well-formed UTF-8 sequence) of s[0..len) appears in the log: n input
 * bytes become the returned text in esc (at most 5 bytes, not NUL-terminated) or, when
 * the return is NULL, are copied as they are. */
static const char *escape_one(const unsigned char *s, size_t len, size_t *n, char esc[5])
{
    *n = 1;
    if (s[0] == '\\')
        return "\\\\";
    if (s[0] >= 0x20 && s[0] < 0x7f)
        return NULL;
    if (s[0] >= 0x80) {
        size_t u = utf8_sequence_length(s, len);
        /* U+0080..U+009F are the C1 controls (U+009B is CSI to some terminals): escaped */
        if (u >= 2 && !(s[0] == 0xc2 && s[1] < 0xa0)) {
            *n = u;
            return NULL;
        }
    }
    snprintf(esc, 5, "\\x%02x", s[0]);
    return esc;
}

size_t log_escape(const char *in, size_t inlen, char *out, size_t outsize)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    if (outsize == 0)
        return 0;
    for (size_t i = 0; i < inlen;) {
        char esc[5];
        size_t n;
        const char *rep = escape_one(s + i, inlen - i, &n, esc);
        size_t replen = rep ? strlen(rep) : n;
        if (o + replen >= outsize)
            break; /* never cut an escape or a UTF-8 sequence in two */
        memcpy(out + o, rep ? rep : in + i, replen);
        o += replen;
        i += n;
    }
    out[o] = 0;
    return o;
}

/* The syslog socket (syslog_socket), connected on first use and again after an error:
 * a datagram socket as syslog daemons offer, or a stream socket where only that works. */
static int syslog_connect(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", log_socket_path);
    int types[] = {SOCK_DGRAM, SOCK_STREAM};
    for (int i = 0; i < 2; i++) {
        int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            syslog_stream = types[i] == SOCK_STREAM;
            return fd;
        }
        int e = errno;
        close(fd);
        if (e != EPROTOTYPE)
            return -1;
    }
    return -1;
}

/* One message as syslog(3) writes it (RFC 3164 without the host name, which the daemon
 * adds): "<PRI>Mmm dd hh:mm:ss NAME[PID]: TEXT". Lost when no daemon listens. */
static void syslog_send(int prio, const char *tag, const char *text)
{
    char msg[4700], stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
    int len = snprintf(msg, sizeof msg, "<%d>%s %s[%ld]: %s%s", log_facility | prio, stamp,
                       log_name, (long)getpid(), tag, text);
    if (len < 0)
        return;
    if ((size_t)len >= sizeof msg)
        len = sizeof msg - 1;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (syslog_fd < 0 && (syslog_fd = syslog_connect()) < 0)
            return;
        ssize_t n;
        while ((n = send(syslog_fd, msg, (size_t)len + (syslog_stream ? 1 : 0),
                         MSG_NOSIGNAL | MSG_DONTWAIT)) < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd p = {.fd = syslog_fd, .events = POLLOUT};
            if (errno == EAGAIN && poll(&p, 1, SYSLOG_WAIT_MS) <= 0)
                return; /* a stuck syslog daemon loses lines rather than stopping the mail */
        }
        if (n >= 0)
            return;
        close(syslog_fd); /* the daemon restarted: connect again once */
        syslog_fd = -1;
    }
}

__attribute__((format(printf, 3, 0)))
static void log_emit(int prio, const char *tag, const char *fmt, va_list ap)
{
    char raw[4096], text[4096];
    int saved = errno;
    int n = vsnprintf(raw, sizeof raw, fmt, ap);
    if (n < 0)
        strcpy(raw, "(bad log format)");
    /* Never let a peer's bytes break the line structure of the log or reach the terminal
     * of whoever reads it: everything but printable ASCII and UTF-8 is escaped, here, once
     * for every field of every line. */
    log_escape(raw, strlen(raw), text, sizeof text);
    if (log_syslog_on)
        syslog_send(prio, tag, text);
    if (log_fd >= 0 || log_stderr_on) {
        char line[4500];
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
        int len = snprintf(line, sizeof line, "%s %s %s[%ld]: %s%s\n", stamp, log_host, log_name,
                           (long)getpid(), tag, text);
        if (len > (int)sizeof line - 1)
            len = sizeof line - 1, line[len - 1] = '\n';
        if (log_fd >= 0 && write(log_fd, line, (size_t)len) < 0) {
            /* nothing sensible to do when the log itself fails */
        }
        if (log_stderr_on && log_fd != 2 && write(2, line, (size_t)len) < 0) {
        }
    }
    errno = saved;
}

#define LOG_BODY(prio, tag)                                                                        \
    va_list ap;                                                                                    \
    va_start(ap, fmt);                                                                             \
    log_emit(prio, tag, fmt, ap);                                                                  \
    va_end(ap)

void log_debug(const char *fmt, ...)
{
    if (!log_verbose_on)
        return;
    LOG_BODY(LOG_DEBUG, "");
}
void log_info(const char *fmt, ...) { LOG_BODY(LOG_INFO, ""); }
void log_warn(const char *fmt, ...) { LOG_BODY(LOG_WARNING, "warning: "); }
void log_error(const char *fmt, ...) { LOG_BODY(LOG_ERR, "error: "); }
void log_fatal(const char *fmt, ...)
{
    LOG_BODY(LOG_CRIT, "fatal: ");
    exit(1);
}
void log_panic(const char *fmt, ...)
{
    LOG_BODY(LOG_CRIT, "panic: ");
    abort();
}
