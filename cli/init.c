/* init.c - `posthorn init DIR [--hostname H] [--domain D] [--listen ADDR] [--port-offset N]
 * [--user ADDR]`: create a complete, working instance in DIR:
 *   DIR/etc    main.cf, master.cf (from the shipped templates), aliases (+ aliases.lmdb),
 *              tls/cert.pem + tls/key.pem (self-signed for H)
 *   DIR/spool  queue_directory: the queue directories, private/, public/, pid/, mta-sts/
 *   DIR/data   data_directory: the account database with domain D (and user ADDR)
 *   DIR/mail   virtual_mailbox_base
 *   DIR/log    posthorn.log (maillog_file)
 * As root the instance runs as the system users posthorn (mail_owner), vmail
 * (vmail_owner) and posthorn-dkim (dkim_owner), created when missing; otherwise everything
 * runs as the invoking user. */
#include "cli.h"
#include "init.h"
#include "accounts.h"
#include "map.h"
#include "mem.h"
#include "queue.h"
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_DOMAIN "example.test"
#define DEFAULT_LISTEN "127.0.0.1"

struct init_opts {
    char *dir;
    char *hostname;
    char *domain;
    const char *listen;
    char *user;
    long offset;
};

struct layout {
    char *dir, *etc, *tls, *cert, *key, *spool, *data, *mail, *logdir, *logfile, *daemon_dir;
    char *mail_owner, *vmail_owner, *dkim_owner;
    struct init_owner own_self, own_mail, own_vmail, own_shared; /* shared: mail_owner, vmail's group */
};

static void parse_opts(int argc, char **argv, struct init_opts *o)
{
    static const struct option longopts[] = {
        {"hostname", required_argument, NULL, 'H'}, {"domain", required_argument, NULL, 'D'},
        {"listen", required_argument, NULL, 'L'},   {"port-offset", required_argument, NULL, 'P'},
        {"user", required_argument, NULL, 'U'},     {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'H': o->hostname = xstrdup(optarg); break;
        case 'D': o->domain = xstrdup(optarg); break;
        case 'L': o->listen = optarg; break;
        case 'U': o->user = xstrdup(optarg); break;
        case 'P': {
            char *end;
            o->offset = strtol(optarg, &end, 10);
            if (*end || end == optarg || o->offset < 0 || o->offset > 65535 - 995)
                cli_usage("--port-offset must be a number from 0 to %d", 65535 - 995);
            break;
        }
        default: cli_usage(NULL);
        }
    }
    if (optind != argc - 1)
        cli_usage("init needs exactly one directory");
    o->dir = argv[optind];
}

static void check_opts(struct init_opts *o)
{
    if (!o->hostname) {
        char h[256];
        if (gethostname(h, sizeof h) != 0)
            snprintf(h, sizeof h, "localhost");
        h[sizeof h - 1] = 0;
        o->hostname = xstrdup(h);
    }
    if (!valid_domain(o->hostname))
        cli_usage("--hostname \"%s\" is not a valid host name", o->hostname);
    if (!o->domain)
        o->domain = xstrdup(DEFAULT_DOMAIN);
    if (!valid_domain(o->domain))
        cli_usage("--domain \"%s\" is not a valid domain", o->domain);
    if (!o->listen)
        o->listen = DEFAULT_LISTEN;
    unsigned char sa[16];
    if (inet_pton(AF_INET, o->listen, sa) != 1 && inet_pton(AF_INET6, o->listen, sa) != 1)
        cli_usage("--listen \"%s\" is not an IPv4 or IPv6 address", o->listen);
    char *domain;
    if (o->user && (!valid_address(o->user, &domain) || strcmp(domain, o->domain) != 0))
        cli_usage("--user \"%s\" must be an address in %s", o->user, o->domain);
}

static char *service(const char *listen, int port, long offset, int width)
{
    char *s = strchr(listen, ':') ? xasprintf("[%s]:%ld", listen, port + offset)
                                  : xasprintf("%s:%ld", listen, port + offset);
    char *padded = xasprintf("%-*s", width, s); /* the master.cf column */
    free(s);
    return padded;
}

