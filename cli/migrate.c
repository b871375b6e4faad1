/* migrate.c - `posthorn migrate`: the command line, the plan's users and domains, and the
 * order of the steps (doc/migration.md): read everything (Postfix's main.cf and tables,
 * Dovecot's passwd-files), then add domains and users, aliases, set pop3d_uidl_format and mynetworks,
 * and import the Maildirs. --dry-run reads and decides everything and changes nothing.
 * Exit status 0 when nothing was reported, 1 when something was (what could be done is
 * done, and a second run does only what is still missing), 2 for a bad command line. */
#include "migrate.h"
#include "config.h"
#include "mem.h"
#include "pop3_uidl.h"
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define DOVECOT_UIDL_FORMAT "%08Xu%08Xv"

void mig_error(struct migration *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    m->errors++;
}

void mig_warn(struct migration *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    m->warnings++;
}

void mig_say(struct migration *m, const char *fmt, ...)
{
    (void)m;
    va_list ap;
    va_start(ap, fmt);
    fputs("posthorn: ", stdout);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
}

struct mig_user *mig_user(struct migration *m, const char *address, const char *where)
{
    char *addr = idn_input(address), *domain = NULL;
    if (!valid_address(addr, &domain)) {
        mig_error(m, "%s: \"%s\" is not a valid address", where, address);
        free(addr);
        return NULL;
    }
    for (size_t i = 0; i < m->nusers; i++)
        if (strcmp(m->users[i].address, addr) == 0) {
            free(addr);
            return &m->users[i];
        }
    m->users = xreallocarray(m->users, m->nusers + 1, sizeof *m->users);
    struct mig_user *u = &m->users[m->nusers++];
    *u = (struct mig_user){.address = addr, .where = xstrdup(where), .quota = -1};
    return u;
}

void mig_add_domain(struct migration *m, const char *domain, const char *where)
{
    char *d = idn_input(domain);
    if (!valid_domain(d)) {
        mig_error(m, "%s: \"%s\" is not a valid domain name", where, domain);
        free(d);
        return;
    }
    for (size_t i = 0; i < m->ndomains; i++)
        if (strcmp(m->domains[i].key, d) == 0) {
            free(d);
            return;
        }
    m->domains = xreallocarray(m->domains, m->ndomains + 1, sizeof *m->domains);
    m->domains[m->ndomains++] = (struct mig_entry){d, NULL, xstrdup(where)};
}

/* Users in a domain no source listed: Postfix never took mail for them, but they exist
 * in Dovecot, so the domain is added (and said). */
static void domains_of_users(struct migration *m)
{
    for (size_t i = 0; i < m->nusers; i++) {
        const char *d = strchr(m->users[i].address, '@') + 1;
        bool known = false;
        for (size_t j = 0; j < m->ndomains && !known; j++)
            known = strcmp(m->domains[j].key, d) == 0;
        if (!known && !m->users[i].bad) {
            mig_warn(m, "%s: %s: its domain is in no virtual_mailbox_domains source: added too",
                     m->users[i].where, m->users[i].address);
            mig_add_domain(m, d, m->users[i].where);
        }
    }
}

/* pop3d_uidl_format: what Dovecot served, unless --keep-uidl-format. */
static void set_uidl_format(struct migration *m)
{
    struct config *cfg = cli_config(m->c);
    const char *now = config_str(cfg, PARAM(pop3d_uidl_format));
    if (m->keep_uidl_format || strcmp(now, m->uidl_format) == 0)
        return;
    if (m->had_users)
        mig_warn(m, "pop3d_uidl_format %s -> %s: POP3 clients of the users who were here before "
                    "see new UIDLs and fetch their mail again (--keep-uidl-format keeps it)",
                 now, m->uidl_format);
    char *path = xasprintf("%s/main.cf", m->c->confdir);
    char *err = m->dry_run ? NULL : config_edit_file(path, PARAM(pop3d_uidl_format), m->uidl_format);
    if (err)
        mig_error(m, "%s: %s", path, err);
    else
        mig_say(m, "%s pop3d_uidl_format = %s in %s (was %s; posthorn reload)",
                m->dry_run ? "would set" : "set", m->uidl_format, path, now);
    free(err);
    free(path);
}

