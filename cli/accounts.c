/* accounts.c - `posthorn user ...` and `posthorn domain ...`: the virtual mailbox users and
 * domains in the account database (lib/global/accounts.h). Addresses are lowercased; a user's
 * domain must be one of ours. Passwords are hashed with lib/global/password.h and never printed
 * or logged. Mailboxes on disk are left alone when a user or domain is deleted. */
#include "cli.h"
#include "accounts.h"
#include "log.h"
#include "mem.h"
#include "password.h"
#include <bsd/string.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

struct db {
    struct cli *c;
    struct accounts *a;
    struct owners own;
};

static int db_open(struct cli *c, struct db *d, bool writable)
{
    d->c = c;
    char *err = NULL;
    struct config *cfg = cli_config(c);
    if (owners_get(cfg, &d->own, &err) < 0 ||
        (d->a = accounts_open(cfg, writable, &err)) == NULL) {
        cli_err("%s: %s", config_str(cfg, PARAM(account_database)), err ? err : "cannot open");
        free(err);
        return -1;
    }
    if (writable)
        cli_log_open(c, "admin");
    return 0;
}

static void db_close(struct db *d)
{
    accounts_close(d->a);
    owners_fix_db(&d->own, config_str(cli_config(d->c), PARAM(account_database)));
}

/* Parse a quota: "default" (-1: virtual_mailbox_quota), "unlimited" (0) or a size. */
static bool parse_quota(const char *s, long long *q)
{
    if (strcmp(s, "default") == 0)
        return *q = -1, true;
    if (strcmp(s, "unlimited") == 0)
        return *q = 0, true;
    return config_parse_size(s, q);
}

/* Check ADDR and that its domain is ours; returns the lowercased copy or NULL. */
static char *our_address(struct db *d, const char *arg)
{
    char *addr = idn_input(arg), *domain;
    if (!valid_address(addr, &domain)) {
        cli_err("\"%s\" is not a valid address (local@domain)", arg);
        free(addr);
        return NULL;
    }
    int r = accounts_domain_exists(d->a, domain);
    if (r != 1) {
        if (r == 0)
            cli_err("%s is not one of our domains (posthorn domain add %s)", domain, domain);
        else
            cli_err("cannot read the account database");
        free(addr);
        return NULL;
    }
    return addr;
}

static char *new_hash(struct cli *c, bool from_stdin)
{
    char *plain = read_new_password(from_stdin);
    if (!plain)
        return NULL;
    char *err = NULL;
    struct password_cost cost = password_cost_of(cli_config(c));
    char *hash = password_hash(plain, &cost, &err);
    explicit_bzero(plain, strlen(plain));
    free(plain);
    if (!hash) {
        cli_err("cannot hash the password: %s", err ? err : "?");
        free(err);
    }
    return hash;
}

static int put_user(struct db *d, struct account_user *u, const char *what)
{
    char *err = NULL;
    int rc = accounts_user_put(d->a, u, &err);
    if (rc < 0) {
        cli_err("%s: %s", u->address, err ? err : "cannot write");
        free(err);
        return 1;
    }
    log_info("user %s: %s", u->address, what);
    return 0;
}

struct user_args {
    const char *addr;
    const char *quota;
    bool password_stdin;
    bool json;
    bool force;
};

/* Options shared by the user and domain subcommands; positional words go to pos[]. */
static int parse_args(int argc, char **argv, struct user_args *ua, const char **pos, int maxpos)
{
    static const struct option longopts[] = {{"password-stdin", no_argument, NULL, 'p'},
                                             {"quota", required_argument, NULL, 'q'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"force", no_argument, NULL, 'f'},
                                             {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'p': ua->password_stdin = true; break;
        case 'q': ua->quota = optarg; break;
        case 'j': ua->json = true; break;
        case 'f': ua->force = true; break;
        default: cli_usage(NULL);
        }
    }
    int n = argc - optind;
    if (n > maxpos)
        cli_usage("%s: too many arguments", argv[0]);
    for (int i = 0; i < n; i++)
        pos[i] = argv[optind + i];
    return n;
}

static int user_add(struct db *d, const struct user_args *ua)
{
    long long quota = -1;
    if (ua->quota && !parse_quota(ua->quota, &quota)) {
        cli_err("bad quota \"%s\" (a size like 500m or 2g, \"default\" or \"unlimited\")", ua->quota);
        return 1;
    }
    char *addr = our_address(d, ua->addr);
    if (!addr)
        return 1;
    struct account_user old = {0};
    char *err = NULL;
    int r = accounts_user_get(d->a, addr, &old, &err);
    if (r != 0) {
        cli_err("%s: %s", addr, r == 1 ? "user exists already" : err ? err : "lookup failed");
        if (r == 1)
            account_user_free(&old);
        free(err), free(addr);
        return 1;
    }
    char *hash = new_hash(d->c, ua->password_stdin);
    int rc = 1;
    if (hash) {
        struct account_user u = {addr, hash, quota};
        rc = put_user(d, &u, "added");
        if (rc == 0)
            printf("posthorn: added user %s\n", addr);
        explicit_bzero(hash, strlen(hash));
        free(hash);
    }
    free(addr);
    return rc;
}

