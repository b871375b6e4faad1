/* cmd_append.c - APPEND (RFC 9051 sec 6.3.12) with UIDPLUS's APPENDUID (RFC 4315): the
 * message literal is written through the store (lib/store/mailstore.h, mailbox_append) as
 * durably as a delivery, with its flags and date, into an existing mailbox only ([TRYCREATE]
 * otherwise), within the user's quota ([OVERQUOTA]). The store keeps LF line ends: the CRLF of
 * the wire becomes LF, and FETCH gives CRLF back, so the octets a client appended are the ones
 * it fetches. Keywords go into the target mailbox's table first ([LIMIT] when it is full). */
#include "imap_mailbox.h"
#include "log.h"
#include "mem.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

struct literal {
    const char *data;
    size_t len;
};

/* Write the message with CRLF turned into LF; 0 or -1. */
static int fill(void *ctx, int fd)
{
    const struct literal *l = ctx;
    struct buf out = BUF_INIT;
    for (size_t i = 0; i < l->len; i++) {
        if (l->data[i] == '\r' && i + 1 < l->len && l->data[i + 1] == '\n')
            continue;
        buf_putc(&out, l->data[i]);
    }
    size_t off = 0;
    while (off < out.len) {
        ssize_t n = write(fd, out.data + off, out.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            buf_free(&out);
            return -1;
        }
        off += (size_t)n;
    }
    buf_free(&out);
    return 0;
}

/* RFC 9051 sec 9 date-time: "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be " d"). */
static bool parse_date_time(const char *s, uint64_t *out)
{
    struct tm tm = {0};
    const char *p = strptime(s[0] == ' ' ? s + 1 : s, "%d-%b-%Y %H:%M:%S", &tm);
    int sign, hh, mm;
    if (!p || p[0] != ' ' || (p[1] != '+' && p[1] != '-') || strlen(p + 2) != 4 ||
        sscanf(p + 2, "%2d%2d", &hh, &mm) != 2 || mm > 59)
        return false;
    sign = p[1] == '-' ? -1 : 1;
    time_t t = timegm(&tm) - sign * (hh * 3600 + mm * 60);
    if (t < 0)
        return false;
    *out = (uint64_t)t;
    return true;
}

void cmd_append(struct imap_session *s, struct imap_command *cmd)
{
    const struct imap_arg *a = cmd->args;
    size_t n = cmd->nargs, i = 1;
    uint32_t flags = 0;
    uint64_t date = (uint64_t)time(NULL);
    const char **names = NULL;
    size_t nnames = 0;
    if (n >= 3 && a[i].type == IMAP_ARG_LIST) {
        if (!imap_parse_flags(&a[i], &flags, &names, &nnames)) {
            imap_bad(s, "Invalid flags.");
            return;
        }
        i++;
    }
    char *name = NULL, *err = NULL;
    if (i + 1 < n && a[i].type == IMAP_ARG_QUOTED) {
        if (!parse_date_time(a[i].str, &date)) {
            free(names);
            imap_bad(s, "Invalid date-time.");
            return;
        }
        i++;
    }
    if (n < 2 || i + 1 != n || a[i].type != IMAP_ARG_LITERAL) {
        free(names);
        imap_bad(s, "Syntax: APPEND mailbox [(flags)] [date-time] {size}.");
        return;
    }
    if (a[i].len > s->d->p.append_limit) { /* RFC 7889 */
        free(names);
        imap_no(s, "[TOOBIG] The message is larger than APPENDLIMIT.");
        return;
    }
    name = imap_name_in(s, &a[0]);
    if (!name) {
        free(names);
        imap_no(s, "[CANNOT] Invalid mailbox name.");
        return;
    }
    uint64_t keywords = 0;
    enum mailstore_result r = nnames ? mailbox_keywords_add(s->mu, name, names, nnames, &keywords, &err) : MS_OK;
    free(names);
    struct literal lit = {a[i].str, a[i].len};
    uint32_t uid = 0, uidvalidity = 0;
    if (r == MS_OK)
        r = mailbox_append(s->mu, name, s->quota, fill, &lit, flags, keywords, date, &uid,
                           &uidvalidity, &err);
    if (r == MS_OK) {
        if (s->view && strcmp(s->view->name, name) == 0)
            view_sync(s, true);
        imap_ok(s, "[APPENDUID %u %u] APPEND completed.", uidvalidity, uid);
    } else {
        imap_store_error(s, r, true, "APPEND", err);
    }
    free(err);
    free(name);
}
