/* sendmail.c - the sendmail(1) front end: `sendmail [-f SENDER] [-F NAME] [-t] [-i] [-oi]
 * [RCPT...]` reads a message on stdin and queues it. Callers that may write SPOOL/tmp (root,
 * or the user an unprivileged instance runs as) get the queue file written directly with
 * lib/global/queue.h (root drops to mail_owner first, so the file belongs to the queue's owner)
 * and signed with DKIM by the dkim-signer service before it is committed (doc/dkim.md);
 * others are refused until the public pickup service exists. Missing Date:, Message-ID:
 * and From: headers are added, a Received: header records the submitting uid, and qmgr is
 * woken. Exit statuses follow sysexits(3), as callers of sendmail expect.
 * Also: -bp (mailq), -bi (newaliases), -C CONFDIR. Not supported: -bs, -bv, -q. */
#include "cli.h"
#include "sendmail.h"
#include "date.h"
#include "dkim_client.h"
#include "log.h"
#include "mem.h"
#include "privs.h"
#include "queue.h"
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define ADDRESS_MAX 320 /* RFC 5321 section 4.5.3.1: 64 + 1 + 255 */

struct sm_opts {
    const char *sender;   /* -f/-r, NULL: the invoking user */
    const char *fullname; /* -F */
    bool extract;         /* -t */
    bool ignore_dots;     /* -i, -oi */
    char **rcpts;
    size_t nrcpts;
};

static void add_rcpt_arg(struct sm_opts *o, const char *arg)
{
    /* One argument may hold several addresses ("a@x, b@y"), as with Postfix. */
    sm_extract_addresses(arg, &o->rcpts, &o->nrcpts);
}

/* Option value: "-fADDR" or "-f ADDR". */
static const char *optval(int argc, char **argv, int *i)
{
    if (argv[*i][2])
        return argv[*i] + 2;
    if (*i + 1 >= argc) {
        fprintf(stderr, "sendmail: option %s needs a value\n", argv[*i]);
        exit(EX_USAGE);
    }
    return argv[++*i];
}

/* Returns -1 to go on sending, else the exit status of another mode (-bp, -bi). */
static int parse_opts(struct cli *c, int argc, char **argv, struct sm_opts *o)
{
    bool opts_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opts_done || a[0] != '-' || a[1] == 0) {
            add_rcpt_arg(o, a);
            continue;
        }
        switch (a[1]) {
        case '-': opts_done = true; break;
        case 'f': case 'r': o->sender = optval(argc, argv, &i); break;
        case 'F': o->fullname = optval(argc, argv, &i); break;
        case 'C': c->confdir = optval(argc, argv, &i); break;
        case 't': o->extract = true; break;
        case 'i': o->ignore_dots = true; break;
        case 'v': case 'm': break;
        case 'o':
            /* -oi is -i; other -oX options of old sendmail are accepted and ignored. */
            if (a[2] == 'i' && a[3] == 0)
                o->ignore_dots = true;
            break;
        case 'N': case 'R': case 'V': case 'B': optval(argc, argv, &i); break;
        case 'b':
            if (strcmp(a, "-bm") == 0)
                break;
            if (strcmp(a, "-bp") == 0)
                return cmd_mailq(c, 1, argv);
            if (strcmp(a, "-bi") == 0)
                return cmd_newaliases(c, 1, argv);
            fprintf(stderr, "sendmail: %s is not supported\n", a);
            return EX_USAGE;
        default:
            fprintf(stderr, "sendmail: unknown option %s\n", a);
            return EX_USAGE;
        }
    }
    return -1;
}

/* Strip <>, qualify with myorigin, refuse control characters and overlong addresses.
 * Returns a malloc'ed address, "" for the null sender when allowed, or NULL. */
static char *clean_address(struct config *cfg, const char *in, bool null_ok)
{
    size_t len = strlen(in);
    if (len >= 2 && in[0] == '<' && in[len - 1] == '>')
        in++, len -= 2;
    if (len == 0)
        return null_ok ? xstrdup("") : NULL;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)in[i] <= ' ' || in[i] == 0x7f || in[i] == '<' || in[i] == '>')
            return NULL;
    char *addr = memchr(in, '@', len) ? xstrndup(in, len)
                                       : xasprintf("%.*s@%s", (int)len, in, config_str(cfg, PARAM(myorigin)));
    if (strlen(addr) > ADDRESS_MAX || addr[0] == '@' || addr[strlen(addr) - 1] == '@') {
        free(addr);
        return NULL;
    }
    return addr;
}

