/* mbox.c - delivery to an alias file (aliases(5) "/path"), in the helper's child, already
 * running as default_privs (helper.c).
 *
 * The file is appended to in mbox format (RFC 4155): a "From SENDER DATE" line (the
 * envelope sender, MAILER-DAEMON for <>, the arrival time in asctime form), the message as
 * local delivery writes it (Return-Path:, Delivered-To:, the message), every line that
 * matches ">*From " quoted with one more '>' (mboxrd, so quoting can be undone), and an
 * empty line. The file is opened without following a symbolic link (created 0600 when
 * missing), must be a regular file with one link, and is locked as mbox readers lock it:
 * flock() and an fcntl() write lock on the whole file, each tried deliver_lock_attempts
 * times deliver_lock_delay apart. The copy is fsynced before success is reported; after a
 * failed write the file is cut back to its old size. /dev/null takes the message without
 * a write, as with Postfix. Failures defer (4.2.0 for locks and writes, 4.3.0 otherwise)
 * except a target that is not a regular file or has more than one link (5.2.0). */
#include "helper.h"
#include "buf.h"
#include "fileio.h"
#include "mem.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OUT_CHUNK 65536
#define QUOTE_SCAN_MAX 1000 /* a line start longer than this of '>' is not looked at further */

struct mbox_out {
    int fd;
    struct buf out;   /* written when it reaches OUT_CHUNK */
    struct buf start; /* the start of the current line, while it may still be ">*From " */
    bool at_line_start;
    int write_errno;
};

static int flush_out(struct mbox_out *w)
{
    if (w->out.len && write_full(w->fd, w->out.data, w->out.len) < 0) {
        w->write_errno = errno;
        return -1;
    }
    buf_reset(&w->out);
    return 0;
}

/* Whether the line start s[0..len) (no newline yet) is, may become, or cannot be ">*From ". */
enum from_match { FROM_NO, FROM_MAYBE, FROM_YES };
static enum from_match from_line(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && s[i] == '>')
        i++;
    size_t rest = len - i;
    if (i == len)
        return len > QUOTE_SCAN_MAX ? FROM_NO : FROM_MAYBE;
    if (rest < 5)
        return memcmp(s + i, "From ", rest) == 0 ? FROM_MAYBE : FROM_NO;
    return memcmp(s + i, "From ", 5) == 0 ? FROM_YES : FROM_NO;
}

static void put_byte(struct mbox_out *w, char c)
{
    if (!w->at_line_start) {
        buf_putc(&w->out, c);
        w->at_line_start = c == '\n';
        return;
    }
    buf_putc(&w->start, c);
    enum from_match m = c == '\n' ? FROM_NO : from_line(w->start.data, w->start.len);
    if (m == FROM_MAYBE)
        return;
    if (m == FROM_YES)
        buf_putc(&w->out, '>');
    buf_append(&w->out, w->start.data, w->start.len);
    buf_reset(&w->start);
    w->at_line_start = c == '\n';
}

static int put_chunk(void *ctx, const char *data, size_t len)
{
    struct mbox_out *w = ctx;
    for (size_t i = 0; i < len; i++)
        put_byte(w, data[i]);
    return w->out.len >= OUT_CHUNK ? flush_out(w) : 0;
}

/* The end of the message: its last line ended, then the empty separator line. */
static int finish(struct mbox_out *w)
{
    if (w->start.len) {
        buf_append(&w->out, w->start.data, w->start.len);
        buf_reset(&w->start);
        w->at_line_start = false;
    }
    if (!w->at_line_start)
        buf_putc(&w->out, '\n');
    buf_putc(&w->out, '\n');
    return flush_out(w);
}

static int lock_file(struct special_job *j, int fd)
{
    long long tries = config_int(j->cfg, PARAM(deliver_lock_attempts));
    long long delay = config_int(j->cfg, PARAM(deliver_lock_delay));
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    bool have_flock = false;
    for (long long i = 0; i < tries; i++) {
        if (i)
            sleep((unsigned)delay);
        if (!have_flock && flock(fd, LOCK_EX | LOCK_NB) == 0)
            have_flock = true;
        if (have_flock && fcntl(fd, F_SETLK, &fl) == 0)
            return 0;
        if (errno != EAGAIN && errno != EACCES && errno != EWOULDBLOCK)
            return -1;
    }
    errno = EAGAIN;
    return -1;
}

static int write_message(struct special_job *j, int fd, char **err)
{
    struct mbox_out w = {.fd = fd, .out = BUF_INIT, .start = BUF_INIT, .at_line_start = true};
    time_t t = (time_t)j->msg.arrival_sec;
    struct tm tm;
    char date[64];
    strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", localtime_r(&t, &tm));
    char *sender = xstrdup(*j->sender ? j->sender : "MAILER-DAEMON");
    for (char *p = sender; *p; p++) /* one word: the date follows it on one line */
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            *p = '_';
    buf_printf(&w.out, "From %s %s\n", sender, date);
    free(sender);
    int rc = special_message(j, put_chunk, &w, err);
    if (rc == 0)
        rc = finish(&w);
    else if (rc > 0)
        *err = xstrdup(strerror(w.write_errno));
    buf_free(&w.out);
    buf_free(&w.start);
    return rc == 0 ? 0 : -1;
}

void mbox_deliver(struct special_job *j, struct outcome *o)
{
    if (strcmp(j->target, "/dev/null") == 0) {
        outcome_set(o, "sent", "2.0.0", "delivered to file: %s", j->target);
        return;
    }
    int fd = open(j->target, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        outcome_set(o, "defer", "4.2.0", "cannot open file %s: %s", j->target, strerror(errno));
        if (fd >= 0)
            close(fd);
        return;
    }
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
        outcome_set(o, "bounce", "5.2.0", "cannot append to %s: %s", j->target,
                    S_ISREG(st.st_mode) ? "it has more than one link" : "not a regular file");
        close(fd);
        return;
    }
    char *err = NULL;
    if (lock_file(j, fd) < 0) {
        outcome_set(o, "defer", "4.2.0", "cannot lock file %s: %s", j->target, strerror(errno));
    } else {
        off_t size = lseek(fd, 0, SEEK_END);
        if (write_message(j, fd, &err) < 0 || (fsync(fd) < 0 && (err = xstrdup(strerror(errno))))) {
            if (ftruncate(fd, size) < 0 || fsync(fd) < 0) {
                /* the reason below says what failed first */
            }
            outcome_set(o, "defer", "4.2.0", "cannot append to file %s: %s", j->target, err);
        } else {
            outcome_set(o, "sent", "2.0.0", "delivered to file: %s", j->target);
        }
    }
    free(err);
    if (close(fd) < 0 && strcmp(o->status, "sent") == 0)
        outcome_set(o, "defer", "4.2.0", "cannot append to file %s: %s", j->target, strerror(errno));
}