static int write_templates(const struct init_opts *o, const struct layout *l, char **err)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %z", localtime_r(&now, &tm));
    char *svc[7];
    static const int ports[7] = {25, 587, 465, 110, 995, 143, 993};
    for (int i = 0; i < 7; i++)
        svc[i] = service(o->listen, ports[i], o->offset, i == 0 ? 23 : 22);
    const char *vars[] = {
        "DATE", date, "INSTANCE", l->dir, "MYHOSTNAME", o->hostname, "MYDOMAIN", o->domain,
        "QUEUE_DIRECTORY", l->spool, "DATA_DIRECTORY", l->data, "VIRTUAL_MAILBOX_BASE", l->mail,
        "DAEMON_DIRECTORY", l->daemon_dir, "MAILLOG_FILE", l->logfile,
        "MAIL_OWNER", l->mail_owner, "VMAIL_OWNER", l->vmail_owner, "DKIM_OWNER", l->dkim_owner,
        "TLS_CERT_FILE", l->cert, "TLS_KEY_FILE", l->key,
        "SMTP_SERVICE", svc[0], "SUBMISSION_SERVICE", svc[1], "SMTPS_SERVICE", svc[2],
        "POP3_SERVICE", svc[3], "POP3S_SERVICE", svc[4], "IMAP_SERVICE", svc[5],
        "IMAPS_SERVICE", svc[6], NULL};
    struct buf main_cf = BUF_INIT, master_cf = BUF_INIT;
    char *main_path = xasprintf("%s/main.cf", l->etc), *master_path = xasprintf("%s/master.cf", l->etc);
    int rc = -1;
    if (init_fill(conf_template_main_cf, vars, &main_cf, err) == 0 &&
        init_fill(conf_template_master_cf, vars, &master_cf, err) == 0 &&
        init_file(main_path, main_cf.data, main_cf.len, 0644, &l->own_self, err) == 0 &&
        init_file(master_path, master_cf.data, master_cf.len, 0644, &l->own_self, err) == 0)
        rc = 0;
    for (int i = 0; i < 7; i++)
        free(svc[i]);
    buf_free(&main_cf), buf_free(&master_cf);
    free(main_path), free(master_path);
    return rc;
}

static int write_aliases(const struct init_opts *o, const struct layout *l, char **err)
{
    struct buf b = BUF_INIT;
    buf_printf(&b, "# aliases - aliases(5): \"NAME: TARGET, TARGET ...\"; a line starting with white\n"
                   "# space continues the previous one. NAME is an address of one of our domains,\n"
                   "# a local part (\"root\": in every domain of ours) or \"@domain\" (every unknown\n"
                   "# user of it). Targets: addresses (mailboxes, aliases, remote), \\user,\n"
                   "# \"|command\", /file (mbox), :include:/file (doc/operator.md, \"Aliases\").\n"
                   "# After editing run `posthorn newaliases` (or `posthorn map build %s/aliases`).\n",
               l->etc);
    buf_printf(&b, "#\n# RFC 5321 section 4.5.1 requires postmaster for every domain.\n");
    const char *to = o->user ? o->user : "someone@";
    const char *dom = o->user ? "" : o->domain;
    const char *c = o->user ? "" : "#";
    buf_printf(&b, "%spostmaster@%s: %s%s\n%sabuse@%s: %s%s\n", c, o->domain, to, dom, c,
               o->domain, to, dom);
    char *path = xasprintf("%s/aliases", l->etc);
    int rc = init_file(path, b.data, b.len, 0644, &l->own_self, err);
    buf_free(&b);
    if (rc == 0) {
        struct errlist errs = {0};
        if (map_build(path, &errs) < 0 || errlist_errors(&errs) > 0) {
            *err = xasprintf("%s: %s", path, errs.n ? errs.msgs[0] : "cannot compile");
            rc = -1;
        }
        errlist_free(&errs);
    }
    free(path);
    return rc;
}

static int owner_of(const char *user, struct init_owner *o, char **err)
{
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        *err = xasprintf("unknown user \"%s\"", user);
        return -1;
    }
    *o = (struct init_owner){true, pw->pw_uid, pw->pw_gid};
    return 0;
}

/* Decide who runs the instance; as root create the system users first. */
static int setup_users(struct layout *l, char **err)
{
    if (geteuid() != 0) {
        struct passwd *pw = getpwuid(geteuid());
        if (!pw) {
            *err = xasprintf("uid %ld has no passwd entry", (long)geteuid());
            return -1;
        }
        l->mail_owner = xstrdup(pw->pw_name);
        l->vmail_owner = xstrdup(pw->pw_name);
        l->dkim_owner = xstrdup(pw->pw_name);
        return 0; /* every init_owner stays {apply = false} */
    }
    l->mail_owner = xstrdup("posthorn");
    l->vmail_owner = xstrdup("vmail");
    l->dkim_owner = xstrdup("posthorn-dkim"); /* the default of dkim_owner */
    if (init_system_user(l->mail_owner, err) < 0 || init_system_user(l->vmail_owner, err) < 0 ||
        init_system_user(l->dkim_owner, err) < 0 ||
        owner_of(l->mail_owner, &l->own_mail, err) < 0 || owner_of(l->vmail_owner, &l->own_vmail, err) < 0)
        return -1;
    l->own_shared = (struct init_owner){true, l->own_mail.uid, l->own_vmail.gid};
    l->own_self = (struct init_owner){true, 0, 0};
    return 0;
}

