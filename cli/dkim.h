/* dkim.h - the pieces of `posthorn dkim` (doc/dkim.md): dkim.c (keygen and dispatch) and
 * dkim_manage.c (list, activate, retire, delete), and what `posthorn dns records` takes
 * from them. */
#ifndef POSTHORN_CLI_DKIM_H
#define POSTHORN_CLI_DKIM_H
#include "buf.h"
#include "cli.h"
#include "dkim_keydir.h"

/* "SELECTOR._domainkey.DOMAIN" (RFC 6376 sec 3.6.2.1), malloc'ed. */
char *dkim_record_name(const char *domain, const char *selector);
/* The DNS record value of the key in file k ("v=DKIM1; k=...; p=...") into out, with its
 * type and size. -1 (printed) when the key cannot be read. */
int dkim_key_describe(const struct dkim_keyfile *k, struct buf *record, const char **type,
                      unsigned *bits);
/* The keys of domain (NULL: all) in dkim_key_directory; -1 (printed) on error. */
int dkim_keys_of(struct cli *c, const char *domain, struct dkim_keylist *l);
/* The domain argument in A-labels, checked; NULL (printed) when invalid. */
char *dkim_domain_arg(const char *arg);

/* dkim_manage.c */
int dkim_cmd_list(struct cli *c, int argc, char **argv);
int dkim_cmd_state(struct cli *c, int argc, char **argv); /* activate, retire, delete */

#endif