/* Load an existing user for passwd/quota/del; 1 found, else prints why. */
static int user_load(struct db *d, const char *arg, struct account_user *u)
{
    char *addr = idn_input(arg);
    if (!valid_address(addr, NULL)) {
        cli_err("\"%s\" is not a valid address (local@domain)", arg);
        free(addr);
        return 0;
    }
    char *err = NULL;
    int r = accounts_user_get(d->a, addr, u, &err);
    if (r != 1)
        cli_err("%s: %s", addr, r == 0 ? "no such user" : err ? err : "lookup failed");
    free(err);
    free(addr);
    return r == 1;
}

static int user_change(struct db *d, const struct user_args *ua, const char *op)
{
    struct account_user u = {0};
    if (!user_load(d, ua->addr, &u))
        return 1;
    int rc = 1;
    if (strcmp(op, "passwd") == 0) {
        char *hash = new_hash(d->c, ua->password_stdin);
        if (hash) {
            char *old = u.password_hash;
            u.password_hash = hash;
            rc = put_user(d, &u, "password changed");
            u.password_hash = old;
            explicit_bzero(hash, strlen(hash));
            free(hash);
        }
    } else if (!parse_quota(ua->quota, &u.quota)) {
        cli_err("bad quota \"%s\" (a size like 500m or 2g, \"default\" or \"unlimited\")", ua->quota);
    } else {
        rc = put_user(d, &u, "quota changed");
    }
    if (rc == 0)
        printf("posthorn: %s: %s\n", u.address, strcmp(op, "passwd") == 0 ? "password changed" : "quota changed");
    account_user_free(&u);
    return rc;
}

static int user_del(struct db *d, const struct user_args *ua)
{
    struct account_user u = {0};
    if (!user_load(d, ua->addr, &u))
        return 1;
    char *err = NULL;
    int rc = 0;
    if (accounts_user_del(d->a, u.address, &err) < 0) {
        cli_err("%s: %s", u.address, err ? err : "cannot delete");
        rc = 1;
    } else {
        log_info("user %s: deleted", u.address);
        printf("posthorn: deleted user %s (the mailbox in %s is kept)\n", u.address,
               config_str(cli_config(d->c), PARAM(virtual_mailbox_base)));
    }
    free(err);
    account_user_free(&u);
    return rc;
}

struct lister {
    struct config *cfg;
    bool json;
    size_t n;
    const char *domain; /* collect users of this domain into addrs */
    char **addrs;
};

static void quota_text(char *out, size_t len, long long q)
{
    if (q < 0)
        snprintf(out, len, "default");
    else if (q == 0)
        snprintf(out, len, "unlimited");
    else
        snprintf(out, len, "%lld", q);
}

static int list_user(void *ctx, const struct account_user *u)
{
    struct lister *l = ctx;
    long long eff = accounts_user_quota(l->cfg, u);
    bool login = u->password_hash && *u->password_hash;
    if (l->json) {
        printf("%s\n  {\"address\": ", l->n ? "," : "");
        json_string(stdout, u->address);
        printf(", \"quota\": %lld, \"effective_quota\": %lld, \"login\": %s}", u->quota, eff,
               login ? "true" : "false");
    } else {
        char q[32], e[32];
        quota_text(q, sizeof q, u->quota);
        quota_text(e, sizeof e, eff);
        printf("%-40s quota %s%s%s%s%s\n", u->address, q, u->quota < 0 ? " (" : "",
               u->quota < 0 ? e : "", u->quota < 0 ? ")" : "", login ? "" : "  login disabled");
    }
    l->n++;
    return 0;
}

static int list_domain(void *ctx, const char *domain)
{
    struct lister *l = ctx;
    if (l->json) {
        printf("%s\n  ", l->n ? "," : "");
        json_string(stdout, domain);
    } else {
        printf("%s\n", domain);
    }
    l->n++;
    return 0;
}

static int collect_user(void *ctx, const struct account_user *u)
{
    struct lister *l = ctx;
    const char *at = strrchr(u->address, '@');
    if (at && strcmp(at + 1, l->domain) == 0) {
        l->addrs = xreallocarray(l->addrs, l->n + 1, sizeof *l->addrs);
        l->addrs[l->n++] = xstrdup(u->address);
    }
    return 0;
}

