/* cmd_append.c - APPEND (RFC 9051 sec 6.3.12) with UIDPLUS's APPENDUID (RFC 4315) and
 * MULTIAPPEND (RFC 3502: several messages, each with its own flags and date, appended all
 * or none, APPENDUID with the set of their UIDs): the message literals are written through
 * the store (lib/store/mailstore.h, mailbox_append_many) as durably as a delivery, into an
 * existing mailbox only ([TRYCREATE] otherwise), within the user's quota ([OVERQUOTA]). The
 * store keeps LF line ends: the CRLF of the wire becomes LF, and FETCH gives CRLF back, so
 * the octets a client appended are the ones it fetches. A literal8 (RFC 3516 sec 4.4) has its
 * binary parts rewritten in base64 first (lib/mail/mime_binary.h): BINARY[section] decodes
 * them back to the octets appended, NULs and bare CRs included. Keywords go into the target
 * mailbox's table first ([LIMIT] when it is full). The whole command, every literal in it,
 * is bounded by APPENDLIMIT plus imapd_line_length_limit (session.c). */
#include "imap_mailbox.h"
#include "log.h"
#include "mem.h"
#include "mime_binary.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* A message literal: in the command (data, len) or in a spool file (spool.c). */
struct literal {
    const char *data;
    size_t len;
    const struct spool *spool;
    struct buf rewritten; /* a literal8 with its binary parts in base64 */
};

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Copy a chunk with CRLF turned into LF; *cr: the previous chunk ended in a CR not yet
 * written (it is dropped when this chunk starts with LF). */
static int write_lf(int fd, const char *p, size_t len, bool *cr, bool last)
{
    char out[65536 + 1];
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (*cr && p[i] != '\n')
            out[o++] = '\r';
        *cr = p[i] == '\r';
        if (!*cr)
            out[o++] = p[i];
        if (o >= sizeof out - 1) {
            if (write_all(fd, out, o) < 0)
                return -1;
            o = 0;
        }
    }
    if (last && *cr)
        out[o++] = '\r', *cr = false;
    return write_all(fd, out, o);
}

/* Write the message with CRLF turned into LF, a chunk at a time; 0 or -1. */
static int fill(void *ctx, int fd)
{
    const struct literal *l = ctx;
    bool cr = false;
    if (!l->spool)
        return write_lf(fd, l->data, l->len, &cr, true);
    if (l->spool->error) {
        errno = l->spool->error;
        return -1;
    }
    char chunk[65536];
    uint64_t off = 0;
    while (off < l->spool->size) {
        size_t want = l->spool->size - off < sizeof chunk ? (size_t)(l->spool->size - off) : sizeof chunk;
        ssize_t n = pread(l->spool->fd, chunk, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += (uint64_t)n;
        if (write_lf(fd, chunk, (size_t)n, &cr, off == l->spool->size) < 0)
            return -1;
    }
    return 0;
}

/* How many literals the command has before argument a[upto] (in the order they arrived:
 * depth first through lists), which is the ordinal spool_find knows a literal by. */
static unsigned literals_before(const struct imap_arg *a, size_t upto)
{
    unsigned n = 0;
    for (size_t i = 0; i < upto; i++)
        n += a[i].type == IMAP_ARG_LITERAL ? 1
           : a[i].type == IMAP_ARG_LIST    ? literals_before(a[i].list, a[i].n) : 0;
    return n;
}

static bool digits(const char *s, int n, int *out)
{
    *out = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *out = *out * 10 + (s[i] - '0');
    }
    return true;
}

static int month_of(const char *s)
{
    static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    char m[4] = {0};
    for (int i = 0; i < 3 && s[i]; i++)
        m[i] = (char)(s[i] | 0x20);
    const char *hit = strlen(m) == 3 ? strstr(names, m) : NULL;
    return hit && (hit - names) % 3 == 0 ? (int)(hit - names) / 3 : -1;
}

static int days_in(int month, int year)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return days[month] + (month == 1 && leap);
}

