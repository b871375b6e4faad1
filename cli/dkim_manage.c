/* dkim_manage.c - `posthorn dkim list [DOMAIN] [--json]` and the state changes of a key
 * (doc/dkim.md, "Rotation"): `activate DOMAIN SELECTOR` (pending or retired -> active: it
 * signs), `retire DOMAIN SELECTOR` (-> retired: it no longer signs; keep its DNS record
 * until mail it signed has been delivered), `delete DOMAIN SELECTOR` (a retired key only).
 * Each change is one rename in the key directory and moves the directory's mtime, which
 * running signers check before every message. */
#include "dkim.h"
#include "fileio.h"
#include "log.h"
#include "mem.h"
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void list_json(const struct dkim_keylist *l)
{
    printf("[");
    for (size_t i = 0; i < l->n; i++) {
        const struct dkim_keyfile *k = &l->v[i];
        struct buf rec = BUF_INIT;
        const char *type = "?";
        unsigned bits = 0;
        bool ok = dkim_key_describe(k, &rec, &type, &bits) == 0;
        char *name = dkim_record_name(k->domain, k->selector);
        printf("%s\n  {\"domain\": ", i ? "," : "");
        json_string(stdout, k->domain);
        printf(", \"selector\": ");
        json_string(stdout, k->selector);
        printf(", \"state\": \"%s\", \"type\": \"%s\", \"bits\": %u, \"created\": %lld, \"dns_name\": ",
               dkim_key_state_name(k->state), type, bits, (long long)k->mtime);
        json_string(stdout, name);
        printf(", \"record\": ");
        json_string(stdout, ok ? buf_cstr(&rec) : "");
        printf("}");
        buf_free(&rec);
        free(name);
    }
    printf("%s]\n", l->n ? "\n" : "");
}

static void list_text(const struct dkim_keylist *l)
{
    printf("%-30s %-24s %-8s %5s %-8s %s\n", "DOMAIN", "SELECTOR", "TYPE", "BITS", "STATE", "CREATED");
    for (size_t i = 0; i < l->n; i++) {
        const struct dkim_keyfile *k = &l->v[i];
        struct buf rec = BUF_INIT;
        const char *type = "?";
        unsigned bits = 0;
        dkim_key_describe(k, &rec, &type, &bits);
        char when[32];
        struct tm tm;
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime_r(&k->mtime, &tm));
        printf("%-30s %-24s %-8s %5u %-8s %s\n", k->domain, k->selector, type, bits,
               dkim_key_state_name(k->state), when);
        buf_free(&rec);
    }
}

int dkim_cmd_list(struct cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    bool json = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt != 'j')
            cli_usage(NULL);
        json = true;
    }
    if (optind < argc - 1)
        cli_usage("dkim list takes at most one domain");
    char *domain = optind < argc ? dkim_domain_arg(argv[optind]) : NULL;
    if (optind < argc && !domain)
        return 1;
    struct dkim_keylist l;
    if (dkim_keys_of(c, domain, &l) < 0)
        return 1;
    if (json)
        list_json(&l);
    else
        list_text(&l);
    dkim_keylist_free(&l);
    free(domain);
    return 0;
}

static struct dkim_keyfile *find_key(struct dkim_keylist *l, const char *selector)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].selector, selector) == 0)
            return &l->v[i];
    return NULL;
}

/* Remove a retired key for good (its file, then the directory's stamp). */
static int delete_key(struct cli *c, struct dkim_keyfile *k)
{
    const char *dir = config_str(cli_config(c), PARAM(dkim_key_directory));
    if (k->state != DKIM_KEY_RETIRED) {
        cli_err("%s %s is %s: retire it first (posthorn dkim retire %s %s)", k->domain,
                k->selector, dkim_key_state_name(k->state), k->domain, k->selector);
        return -1;
    }
    if (unlink(k->path) < 0 || fsync_parent(k->path) < 0 || dkim_keydir_touch(dir) < 0) {
        cli_err("%s: %s", k->path, strerror(errno));
        return -1;
    }
    return 0;
}

static int change(struct cli *c, const char *op, struct dkim_keyfile *k)
{
    const char *dir = config_str(cli_config(c), PARAM(dkim_key_directory));
    enum dkim_key_state to = strcmp(op, "activate") == 0 ? DKIM_KEY_ACTIVE : DKIM_KEY_RETIRED;
    char *err = NULL;
    if (strcmp(op, "delete") == 0)
        return delete_key(c, k);
    if (k->state == to) {
        cli_err("%s %s is %s already", k->domain, k->selector, dkim_key_state_name(to));
        return -1;
    }
    if (dkim_keydir_set_state(dir, k, to, &err) < 0) {
        cli_err("%s", err);
        free(err);
        return -1;
    }
    return 0;
}

int dkim_cmd_state(struct cli *c, int argc, char **argv)
{
    const char *op = argv[0];
    if (argc != 3)
        cli_usage("dkim %s needs a domain and a selector", op);
    char *domain = dkim_domain_arg(argv[1]);
    if (!domain)
        return 1;
    struct dkim_keylist l;
    if (dkim_keys_of(c, domain, &l) < 0) {
        free(domain);
        return 1;
    }
    struct dkim_keyfile *k = find_key(&l, argv[2]);
    int rc = 1;
    if (!k)
        cli_err("%s has no key with selector %s (posthorn dkim list %s)", domain, argv[2], domain);
    else if (change(c, op, k) == 0) {
        cli_log_open(c, "dkim");
        log_info("dkim: %s %s: %s", domain, argv[2], strcmp(op, "delete") == 0 ? "deleted" :
                 dkim_key_state_name(k->state));
        printf("posthorn: %s %s: %s\n", domain, argv[2],
               strcmp(op, "delete") == 0 ? "deleted" : dkim_key_state_name(k->state));
        rc = 0;
    }
    dkim_keylist_free(&l);
    free(domain);
    return rc;
}