static void plan_layout(const char *dir, struct layout *l)
{
    l->dir = xstrdup(dir);
    l->etc = xasprintf("%s/etc", dir);
    l->tls = xasprintf("%s/etc/tls", dir);
    l->cert = xasprintf("%s/etc/tls/cert.pem", dir);
    l->key = xasprintf("%s/etc/tls/key.pem", dir);
    l->spool = xasprintf("%s/spool", dir);
    l->data = xasprintf("%s/data", dir);
    l->mail = xasprintf("%s/mail", dir);
    l->logdir = xasprintf("%s/log", dir);
    l->logfile = xasprintf("%s/log/posthorn.log", dir);
    l->daemon_dir = init_daemon_dir_guess();
    if (!l->daemon_dir)
        l->daemon_dir = xstrdup(POSTHORN_LIBEXEC_DEFAULT);
}

static int make_dirs(const struct layout *l, char **err)
{
    if (init_dir(l->dir, 0755, &l->own_self, err) < 0 || init_dir(l->etc, 0755, &l->own_self, err) < 0 ||
        init_dir(l->tls, 0755, &l->own_self, err) < 0 || init_dir(l->spool, 0755, &l->own_self, err) < 0 ||
        init_dir(l->data, 0750, &l->own_shared, err) < 0 || init_dir(l->mail, 0750, &l->own_vmail, err) < 0 ||
        init_dir(l->logdir, 0755, &l->own_self, err) < 0)
        return -1;
    struct { const char *name; mode_t mode; const struct init_owner *o; } sub[] = {
        {"private", 0700, &l->own_mail}, {"public", 0755, &l->own_mail}, {"pid", 0755, &l->own_self},
        {"mta-sts", 0700, &l->own_mail}}; /* smtp-client's MTA-STS policy cache */
    for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
        char *p = xasprintf("%s/%s", l->spool, sub[i].name);
        int rc = init_dir(p, sub[i].mode, sub[i].o, err);
        free(p);
        if (rc < 0)
            return -1;
    }
    for (const char *const *q = queue_dirs; *q; q++) {
        char *p = xasprintf("%s/%s", l->spool, *q);
        int rc = init_dir(p, 0700, &l->own_mail, err);
        free(p);
        if (rc < 0)
            return -1;
    }
    mode_t logmode = l->own_shared.apply ? 0660 : 0640;
    return init_file(l->logfile, "", 0, logmode, &l->own_shared, err);
}

/* Load the new main.cf and put the domain (and the first user) in the account database. */
static int make_accounts(const struct init_opts *o, const struct layout *l, char **err)
{
    struct errlist errs = {0};
    struct config *cfg = config_load(l->etc, &errs);
    if (cfg)
        config_validate(cfg, &errs);
    if (!cfg || errlist_errors(&errs) > 0) {
        *err = xasprintf("the new main.cf does not load: %s", errs.n ? errs.msgs[0] : "?");
        errlist_free(&errs);
        config_free(cfg);
        return -1;
    }
    errlist_free(&errs);
    int rc = -1;
    struct accounts *a = accounts_open(cfg, true, err);
    if (a && accounts_domain_add(a, o->domain, err) == 0) {
        struct account_user u = {o->user, "", -1};
        rc = o->user ? accounts_user_put(a, &u, err) : 0;
    }
    if (a)
        accounts_close(a);
    struct owners own;
    char *e2 = NULL;
    if (rc == 0 && owners_get(cfg, &own, &e2) == 0)
        owners_fix_db(&own, config_str(cfg, PARAM(account_database)));
    free(e2);
    config_free(cfg);
    return rc;
}

/* As root the daemons run as other users: every ancestor of DIR must let them pass. */
static void warn_unreachable(const struct layout *l)
{
    if (!l->own_mail.apply)
        return;
    char *copy = xstrdup(l->dir);
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != 0)
            continue;
        char saved = *p;
        *p = 0;
        struct stat st;
        if (stat(copy, &st) == 0 && !(st.st_mode & S_IXOTH))
            printf("WARNING: %s (mode %04o) keeps the users %s and %s out of the instance; "
                   "run chmod o+x %s or choose another DIR\n", copy, (unsigned)(st.st_mode & 07777),
                   l->mail_owner, l->vmail_owner, copy);
        *p = saved;
        if (saved == 0)
            break;
    }
    free(copy);
}