/* RFC 9051 sec 9 date-time: "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be " d"), strictly (a
 * 31-Feb is not a date). A date before 1970, which the index cannot hold, becomes
 * 1970-01-01 00:00:01 UTC (0 means "now" to the store) rather than a BAD: an old archive
 * copied in keeps its messages. */
static bool parse_date_time(const char *s, uint64_t *out)
{
    int day, year, hh, mi, ss, zh, zm;
    if (strlen(s) < 25)
        return false;
    size_t dlen = s[0] == ' ' ? 2 : s[1] == '-' ? 1 : 2;
    const char *p = s + dlen; /* at "-Mon-yyyy ..." */
    if (strlen(s) != dlen + 24 || !digits(s[0] == ' ' ? s + 1 : s, s[0] == ' ' ? 1 : (int)dlen, &day) ||
        p[0] != '-' || p[4] != '-' || !digits(p + 5, 4, &year) || p[9] != ' ' ||
        !digits(p + 10, 2, &hh) || p[12] != ':' || !digits(p + 13, 2, &mi) || p[15] != ':' ||
        !digits(p + 16, 2, &ss) || p[18] != ' ' || (p[19] != '+' && p[19] != '-') ||
        !digits(p + 20, 2, &zh) || !digits(p + 22, 2, &zm))
        return false;
    int month = month_of(p + 1);
    if (month < 0 || day < 1 || day > days_in(month, year) || hh > 23 || mi > 59 || ss > 60 ||
        zm > 59)
        return false;
    struct tm tm = {.tm_year = year - 1900, .tm_mon = month, .tm_mday = day, .tm_hour = hh,
                    .tm_min = mi, .tm_sec = ss};
    long long t = (long long)timegm(&tm) - (p[19] == '-' ? -1 : 1) * (zh * 3600 + zm * 60);
    *out = t < 1 ? 1 : (uint64_t)t;
    return true;
}

/* A literal8's binary parts in base64 (mime_binary.h); the literal then points at the
 * rewritten text. false when a spooled literal cannot be read. */
static bool rewrite_binary(struct literal *l)
{
    const char *data = l->data;
    size_t len = l->len;
    void *map = NULL;
    if (l->spool) {
        if (l->spool->error || l->spool->size == 0)
            return l->spool->error == 0;
        len = (size_t)l->spool->size;
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, l->spool->fd, 0);
        if (map == MAP_FAILED) {
            log_error("APPEND: cannot map the spooled literal: %m");
            return false;
        }
        data = map;
    }
    if (mime_binary_to_base64(data, len, NULL, &l->rewritten) > 0)
        *l = (struct literal){l->rewritten.data, l->rewritten.len, NULL, l->rewritten};
    if (map)
        munmap(map, len);
    return true;
}

struct message {
    uint32_t flags;
    const char **names; /* keywords */
    size_t nnames;
    uint64_t date;
    struct literal lit;
};

/* One message: [flags] [date-time] literal, from a[*i]; 1, 0 syntax error (BAD), -1 answered. */
static int parse_message(struct imap_session *s, const struct imap_arg *a, size_t n, size_t *i,
                         struct message *m)
{
    m->date = (uint64_t)time(NULL);
    if (*i + 1 < n && a[*i].type == IMAP_ARG_LIST) {
        if (!imap_parse_flags(&a[*i], &m->flags, &m->names, &m->nnames))
            return 0;
        ++*i;
    }
    if (*i + 1 < n && a[*i].type == IMAP_ARG_QUOTED) {
        if (!parse_date_time(a[*i].str, &m->date))
            return 0;
        ++*i;
    }
    const struct imap_arg *lit = *i < n ? &a[*i] : NULL;
    unsigned ordinal = literals_before(a, *i);
    /* RFC 6855 sec 4: append-data =/ "UTF8" SP "(" literal8 ")", a message/global */
    if (lit && imap_arg_atom_is(lit, "UTF8") && *i + 1 < n && a[*i + 1].type == IMAP_ARG_LIST &&
        a[*i + 1].n == 1 && a[*i + 1].list[0].type == IMAP_ARG_LITERAL && a[*i + 1].list[0].literal8) {
        lit = &a[*i + 1].list[0];
        ordinal = literals_before(a, *i + 1);
        ++*i;
    } else if (!lit || lit->type != IMAP_ARG_LITERAL)
        return 0;
    const struct spool *sp = lit->len == 0 ? spool_find(s, ordinal) : NULL;
    if ((sp ? sp->size : lit->len) > s->d->p.append_limit) { /* RFC 7889 */
        imap_no(s, "[TOOBIG] The message is larger than APPENDLIMIT.");
        return -1;
    }
    m->lit = (struct literal){lit->str, lit->len, sp, BUF_INIT};
    if (lit->literal8 && !rewrite_binary(&m->lit)) {
        imap_no(s, "[SERVERBUG] Cannot read the appended message back.");
        return -1;
    }
    ++*i;
    return 1;
}

