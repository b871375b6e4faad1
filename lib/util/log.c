/* log.c - syslog or file logging with Postfix's line shapes (see log.h). */
#include "log.h"
#include "utf8.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static char log_name[64] = "posthorn";
static char log_host[128];
static int log_fd = -1;          /* file descriptor when logging to a file */
static bool log_syslog_on = true;
static bool log_stderr_on;
static bool log_verbose_on;

void log_set_name(const char *name)
{
    snprintf(log_name, sizeof log_name, "posthorn/%s", name);
    if (log_syslog_on) {
        closelog();
        openlog(log_name, LOG_PID | LOG_NDELAY, LOG_MAIL);
    }
}

void log_init(const char *name, const char *file)
{
    if (gethostname(log_host, sizeof log_host) != 0)
        strcpy(log_host, "localhost");
    log_host[sizeof log_host - 1] = 0;
    char *dot = strchr(log_host, '.');
    if (dot)
        *dot = 0;
    if (log_fd > 2)
        close(log_fd);
    log_fd = -1;
    log_syslog_on = (file == NULL || file[0] == 0);
    if (file && strcmp(file, "-") == 0) {
        log_fd = 2;
    } else if (!log_syslog_on) {
        log_fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (log_fd < 0) {
            fprintf(stderr, "posthorn: cannot open log file %s: %s\n", file, strerror(errno));
            log_syslog_on = true;
        }
    }
    log_set_name(name);
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
        if (u >= 2) {
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
        syslog(prio, "%s%s", tag, text);
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
