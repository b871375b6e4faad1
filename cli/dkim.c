/* dkim.c - `posthorn dkim keygen DOMAIN [--selector S] [--type rsa|ed25519] [--bits N]
 * [--pending]` and the dispatch of `posthorn dkim` (doc/dkim.md). keygen writes
 * dkim_key_directory/DOMAIN/SELECTOR.STATE.key (0600, owned by dkim_owner; the directories
 * 0700) and prints the public key's DNS record in zone-file form on standard output,
 * explanations as zone comments, so the output can be pasted into a zone as it is. A new
 * key is active (it signs) unless the domain already has an active key of its type or
 * --pending is given: then it waits for `posthorn dkim activate` (rotation, doc/dkim.md). */
#include "dkim.h"
#include "dkim_key.h"
#include "fileio.h"
#include "init.h"
#include "log.h"
#include "mem.h"
#include "privs.h"
#include "zone.h"
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct keygen_opts {
    char *domain;
    const char *selector;
    enum dkim_alg alg;
    unsigned bits;
    bool pending;
};

char *dkim_record_name(const char *domain, const char *selector)
{
    return xasprintf("%s._domainkey.%s", selector, domain);
}

char *dkim_domain_arg(const char *arg)
{
    char *d = idn_input(arg);
    if (!valid_domain(d)) {
        cli_err("\"%s\" is not a valid domain name", arg);
        free(d);
        return NULL;
    }
    return d;
}

int dkim_keys_of(struct cli *c, const char *domain, struct dkim_keylist *l)
{
    char *err = NULL;
    if (dkim_keydir_scan(config_str(cli_config(c), PARAM(dkim_key_directory)), domain, l, &err) == 0)
        return 0;
    cli_err("%s", err);
    free(err);
    return -1;
}

int dkim_key_describe(const struct dkim_keyfile *k, struct buf *record, const char **type,
                      unsigned *bits)
{
    char *err = NULL;
    struct dkim_key *key = dkim_key_load(k->path, &err);
    if (!key || dkim_key_record(key, record, &err) < 0) {
        cli_err("%s", err);
        free(err);
        dkim_key_free(key);
        return -1;
    }
    *type = dkim_alg_type(dkim_key_alg(key));
    *bits = dkim_key_bits(key);
    dkim_key_free(key);
    return 0;
}

static void parse_keygen(int argc, char **argv, struct keygen_opts *o)
{
    static const struct option longopts[] = {
        {"selector", required_argument, NULL, 's'}, {"type", required_argument, NULL, 't'},
        {"bits", required_argument, NULL, 'b'},     {"pending", no_argument, NULL, 'p'},
        {NULL, 0, NULL, 0}};
    *o = (struct keygen_opts){.alg = DKIM_RSA_SHA256, .bits = DKIM_RSA_BITS_DEFAULT};
    bool bits_given = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 's': o->selector = optarg; break;
        case 'p': o->pending = true; break;
        case 't':
            if (!dkim_alg_from_type(optarg, &o->alg))
                cli_usage("--type is rsa or ed25519");
            break;
        case 'b': {
            char *end;
            long b = strtol(optarg, &end, 10);
            if (*end || b < DKIM_RSA_BITS_MIN || b > DKIM_RSA_BITS_MAX)
                cli_usage("--bits must be from %d to %d", DKIM_RSA_BITS_MIN, DKIM_RSA_BITS_MAX);
            o->bits = (unsigned)b;
            bits_given = true;
            break;
        }
        default: cli_usage(NULL);
        }
    }
    if (optind != argc - 1)
        cli_usage("dkim keygen needs exactly one domain");
    if (bits_given && o->alg != DKIM_RSA_SHA256)
        cli_usage("--bits is for RSA keys only");
    if (o->selector && !dkim_selector_valid(o->selector))
        cli_usage("--selector \"%s\": letters, digits and '-' in dot-separated labels, in lower "
                  "case, at most %d characters", o->selector, DKIM_SELECTOR_MAX);
    if (!(o->domain = dkim_domain_arg(argv[optind])))
        exit(1);
}

static bool selector_taken(const struct dkim_keylist *l, const char *selector)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].selector, selector) == 0)
            return true;
    return false;
}

/* TYPE-YYYYMMDD, with -2, -3 ... when that is taken (a second key on the same day). */
static char *default_selector(const struct dkim_keylist *l, enum dkim_alg alg)
{
    char date[16];
    time_t now = time(NULL);
    struct tm tm;
    strftime(date, sizeof date, "%Y%m%d", gmtime_r(&now, &tm));
    char *s = xasprintf("%s-%s", dkim_alg_type(alg), date);
    for (int n = 2; selector_taken(l, s); n++) {
        free(s);
        s = xasprintf("%s-%s-%d", dkim_alg_type(alg), date, n);
    }
    return s;
}

/* Does the domain have an active key of this algorithm already? Loads each active key. */
static bool has_active(const struct dkim_keylist *l, enum dkim_alg alg)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].state != DKIM_KEY_ACTIVE)
            continue;
        char *err = NULL;
        struct dkim_key *k = dkim_key_load(l->v[i].path, &err);
        bool same = k && dkim_key_alg(k) == alg;
        dkim_key_free(k);
        free(err);
        if (same)
            return true;
    }
    return false;
}