static void put_phrase(struct buf *b, const char *name)
{
    bool plain = true;
    for (const char *p = name; *p; p++)
        if (strchr("()<>[]:;@\\,.\"", *p))
            plain = false;
    if (plain) {
        buf_puts(b, name);
        return;
    }
    buf_putc(b, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_putc(b, '\\');
        buf_putc(b, *p);
    }
    buf_putc(b, '"');
}

/* The header lines to add: Received: on top, missing From:/Date:/Message-ID: at the end. */
static void make_headers(struct config *cfg, const char *id, uid_t uid, const char *sender,
                         const char *fullname, const struct sm_message *m, struct buf *top,
                         struct buf *bottom)
{
    char date[MAIL_DATE_SIZE], stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    mail_date_format(date, sizeof date, now);
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm); /* the Message-ID's time part */
    const char *host = config_str(cfg, PARAM(myhostname));
    buf_printf(top, "Received: by %s (Posthorn, from userid %ld)\n\tid %s; %s\n", host,
               (long)uid, id, date);
    if (!m->has_from) {
        buf_puts(bottom, "From: ");
        if (fullname && *fullname) {
            put_phrase(bottom, fullname);
            buf_printf(bottom, " <%s>\n", *sender ? sender : "MAILER-DAEMON");
        } else {
            buf_printf(bottom, "%s\n", *sender ? sender : "MAILER-DAEMON");
        }
    }
    if (!m->has_date)
        buf_printf(bottom, "Date: %s\n", date);
    if (!m->has_message_id)
        buf_printf(bottom, "Message-ID: <%s.%s@%s>\n", stamp, id, host);
}

static bool non_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return true;
    return false;
}

/* Write and commit the queue file; prints why not and returns a sysexits status. */
static int enqueue(struct cli *c, uid_t uid, const char *sender, char **rcpts, size_t n,
                   const char *fullname, const struct sm_message *m)
{
    struct config *cfg = cli_config(c);
    char *err = NULL;
    struct queue_writer *w = queue_create(cli_spool(c), &err);
    if (!w) {
        fprintf(stderr, "sendmail: %s\n", err);
        free(err);
        return EX_TEMPFAIL;
    }
    char id[QUEUE_ID_SIZE];
    snprintf(id, sizeof id, "%s", queue_writer_id(w));
    queue_put_str(w, REC_SENDER, sender);
    bool utf8 = non_ascii(sender);
    if (m->eight_bit)
        queue_put_attr(w, "body", "8BITMIME");
    for (size_t i = 0; i < n; i++) {
        queue_put_rcpt(w, rcpts[i], "", "");
        utf8 |= non_ascii(rcpts[i]);
    }
    if (utf8)
        queue_put_attr(w, "smtputf8", "yes");
    struct buf top = BUF_INIT, bottom = BUF_INIT;
    make_headers(cfg, id, uid, sender, fullname, m, &top, &bottom);
    queue_begin_message(w);
    queue_write_body(w, top.data, top.len);
    queue_write_body(w, m->headers.data ? m->headers.data : "", m->headers.len);
    queue_write_body(w, bottom.data ? bottom.data : "", bottom.len);
    queue_write_body(w, m->body.data ? m->body.data : "", m->body.len);
    buf_free(&top);
    buf_free(&bottom);
    cli_log_open(c, "sendmail");
    /* Signed (doc/dkim.md) before it is queued: the signer reads the file being written. */
    struct dkim_client dc;
    dkim_client_init(&dc, cfg, cli_spool(c));
    if (dkim_sign_writer(&dc, w, &err) < 0) {
        fprintf(stderr, "sendmail: cannot queue the message: %s\n", err);
        free(err);
        queue_abort(w);
        return EX_TEMPFAIL;
    }
    size_t size = queue_body_size(w);
    if (queue_commit(w, true, &err) < 0) {
        fprintf(stderr, "sendmail: cannot queue the message: %s\n", err);
        free(err);
        return EX_TEMPFAIL;
    }
    log_info("%s: uid=%ld from=<%s>, size=%zu, nrcpt=%zu", id, (long)uid, sender, size, n);
    cli_wake_qmgr(c);
    return EX_OK;
}