/* Keywords into the table, then the messages. */
static enum mailstore_result store(struct imap_session *s, const char *name, struct message *msgs,
                                   size_t n, uint32_t *uids, uint32_t *uidvalidity, char **err)
{
    struct mailbox_append_msg *am = xcalloc(n, sizeof *am);
    enum mailstore_result r = MS_OK;
    for (size_t k = 0; k < n && r == MS_OK; k++) {
        uint64_t keywords = 0;
        if (msgs[k].nnames)
            r = mailbox_keywords_add(s->mu, name, msgs[k].names, msgs[k].nnames, &keywords, err);
        am[k] = (struct mailbox_append_msg){.fill = fill, .ctx = &msgs[k].lit, .flags = msgs[k].flags,
                                           .keywords = keywords, .internaldate = msgs[k].date};
    }
    /* into the mailbox selected here: the messages are \Recent for this session, claimed
     * in the same transaction (view_sync, which follows, takes them) */
    struct view *v = s->view && !s->view->readonly && strcmp(s->view->name, name) == 0 ? s->view : NULL;
    if (r == MS_OK)
        r = mailbox_append_many_recent(s->mu, name, s->quota, am, n, uidvalidity,
                                       v ? &v->appended : NULL, err);
    for (size_t k = 0; k < n; k++)
        uids[k] = am[k].uid;
    free(am);
    return r;
}

void cmd_append(struct imap_session *s, struct imap_command *cmd)
{
    const struct imap_arg *a = cmd->args;
    size_t n = cmd->nargs, i = 1, count = 0;
    struct message *msgs = NULL;
    int ok = n >= 2 ? 1 : 0;
    while (ok == 1 && i < n) { /* RFC 3502 sec 6.3.11: one or more messages */
        msgs = xreallocarray(msgs, count + 1, sizeof *msgs);
        memset(&msgs[count], 0, sizeof *msgs);
        ok = parse_message(s, a, n, &i, &msgs[count++]);
    }
    char *name = ok == 1 ? imap_name_in(s, &a[0]) : NULL;
    if (ok == 0)
        imap_bad(s, "Syntax: APPEND mailbox [(flags)] [date-time] {size} [[(flags)] [date-time] {size} ...].");
    else if (ok == 1 && !name)
        imap_no(s, "[CANNOT] Invalid mailbox name.");
    if (name) {
        char *err = NULL;
        uint32_t uidvalidity = 0, *uids = xcalloc(count, sizeof *uids);
        enum mailstore_result r = store(s, name, msgs, count, uids, &uidvalidity, &err);
        if (r == MS_OK) {
            if (s->view && strcmp(s->view->name, name) == 0)
                view_sync(s, true);
            struct buf set = BUF_INIT;
            imap_seqset_write(&set, uids, count); /* consecutive: one transaction */
            imap_ok(s, "[APPENDUID %u %s] APPEND completed.", uidvalidity, buf_cstr(&set));
            buf_free(&set);
        } else {
            imap_store_error(s, r, true, "APPEND", err);
        }
        free(err);
        free(uids);
    }
    for (size_t k = 0; k < count; k++) {
        free(msgs[k].names);
        buf_free(&msgs[k].lit.rewritten);
    }
    free(msgs);
    free(name);
}
