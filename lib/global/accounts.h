/* accounts.h - the account database (account_database, one LMDB file): virtual mailbox
 * domains and users with their password hash ("{ARGON2ID}..." in Dovecot's notation) and
 * quota. Written by `posthorn user|domain`, read by smtpd (recipient checks), local-mda
 * (quota) and the POP3/IMAP login processes. Addresses are stored lowercased. */
#ifndef POSTHORN_ACCOUNTS_H
#define POSTHORN_ACCOUNTS_H
#include "config.h"
#include <stdbool.h>

struct accounts;

struct account_user {
    char *address;       /* "alice@example.test" */
    char *password_hash; /* "{ARGON2ID}$argon2id$..." or "" when login is disabled */
    long long quota;     /* bytes; -1 means "use virtual_mailbox_quota", 0 unlimited */
};

/* Opens (and with writable, creates) the database named by account_database. A read-only
 * open of a missing file succeeds: the database is empty until the file appears. Open it
 * once per process (an LMDB rule) and share the handle. */
struct accounts *accounts_open(struct config *cfg, bool writable, char **err);
void accounts_close(struct accounts *a);

/* 1 yes, 0 no, -1 error. Includes the domains listed in virtual_mailbox_domains.
 * add/del/put/del return 0 or -1 with *err: domain_add of an existing domain is a no-op,
 * del of an unknown domain or user fails ("no such domain: x"), user_put inserts or
 * replaces. list functions return 0, -1 on error, or fn's non-zero value; domain_list
 * lists only the database, not virtual_mailbox_domains. */
int accounts_domain_exists(struct accounts *a, const char *domain);
int accounts_domain_add(struct accounts *a, const char *domain, char **err);
int accounts_domain_del(struct accounts *a, const char *domain, char **err);
int accounts_domain_list(struct accounts *a, int (*fn)(void *ctx, const char *domain), void *ctx);

/* 1 found (fill *u; free with account_user_free), 0 unknown, -1 error. */
int accounts_user_get(struct accounts *a, const char *address, struct account_user *u, char **err);
int accounts_user_put(struct accounts *a, const struct account_user *u, char **err);
int accounts_user_del(struct accounts *a, const char *address, char **err);
int accounts_user_list(struct accounts *a, int (*fn)(void *ctx, const struct account_user *u), void *ctx);
void account_user_free(struct account_user *u);
/* The effective quota of a user in bytes (0 = unlimited). */
long long accounts_user_quota(struct config *cfg, const struct account_user *u);

#endif