/* The envelope: sender and the cleaned recipient list. A sysexits status on error. */
static int envelope(struct config *cfg, const struct sm_opts *o, const struct sm_message *m,
                    const struct passwd *pw, char **sender, char ***rcpts, size_t *n)
{
    const char *from = o->sender ? o->sender : pw ? pw->pw_name : "nobody";
    *sender = clean_address(cfg, from, true);
    if (!*sender) {
        fprintf(stderr, "sendmail: bad sender address \"%s\"\n", from);
        return EX_DATAERR;
    }
    *rcpts = NULL;
    *n = 0;
    for (size_t i = 0; i < o->nrcpts + (o->extract ? m->nto : 0); i++) {
        const char *raw = i < o->nrcpts ? o->rcpts[i] : m->to[i - o->nrcpts];
        char *addr = clean_address(cfg, raw, false);
        if (!addr) {
            fprintf(stderr, "sendmail: bad recipient address \"%s\"\n", raw);
            return EX_DATAERR;
        }
        bool dup = false; /* the same address twice gets one copy */
        for (size_t j = 0; j < *n && !dup; j++)
            dup = strcasecmp((*rcpts)[j], addr) == 0;
        if (dup) {
            free(addr);
            continue;
        }
        *rcpts = xreallocarray(*rcpts, *n + 1, sizeof **rcpts);
        (*rcpts)[(*n)++] = addr;
    }
    if (*n == 0) {
        fprintf(stderr, "sendmail: no recipients given%s\n", o->extract ? " or found in To/Cc/Bcc" : "");
        return EX_USAGE;
    }
    return EX_OK;
}

/* Become the queue's owner (root) or check we are it (everyone else). */
static int spool_access(struct cli *c)
{
    char *err = NULL;
    if (privs_is_root() && privs_drop(config_str(cli_config(c), PARAM(mail_owner)), NULL, &err) < 0) {
        fprintf(stderr, "sendmail: %s\n", err);
        free(err);
        return EX_TEMPFAIL;
    }
    char *tmp = xasprintf("%s/%s", cli_spool(c), QUEUE_TMP);
    int ok = access(tmp, W_OK | X_OK) == 0;
    if (!ok)
        fprintf(stderr, "sendmail: cannot write %s: %s. Only root and the user the mail system "
                        "runs as (mail_owner) can submit mail yet; a public pickup service for "
                        "other users is not available in this release.\n", tmp, strerror(errno));
    free(tmp);
    return ok ? EX_OK : EX_NOPERM;
}

int cmd_sendmail(struct cli *c, int argc, char **argv)
{
    struct sm_opts o = {0};
    int mode = parse_opts(c, argc, argv, &o);
    if (mode >= 0)
        return mode;
    struct config *cfg = cli_config(c);
    uid_t uid = getuid();
    struct passwd *pw = getpwuid(uid);
    const char *fullname = o.fullname;
    char *gecos = NULL;
    if (!fullname && !o.sender && pw && pw->pw_gecos && *pw->pw_gecos) {
        gecos = xstrndup(pw->pw_gecos, strcspn(pw->pw_gecos, ","));
        fullname = gecos;
    }
    struct sm_message m;
    bool too_big;
    size_t limit = (size_t)config_int(cfg, PARAM(message_size_limit));
    if (sm_read_message(stdin, o.ignore_dots, limit, &m, &too_big) < 0) {
        fprintf(stderr, "sendmail: %s\n", too_big ? "message is larger than message_size_limit"
                                                  : "cannot read the message from standard input");
        return too_big ? EX_DATAERR : EX_IOERR;
    }
    char *sender = NULL, **rcpts = NULL;
    size_t n = 0;
    int rc = envelope(cfg, &o, &m, pw, &sender, &rcpts, &n);
    if (rc == EX_OK)
        rc = spool_access(c);
    if (rc == EX_OK)
        rc = enqueue(c, uid, sender, rcpts, n, fullname, &m);
    for (size_t i = 0; i < n; i++)
        free(rcpts[i]);
    for (size_t i = 0; i < o.nrcpts; i++)
        free(o.rcpts[i]);
    free(rcpts), free(o.rcpts), free(sender), free(gecos);
    sm_message_free(&m);
    return rc;
}
