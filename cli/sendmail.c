/* sendmail.c - the sendmail(1) front end (doc/pickup.md): `sendmail [options] [RCPT...]`
 * reads a message on standard input and queues it, with Postfix's option set and
 * sysexits(3) statuses, as callers of sendmail (mutt, mailx, cron, PHP) expect.
 *
 * Root and the instance's user write the queue file themselves (root drops to mail_owner
 * first, so the file belongs to the queue's owner); every other user hands the message to
 * the pickup service over SPOOL/public/pickup, which takes the uid from the socket. Either
 * way lib/submit/local_submit.h writes, signs and commits it.
 *
 * Modes: -bm (default: deliver), -bs (an SMTP session on standard input and output:
 * sendmail_smtp.c), -bp (mailq), -bi and -I (newaliases), -q (flush the queue). -C DIR (or
 * a main.cf path) may come anywhere. Accepted and ignored as Postfix does: -B, -h, -L, -n,
 * -U, -X, -m, -G, -O, and -o options other than -oi. Refused with 64: -bd, -bh, -bH, -bl. */
#include "cli.h"
#include "sendmail.h"
#include "log.h"
#include "mem.h"
#include "pickup_client.h"
#include "privs.h"
#include "xtext.h"
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

void sm_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sendmail: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Option value: "-fADDR" or "-f ADDR"; NULL (after a message) when missing. */
static const char *optval(int argc, char **argv, int *i)
{
    if (argv[*i][2])
        return argv[*i] + 2;
    if (*i + 1 >= argc) {
        sm_err("option %s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

static int parse_b(const char *a, struct sm_opts *o)
{
    static const char *const modes[] = {"-bm", "-bs", "-bp", "-bi", "-bv"};
    static const enum sm_mode values[] = {SM_DELIVER, SM_SMTP, SM_MAILQ, SM_NEWALIASES, SM_VERIFY};
    for (size_t k = 0; k < sizeof modes / sizeof modes[0]; k++)
        if (strcmp(a, modes[k]) == 0) {
            o->mode = values[k];
            return 0;
        }
    sm_err("%s is not supported (no daemon mode: the mail system runs under `posthorn start`)", a);
    return -1;
}

/* -N, -R, -V: RFC 3461 parameters of the submission. */
static int parse_dsn(char opt, const char *v, struct sm_opts *o)
{
    if (opt == 'N' && !local_submit_notify(v, o->notify)) {
        sm_err("bad -N value \"%s\": never, or success, delay and failure separated by commas", v);
        return -1;
    }
    if (opt == 'R') {
        if (strcasecmp(v, "full") != 0 && strcasecmp(v, "hdrs") != 0) {
            sm_err("bad -R value \"%s\": full or hdrs", v);
            return -1;
        }
        o->ret = strcasecmp(v, "full") == 0 ? "FULL" : "HDRS";
    }
    if (opt == 'V') {
        free(o->envid);
        o->envid = xtext_encode(v);
        if (!local_submit_envid(o->envid)) {
            sm_err("bad -V value: at most 100 bytes of printable text");
            return -1;
        }
    }
    return 0;
}

/* One option at argv[*i]; 0, or -1 after a message (a usage error). */
static int parse_one(int argc, char **argv, int *i, struct sm_opts *o)
{
    const char *a = argv[*i], *v;
    switch (a[1]) {
    case 'f': case 'r':
        return (o->sender = optval(argc, argv, i)) ? 0 : -1;
    case 'F':
        return (o->fullname = optval(argc, argv, i)) ? 0 : -1;
    case 'N': case 'R': case 'V':
        return (v = optval(argc, argv, i)) ? parse_dsn(a[1], v, o) : -1;
    case 'C': case 'B': case 'h': case 'L': case 'O': case 'X':
        return optval(argc, argv, i) ? 0 : -1;
    case 't': o->extract = true; return 0;
    case 'i': o->ignore_dots = true; return 0;
    case 'v': o->verbose = true; return 0;
    case 'I': o->mode = SM_NEWALIASES; return 0;
    case 'm': case 'n': case 'U': case 'G': return 0;
    case 'o':
        /* -oi is -i; the other -oX of old sendmails are accepted and ignored. */
        if (strcmp(a, "-oi") == 0)
            o->ignore_dots = true;
        return 0;
    case 'q':
        o->mode = SM_FLUSH; /* -q, -qR SITE, -qS SITE, -q INTERVAL: one flush now */
        if (a[2] == 'R' || a[2] == 'S') {
            o->site = a[3] ? a + 3 : *i + 1 < argc ? argv[++*i] : NULL;
            if (!o->site)
                sm_err("option %s needs a value", a);
            return o->site ? 0 : -1;
        }
        return 0;
    case 'b':
        return parse_b(a, o);
    default:
        sm_err("unknown option %s", a);
        return -1;
    }
}

static int parse_opts(int argc, char **argv, struct sm_opts *o)
{
    bool opts_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opts_done || a[0] != '-' || a[1] == 0) {
            /* One argument may hold several addresses ("a@x, b@y"), as with Postfix. */
            submit_extract_addresses(a, &o->rcpts, &o->nrcpts);
            o->nargs++;
            continue;
        }
        if (strcmp(a, "--") == 0)
            opts_done = true;
        else if (parse_one(argc, argv, &i, o) < 0)
            return -1;
    }
    return 0;
}

/* The envelope: sender and the checked recipient list. A sysexits status on error. */
static int envelope(struct config *cfg, const struct sm_opts *o, const struct submit_message *m,
                    const struct passwd *pw, struct local_envelope *e)
{
    const char *from = o->sender ? o->sender : pw ? pw->pw_name : "nobody";
    e->sender = local_submit_address(cfg, from, true);
    if (!e->sender) {
        sm_err("bad sender address \"%s\"", from);
        return EX_DATAERR;
    }
    size_t nto = o->extract ? m->nto : 0;
    for (size_t i = 0; i < o->nrcpts + nto; i++) {
        const char *raw = i < o->nrcpts ? o->rcpts[i] : m->to[i - o->nrcpts];
        char *addr = local_submit_address(cfg, raw, false);
        if (!addr) {
            sm_err("bad recipient address \"%s\"", raw);
            return EX_DATAERR;
        }
        local_envelope_add(e, addr, NULL, o->notify[0] ? o->notify : NULL);
        free(addr);
    }
    if (e->nrcpts == 0) {
        sm_err("no recipients given%s", o->extract ? " or found in To/Cc/Bcc" : "");
        return EX_USAGE;
    }
    e->ret = o->ret;
    e->envid = o->envid;
    return EX_OK;
}

bool sm_direct_access(struct cli *c)
{
    char *err = NULL;
    if (privs_is_root() && privs_drop(config_str(cli_config(c), PARAM(mail_owner)), NULL, &err) < 0) {
        sm_err("%s", err);
        free(err);
        return false;
    }
    char *tmp = xasprintf("%s/%s", cli_spool(c), QUEUE_TMP);
    bool ok = access(tmp, W_OK | X_OK) == 0;
    free(tmp);
    return ok;
}

int sm_submit(struct cli *c, struct local_envelope *e, const struct submit_message *m,
              char id[QUEUE_ID_SIZE])
{
    struct config *cfg = cli_config(c);
    char *err = NULL;
    int rc;
    e->uid = getuid();
    /* The same line the pickup service writes. Root opens the log before it becomes
     * mail_owner: the file may be writable by root only (a maillog_file the admin named). */
    bool root = privs_is_root();
    if (root)
        cli_log_open(c, "pickup");
    if (sm_direct_access(c)) {
        if (!root)
            cli_log_open(c, "pickup");
        rc = local_submit_queue(cfg, cli_spool(c), e, m, id, &err);
    } else {
        rc = pickup_submit(cli_spool(c), (int)(config_int(cfg, PARAM(pickup_timeout)) * 1000),
                           e, m, id, &err);
    }
    if (rc != EX_OK)
        sm_err("cannot queue the message: %s", err);
    free(err);
    return rc;
}

static int deliver(struct cli *c, const struct sm_opts *o)
{
    struct config *cfg = cli_config(c);
    struct passwd *pw = getpwuid(getuid());
    struct local_envelope e = {0};
    char *gecos = NULL;
    e.fullname = o->fullname;
    if (!e.fullname && !o->sender && pw && pw->pw_gecos && *pw->pw_gecos)
        e.fullname = gecos = xstrndup(pw->pw_gecos, strcspn(pw->pw_gecos, ","));
    struct submit_message m;
    bool too_big;
    size_t limit = (size_t)config_int(cfg, PARAM(message_size_limit));
    if (submit_message_read(stdin, o->ignore_dots, limit, &m, &too_big) < 0) {
        sm_err("%s", too_big ? "message is larger than message_size_limit"
                             : "cannot read the message from standard input");
        submit_message_free(&m);
        free(gecos);
        return too_big ? EX_DATAERR : EX_IOERR;
    }
    char id[QUEUE_ID_SIZE];
    int rc = envelope(cfg, o, &m, pw, &e);
    if (rc == EX_OK)
        rc = sm_submit(c, &e, &m, id);
    if (rc == EX_OK && o->verbose)
        fprintf(stderr, "sendmail: queued as %s\n", id);
    e.envid = NULL; /* o's */
    local_envelope_free(&e);
    submit_message_free(&m);
    free(gecos);
    return rc;
}

int cmd_sendmail(struct cli *c, int argc, char **argv)
{
    cli_option_confdir(c, argc, argv);
    struct sm_opts o = {.mode = SM_DELIVER};
    int rc = parse_opts(argc, argv, &o) < 0 ? EX_USAGE : EX_OK;
    if (rc == EX_OK) {
        switch (o.mode) {
        case SM_MAILQ: rc = cmd_mailq(c, 1, argv); break;
        case SM_NEWALIASES: rc = cmd_newaliases(c, 1, argv); break;
        case SM_FLUSH: rc = sm_flush(c, o.site); break;
        case SM_SMTP: rc = sm_smtp_session(c, &o); break;
        case SM_VERIFY: rc = sm_verify(c, &o); break;
        case SM_DELIVER: rc = deliver(c, &o); break;
        }
    }
    for (size_t i = 0; i < o.nrcpts; i++)
        free(o.rcpts[i]);
    free(o.rcpts);
    free(o.envid);
    return rc;
}