/* The owner of the keys: dkim_owner when we run as root, else ourselves (apply false). */
static int key_owner(struct cli *c, struct init_owner *o)
{
    *o = (struct init_owner){false, 0, 0};
    if (!privs_is_root())
        return 0;
    char *err = NULL;
    if (privs_lookup(config_str(cli_config(c), PARAM(dkim_owner)), &o->uid, &o->gid, &err) < 0) {
        cli_err("dkim_owner: %s", err);
        free(err);
        return -1;
    }
    o->apply = true;
    return 0;
}

/* Write the key file (and its directories); -1 printed. */
static int write_key(struct cli *c, const struct keygen_opts *o, const char *selector,
                     enum dkim_key_state st, const struct dkim_key *key)
{
    const char *dir = config_str(cli_config(c), PARAM(dkim_key_directory));
    struct init_owner own;
    struct buf pem = BUF_INIT;
    char *err = NULL, *ddir = xasprintf("%s/%s", dir, o->domain);
    char *path = dkim_keyfile_path(dir, o->domain, selector, st);
    int rc = -1;
    if (key_owner(c, &own) == 0 && init_dir(dir, 0700, &own, &err) == 0 &&
        init_dir(ddir, 0700, &own, &err) == 0 && dkim_key_pem(key, &pem, &err) == 0 &&
        init_file(path, pem.data, pem.len, 0600, &own, &err) == 0) {
        rc = fsync_parent(path) == 0 && dkim_keydir_touch(dir) == 0 ? 0 : -1;
        if (rc < 0)
            err = xasprintf("%s: %s", path, strerror(errno));
    }
    if (rc < 0)
        cli_err("%s", err ? err : "cannot write the key");
    if (pem.data)
        explicit_bzero(pem.data, pem.len);
    buf_free(&pem);
    free(err), free(ddir), free(path);
    return rc;
}

static void print_record(const struct keygen_opts *o, const char *selector, enum dkim_key_state st,
                         const struct dkim_key *key, const struct buf *record)
{
    struct buf out = BUF_INIT;
    char *name = dkim_record_name(o->domain, selector);
    buf_printf(&out, "; DKIM key for %s: selector %s, %s", o->domain, selector,
               dkim_alg_type(o->alg));
    if (o->alg == DKIM_RSA_SHA256)
        buf_printf(&out, " %u bits", dkim_key_bits(key));
    buf_printf(&out, ", %s\n", dkim_key_state_name(st));
    if (st == DKIM_KEY_ACTIVE)
        buf_printf(&out, "; it signs mail from %s now: publish this record at once\n", o->domain);
    else
        buf_printf(&out, "; publish this record, wait until it is visible, then run:\n"
                         ";   posthorn dkim activate %s %s\n", o->domain, selector);
    zone_txt(&out, "", name, record->data);
    fwrite(out.data, 1, out.len, stdout);
    buf_free(&out);
    free(name);
}

static int cmd_keygen(struct cli *c, int argc, char **argv)
{
    struct keygen_opts o;
    parse_keygen(argc, argv, &o);
    struct dkim_keylist l;
    if (dkim_keys_of(c, o.domain, &l) < 0)
        return 1;
    char *selector = o.selector ? xstrdup(o.selector) : default_selector(&l, o.alg);
    int rc = 1;
    char *err = NULL;
    struct dkim_key *key = NULL;
    struct buf record = BUF_INIT;
    enum dkim_key_state st = o.pending || has_active(&l, o.alg) ? DKIM_KEY_PENDING : DKIM_KEY_ACTIVE;
    if (selector_taken(&l, selector))
        cli_err("%s already has a key with selector %s", o.domain, selector);
    else if (!(key = dkim_key_generate(o.alg, o.bits, &err)) || dkim_key_record(key, &record, &err) < 0)
        cli_err("%s", err);
    else if (write_key(c, &o, selector, st, key) == 0) {
        cli_log_open(c, "dkim");
        log_info("dkim: new %s key for %s, selector %s, %s", dkim_alg_type(o.alg), o.domain,
                 selector, dkim_key_state_name(st));
        print_record(&o, selector, st, key, &record);
        rc = 0;
    }
    buf_free(&record);
    dkim_key_free(key);
    dkim_keylist_free(&l);
    free(err), free(selector), free(o.domain);
    return rc;
}

int cmd_dkim(struct cli *c, int argc, char **argv)
{
    if (argc < 2)
        cli_usage("dkim needs a subcommand: keygen, list, activate, retire, delete");
    const char *op = argv[1];
    optind = 0; /* the subcommand parses its options afresh (0 re-initialises GNU getopt) */
    if (strcmp(op, "keygen") == 0)
        return cmd_keygen(c, argc - 1, argv + 1);
    if (strcmp(op, "list") == 0)
        return dkim_cmd_list(c, argc - 1, argv + 1);
    if (strcmp(op, "activate") == 0 || strcmp(op, "retire") == 0 || strcmp(op, "delete") == 0)
        return dkim_cmd_state(c, argc - 1, argv + 1);
    cli_usage("unknown dkim subcommand \"%s\"", op);
}