static int run_list(struct db *d, bool json, bool users)
{
    struct lister l = {.cfg = cli_config(d->c), .json = json};
    if (json)
        printf("[");
    int r = users ? accounts_user_list(d->a, list_user, &l) : accounts_domain_list(d->a, list_domain, &l);
    if (json)
        printf("%s]\n", l.n ? "\n" : "");
    if (r < 0) {
        cli_err("cannot read the account database");
        return 1;
    }
    return 0;
}

int cmd_user(struct cli *c, int argc, char **argv)
{
    if (argc < 2)
        cli_usage("user needs a subcommand: add, del, passwd, quota, list");
    const char *op = argv[1];
    struct user_args ua = {0};
    const char *pos[2] = {NULL, NULL};
    int n = parse_args(argc - 1, argv + 1, &ua, pos, 2);
    bool list = strcmp(op, "list") == 0, quota = strcmp(op, "quota") == 0;
    if (!list && !quota && strcmp(op, "add") && strcmp(op, "del") && strcmp(op, "passwd"))
        cli_usage("unknown user subcommand \"%s\"", op);
    if (n != (list ? 0 : quota ? 2 : 1))
        cli_usage("user %s: wrong number of arguments", op);
    ua.addr = pos[0];
    if (quota)
        ua.quota = pos[1];
    struct db d;
    if (db_open(c, &d, !list) < 0)
        return 1;
    int rc = list ? run_list(&d, ua.json, true)
           : strcmp(op, "add") == 0 ? user_add(&d, &ua)
           : strcmp(op, "del") == 0 ? user_del(&d, &ua)
           : user_change(&d, &ua, op);
    db_close(&d);
    return rc;
}

static int domain_del(struct db *d, char *domain, bool force)
{
    struct lister l = {.domain = domain};
    if (accounts_user_list(d->a, collect_user, &l) < 0) {
        cli_err("cannot read the account database");
        return 1;
    }
    int rc = 0;
    if (l.n && !force) {
        cli_err("%s still has %zu user%s (delete them first, or use --force to delete them too)",
                domain, l.n, l.n == 1 ? "" : "s");
        rc = 1;
    }
    char *err = NULL;
    for (size_t i = 0; i < l.n; i++) {
        if (rc == 0 && accounts_user_del(d->a, l.addrs[i], &err) < 0) {
            cli_err("%s: %s", l.addrs[i], err ? err : "cannot delete");
            rc = 1;
        } else if (rc == 0) {
            log_info("user %s: deleted", l.addrs[i]);
        }
        free(l.addrs[i]);
    }
    free(l.addrs);
    if (rc == 0 && accounts_domain_del(d->a, domain, &err) < 0) {
        cli_err("%s: %s", domain, err ? err : "cannot delete");
        rc = 1;
    }
    if (rc == 0) {
        log_info("domain %s: deleted", domain);
        printf("posthorn: deleted domain %s%s\n", domain, l.n ? " and its users" : "");
    }
    free(err);
    return rc;
}

int cmd_domain(struct cli *c, int argc, char **argv)
{
    if (argc < 2)
        cli_usage("domain needs a subcommand: add, del, list");
    const char *op = argv[1];
    struct user_args ua = {0};
    const char *pos[1] = {NULL};
    int n = parse_args(argc - 1, argv + 1, &ua, pos, 1);
    bool list = strcmp(op, "list") == 0;
    if (!list && strcmp(op, "add") && strcmp(op, "del"))
        cli_usage("unknown domain subcommand \"%s\"", op);
    if (n != (list ? 0 : 1))
        cli_usage("domain %s: wrong number of arguments", op);
    char *domain = pos[0] ? idn_input(pos[0]) : NULL;
    if (domain && !valid_domain(domain)) {
        cli_err("\"%s\" is not a valid domain name", pos[0]);
        return 1;
    }
    struct db d;
    if (db_open(c, &d, !list) < 0)
        return 1;
    int rc = 0;
    char *err = NULL;
    if (list) {
        rc = run_list(&d, ua.json, false);
    } else if (strcmp(op, "del") == 0) {
        rc = domain_del(&d, domain, ua.force);
    } else if (accounts_domain_exists(d.a, domain) == 1) {
        cli_err("%s is already one of our domains", domain);
        rc = 1;
    } else if (accounts_domain_add(d.a, domain, &err) < 0) {
        cli_err("%s: %s", domain, err ? err : "cannot add");
        rc = 1;
    } else {
        log_info("domain %s: added", domain);
        printf("posthorn: added domain %s\n", domain);
        if (!*config_str(cli_config(c), PARAM(postmaster_recipient)))
            printf("posthorn: remember postmaster@%s (RFC 5321 sec 4.5.1): an alias, a user, or "
                   "postmaster_recipient\n", domain);
    }
    free(err);
    free(domain);
    db_close(&d);
    return rc;
}