static void print_summary(const struct init_opts *o, const struct layout *l)
{
    char *svc = service(o->listen, 25, o->offset, 0);
    svc[strcspn(svc, " ")] = 0;
    char *pop3 = service(o->listen, 110, o->offset, 0), *pop3s = service(o->listen, 995, o->offset, 0);
    pop3[strcspn(pop3, " ")] = 0;
    pop3s[strcspn(pop3s, " ")] = 0;
    char *imap = service(o->listen, 143, o->offset, 0), *imaps = service(o->listen, 993, o->offset, 0);
    imap[strcspn(imap, " ")] = 0;
    imaps[strcspn(imaps, " ")] = 0;
    char *sub = service(o->listen, 587, o->offset, 0), *subs = service(o->listen, 465, o->offset, 0);
    sub[strcspn(sub, " ")] = 0;
    subs[strcspn(subs, " ")] = 0;
    printf("posthorn: created a new instance in %s\n", l->dir);
    printf("  configuration    %s/main.cf, %s/master.cf, %s/aliases\n", l->etc, l->etc, l->etc);
    printf("  TLS certificate  %s (self-signed for %s), key %s\n", l->cert, o->hostname, l->key);
    printf("  spool            %s\n", l->spool);
    printf("  accounts         %s/accounts.lmdb (domain %s%s%s)\n", l->data, o->domain,
           o->user ? ", user " : "", o->user ? o->user : "");
    printf("  mailboxes        %s\n", l->mail);
    printf("  log              %s\n", l->logfile);
    printf("  daemons          %s\n", l->daemon_dir);
    printf("  SMTP             %s (smtpd)\n", svc);
    printf("  submission       %s (STARTTLS), %s (TLS) (submission)\n", sub, subs);
    printf("  POP3             %s (STLS), %s (TLS) (pop3d, then pop3d-mailbox)\n", pop3, pop3s);
    printf("  IMAP             %s (STARTTLS), %s (TLS) (imapd, then imapd-mailbox)\n", imap, imaps);
    printf("  runs as          %s (mail_owner), %s (vmail_owner), %s (dkim_owner)\n",
           l->mail_owner, l->vmail_owner, l->dkim_owner);
    printf("Next:\n");
    if (o->user)
        printf("  posthorn -c %s user passwd %s\n", l->etc, o->user);
    else
        printf("  posthorn -c %s user add alice@%s\n", l->etc, o->domain);
    printf("  posthorn -c %s start\n", l->etc);
    printf("  (or export POSTHORN_CONFIG=%s and leave out -c)\n", l->etc);
    free(svc);
    free(pop3);
    free(pop3s);
    free(imap);
    free(imaps);
    free(sub);
    free(subs);
}

int cmd_init(struct cli *c, int argc, char **argv)
{
    struct init_opts o = {0};
    parse_opts(argc, argv, &o);
    check_opts(&o);
    char *main_cf = xasprintf("%s/etc/main.cf", o.dir);
    struct stat st;
    if (lstat(main_cf, &st) == 0) {
        cli_err("%s already exists: %s holds an instance", main_cf, o.dir);
        return 1;
    }
    free(main_cf);
    if (mkdir(o.dir, 0755) < 0 && errno != EEXIST) {
        cli_err("%s: %s", o.dir, strerror(errno));
        return 1;
    }
    char *abs = realpath(o.dir, NULL);
    if (!abs) {
        cli_err("%s: %s", o.dir, strerror(errno));
        return 1;
    }
    struct layout l = {0};
    plan_layout(abs, &l);
    char *err = NULL;
    umask(022);
    if (setup_users(&l, &err) < 0 || make_dirs(&l, &err) < 0 ||
        init_make_certificate(o.hostname, l.cert, l.key, &l.own_self, &err) < 0 ||
        write_templates(&o, &l, &err) < 0 || write_aliases(&o, &l, &err) < 0 ||
        make_accounts(&o, &l, &err) < 0) {
        cli_err("init %s: %s", abs, err ? err : "failed");
        cli_err("the instance in %s is incomplete; remove it and run init again", abs);
        free(err);
        return 1;
    }
    print_summary(&o, &l);
    warn_unreachable(&l);
    free(abs);
    return 0;
}
