/* fuzz_smtp_check.h - what the targets that run the SMTP server engine (fuzz_smtpd,
 * fuzz_submission) share: their spool and main.cf settings, and their invariants: the output is complete CRLF lines, each a well-formed SMTP
 * reply (3 digits from 2xx to 5xx, '-' or ' ', text without CR, LF or NUL), the lines of a
 * multi-line reply sharing one code, the first reply 220 (or 421); a "250 2.0.0 Ok: queued as
 * ID" names a complete queue file with recipients in incoming/ or hold/ (which the target's
 * check may look at further), every file in incoming/ and hold/ was acknowledged that way,
 * and tmp/ is left empty. Acknowledged files are removed. */
#ifndef POSTHORN_FUZZ_SMTP_CHECK_H
#define POSTHORN_FUZZ_SMTP_CHECK_H
#include "buf.h"
#include "fuzz_daemon.h"
#include "mem.h"
#include "queue.h"
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* SPOOL (dir/spool) with its queue directories and private/, and the configuration both
 * targets start from: our domain example.test, the account database in dir, no TLS, no
 * tarpit timers (fuzzing wants speed), limits an input can reach. */
static inline struct config *fuzz_smtp_setup(const char *dir, char *spool, size_t size)
{
    must((size_t)snprintf(spool, size, "%s/spool", dir) < size);
    must(mkdir(spool, 0700) == 0);
    char p[800];
    for (size_t i = 0; queue_dirs[i]; i++) {
        snprintf(p, sizeof p, "%s/%s", spool, queue_dirs[i]);
        must(mkdir(p, 0700) == 0);
    }
    snprintf(p, sizeof p, "%s/private", spool);
    must(mkdir(p, 0700) == 0);
    struct config *cfg = config_defaults(dir);
    snprintf(p, sizeof p, "%s/accounts.lmdb", dir);
    set(cfg, "queue_directory", spool);
    set(cfg, "account_database", p);
    set(cfg, "myhostname", "mx.example.test");
    set(cfg, "myorigin", "example.test");
    set(cfg, "mydomain", "example.test");
    set(cfg, "smtpd_tls_security_level", "none");
    set(cfg, "smtpd_error_sleep_time", "0");
    set(cfg, "message_size_limit", "20000");
    set(cfg, "smtpd_recipient_limit", "5");
    set(cfg, "smtpd_peername_lookup", "no"); /* no libunbound thread; the peer has no address */
    return cfg;
}

static inline bool smtp_reply_code(const char *p)
{
    return p[0] >= '2' && p[0] <= '5' && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]);
}

/* Checks the reply lines; appends the acknowledged queue IDs to ids, one per line. */
static inline void check_smtp_replies(const struct buf *out, struct buf *ids)
{
    size_t pos = 0;
    char code[4] = "";
    bool in_multi = false, first = true;
    while (pos < out->len) {
        const char *line = out->data + pos;
        const char *end = memmem(line, out->len - pos, "\r\n", 2);
        must(end != NULL);
        size_t len = (size_t)(end - line);
        must(len >= 3 && smtp_reply_code(line) && (len == 3 || line[3] == ' ' || line[3] == '-'));
        must(!memchr(line, '\r', len) && !memchr(line, '\n', len) && !memchr(line, 0, len));
        must(!in_multi || memcmp(code, line, 3) == 0);
        must(!first || memcmp(line, "220", 3) == 0 || memcmp(line, "421", 3) == 0);
        first = false;
        memcpy(code, line, 3);
        in_multi = len > 3 && line[3] == '-';
        static const char ack[] = "250 2.0.0 Ok: queued as ";
        if (len > sizeof ack - 1 && memcmp(line, ack, sizeof ack - 1) == 0) {
            buf_append(ids, line + sizeof ack - 1, len - (sizeof ack - 1));
            buf_putc(ids, '\n');
        }
        pos += len + 2;
    }
    must(!in_multi);
}

/* The acknowledged file id, complete and with recipients, in incoming/ or hold/; check (may
 * be NULL) looks at it further. Removed afterwards. */
static inline void check_smtp_queue_file(const char *spool, const char *id,
                                         void (*check)(const struct queue_msg *m))
{
    must(queue_id_valid(id));
    char *path = queue_path(spool, QUEUE_INCOMING, id);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        free(path);
        path = queue_path(spool, QUEUE_HOLD, id);
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    must(fd >= 0);
    struct queue_msg m;
    char *err = NULL;
    must(queue_read(fd, id, &m, &err) == 0 && m.nrcpts >= 1);
    if (check)
        check(&m);
    queue_msg_free(&m);
    close(fd);
    must(unlink(path) == 0);
    free(path);
}

/* Every acknowledged file is there and complete (and removed); nothing else is left. */
static inline void check_smtp_spool(const char *spool, const struct buf *ids,
                                    void (*check)(const struct queue_msg *m))
{
    for (size_t pos = 0; pos < ids->len;) {
        const char *nl = memchr(ids->data + pos, '\n', ids->len - pos);
        char *id = xstrndup(ids->data + pos, (size_t)(nl - (ids->data + pos)));
        check_smtp_queue_file(spool, id, check);
        free(id);
        pos = (size_t)(nl - ids->data) + 1;
    }
    static const char *const empty[] = {QUEUE_INCOMING, QUEUE_HOLD, QUEUE_TMP};
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        char p[800];
        snprintf(p, sizeof p, "%s/%s", spool, empty[i]);
        DIR *dir = opendir(p);
        must(dir != NULL);
        struct dirent *e;
        while ((e = readdir(dir)))
            must(e->d_name[0] == '.');
        closedir(dir);
    }
}

#endif
