/* log.h - logging with Postfix's line shapes.
 * Lines go to syslog (the syslog_socket, /dev/log, facility mail) or, when maillog_file is
 * set, are appended to that file as "Mon DD HH:MM:SS host SYSLOG_NAME/SERVICE[PID]: text"
 * (and to syslog as well with maillog_syslog). SYSLOG_NAME is "posthorn" unless
 * configured (syslog_name). Severities are fixed; formats are checked by the compiler.
 * log_fatal exits; log_panic aborts. Library code returns error strings instead of logging
 * deep inside. */
#ifndef POSTHORN_LOG_H
#define POSTHORN_LOG_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define PH_PRINTF(a, b) __attribute__((format(printf, a, b)))

struct log_options {
    const char *name;          /* program/service name ("smtpd") */
    const char *syslog_name;   /* what comes before "/name"; NULL or "": "posthorn" */
    const char *file;          /* NULL or "": syslog only; "-": stderr */
    bool syslog;               /* with a file: syslog as well */
    const char *syslog_socket; /* NULL or "": /dev/log */
    int facility;              /* LOG_MAIL, ... (syslog.h) */
};
void log_setup(const struct log_options *o);
/* log_setup with the defaults: name, file (NULL or "" for syslog, "-" for stderr). */
void log_init(const char *name, const char *file);
/* Also copy every line to stderr (command-line tools and foreground runs). */
void log_to_stderr(bool on);
void log_set_name(const char *name);
void log_set_verbose(bool on);
bool log_verbose(void);

/* The text a log line carries for in[0..inlen): printable ASCII and well-formed UTF-8
 * (RFC 6531 addresses) as they are, a backslash as "\\", every other byte as "\xHH" (two
 * lower-case hex digits), so the escape is unambiguous. Writes at most outsize - 1 bytes
 * and a NUL to out (outsize > 0), stopping before an escape or a UTF-8 sequence that does
 * not fit; returns the length written. Every log_* function applies it to its whole line. */
size_t log_escape(const char *in, size_t inlen, char *out, size_t outsize);

void log_debug(const char *fmt, ...) PH_PRINTF(1, 2);
void log_info(const char *fmt, ...) PH_PRINTF(1, 2);
void log_warn(const char *fmt, ...) PH_PRINTF(1, 2);
void log_error(const char *fmt, ...) PH_PRINTF(1, 2);
_Noreturn void log_fatal(const char *fmt, ...) PH_PRINTF(1, 2);
_Noreturn void log_panic(const char *fmt, ...) PH_PRINTF(1, 2);

#endif