static void parse_options(struct migration *m, int argc, char **argv)
{
    static const struct option opts[] = {
        {"dry-run", no_argument, NULL, 'n'},         {"postfix", required_argument, NULL, 'P'},
        {"passwd-file", required_argument, NULL, 'p'}, {"passwd-domain", required_argument, NULL, 'D'},
        {"default-scheme", required_argument, NULL, 's'}, {"mail-location", required_argument, NULL, 'l'},
        {"domains", required_argument, NULL, 'd'},    {"mailbox-maps", required_argument, NULL, 'm'},
        {"alias-maps", required_argument, NULL, 'a'}, {"mailbox-base", required_argument, NULL, 'b'},
        {"pop3-uidl-format", required_argument, NULL, 'u'},
        {"keep-uidl-format", no_argument, NULL, 'k'}, {"no-mail", no_argument, NULL, 'M'},
        {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "n", opts, NULL)) != -1) {
        switch (opt) {
        case 'n': m->dry_run = true; break;
        case 'P': m->postfix_dir = optarg; break;
        case 'p':
            m->passwd_files = xreallocarray(m->passwd_files, m->npasswd + 1, sizeof *m->passwd_files);
            m->passwd_files[m->npasswd++] = optarg;
            break;
        case 'D': m->passwd_domain = optarg; break;
        case 's': m->default_scheme = optarg; break;
        case 'l': m->mail_location = optarg; break;
        case 'd': m->domains_spec = xstrdup(optarg); break;
        case 'm': m->mailbox_maps_spec = xstrdup(optarg); break;
        case 'a': m->alias_maps_spec = xstrdup(optarg); break;
        case 'b': m->mailbox_base = xstrdup(optarg); break;
        case 'u': m->uidl_format = optarg; break;
        case 'k': m->keep_uidl_format = true; break;
        case 'M': m->no_mail = true; break;
        default: cli_usage(NULL);
        }
    }
    if (optind != argc)
        cli_usage("migrate takes no arguments besides its options");
    if (!m->postfix_dir && !m->npasswd && !m->mailbox_maps_spec && !m->domains_spec && !m->alias_maps_spec)
        cli_usage("migrate: nothing to read (--postfix DIR, --passwd-file FILE, or the tables)");
    const char *why = pop3_uidl_check(m->uidl_format);
    if (why)
        cli_usage("migrate: --pop3-uidl-format %s: %s", m->uidl_format, why);
}

static void free_plan(struct migration *m)
{
    for (size_t i = 0; i < m->nusers; i++) {
        struct mig_user *u = &m->users[i];
        if (u->plain)
            explicit_bzero(u->plain, strlen(u->plain));
        free(u->address), free(u->where), free(u->hash), free(u->plain);
        free(u->home), free(u->location), free(u->mapped);
    }
    for (size_t i = 0; i < m->ndomains; i++)
        free(m->domains[i].key), free(m->domains[i].where);
    for (size_t i = 0; i < m->naliases; i++)
        free(m->aliases[i].key), free(m->aliases[i].value), free(m->aliases[i].where);
    free(m->users), free(m->domains), free(m->aliases), free(m->passwd_files);
    free(m->domains_spec), free(m->mailbox_maps_spec), free(m->alias_maps_spec), free(m->mailbox_base);
    free(m->pf_mynetworks);
}

int cmd_migrate(struct cli *c, int argc, char **argv)
{
    struct migration m = {.c = c, .uidl_format = DOVECOT_UIDL_FORMAT, .default_scheme = "CRYPT"};
    parse_options(&m, argc, argv);
    cli_config(c);
    cli_log_open(c, "admin");
    if (mig_read_postfix(&m) == 0) {
        mig_read_tables(&m);
        mig_read_passwd(&m);
        domains_of_users(&m);
        mig_apply_accounts(&m);
        mig_apply_aliases(&m);
        set_uidl_format(&m);
        mig_apply_mynetworks(&m);
        if (!m.no_mail)
            mig_apply_mail(&m);
    }
    mig_say(&m, "migration %s: %u error%s, %u warning%s", m.dry_run ? "checked (dry run)" : "done",
            m.errors, m.errors == 1 ? "" : "s", m.warnings, m.warnings == 1 ? "" : "s");
    free_plan(&m);
    return m.errors ? 1 : 0;
}
