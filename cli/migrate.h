/* migrate.h - `posthorn migrate` (doc/migration.md): a Postfix + Dovecot host's users,
 * domains, aliases and mail imported into this instance. What the parts share: the plan
 * read from the sources (migrate_sources.c: Postfix's main.cf and text tables;
 * migrate_passwd.c: Dovecot's passwd-file and mail_location), and the steps that apply it
 * (migrate_accounts.c: domains, users, aliases; migrate_mynetworks.c: the clients Postfix
 * let relay; migrate_mail.c: the Maildirs). Every
 * problem is printed as "file:line: reason" (or "path: reason") and counted; what can be
 * done is done, so a run can be repeated until nothing is reported. */
#ifndef POSTHORN_CLI_MIGRATE_H
#define POSTHORN_CLI_MIGRATE_H
#include "cli.h"
#include <stdbool.h>
#include <stddef.h>

struct mig_user {
    char *address;   /* lowercased, domain in A-labels */
    char *where;     /* "file:line" it was first read from */
    char *hash;      /* "{SCHEME}..." to store, "" login disabled, NULL: from no passwd-file */
    char *plain;     /* a {PLAIN} password, hashed when the user is added */
    char *home;      /* passwd-file home, or NULL */
    char *location;  /* its own mail_location (userdb_mail), or NULL */
    char *mapped;    /* Maildir from virtual_mailbox_maps (absolute), or NULL */
    long long quota; /* -1: virtual_mailbox_quota */
    bool bad;        /* reported: not imported */
};

struct mig_entry { /* a domain or an alias */
    char *key, *value, *where;
};

struct migration {
    struct cli *c;
    bool dry_run, no_mail, keep_uidl_format;
    const char *uidl_format;      /* pop3d_uidl_format to set */
    const char *mail_location;    /* Dovecot's mail_location, for users without their own */
    const char *passwd_domain;    /* the domain of bare names in passwd-files */
    const char *default_scheme;   /* of passwords without {SCHEME} */
    const char *postfix_dir;
    char *domains_spec, *mailbox_maps_spec, *alias_maps_spec, *mailbox_base;
    char *pf_mynetworks;          /* Postfix's mynetworks when its main.cf sets it, else NULL */
    const char **passwd_files;
    size_t npasswd;
    struct mig_entry *domains, *aliases;
    size_t ndomains, naliases;
    struct mig_user *users;
    size_t nusers;
    unsigned errors, warnings;
    bool had_users;               /* the account database had users before */
};

/* Report a problem (counted; the run exits 1) or a warning, "where: text". */
void mig_error(struct migration *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mig_warn(struct migration *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "posthorn: TEXT" (or "posthorn: would TEXT" in a dry run: callers write the verb). */
void mig_say(struct migration *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The user of that address, made when missing (where: its source). */
struct mig_user *mig_user(struct migration *m, const char *address, const char *where);
void mig_add_domain(struct migration *m, const char *domain, const char *where);

/* migrate_sources.c */
int mig_read_postfix(struct migration *m);     /* --postfix DIR: the specs it leaves unset */
void mig_read_tables(struct migration *m);     /* domains, mailboxes, aliases */
/* migrate_passwd.c */
void mig_read_passwd(struct migration *m);
/* The Maildir and control directory of a user (malloc'ed; *control NULL for none), or NULL
 * with the reason reported. */
char *mig_maildir(struct migration *m, struct mig_user *u, char **control);
/* migrate_accounts.c */
void mig_apply_accounts(struct migration *m);
void mig_apply_aliases(struct migration *m);
/* migrate_mynetworks.c: Postfix's mynetworks into ours (--postfix only) */
void mig_apply_mynetworks(struct migration *m);
/* migrate_mail.c */
void mig_apply_mail(struct migration *m);

#endif
