/* resolve.h - what a recipient address is to this server, shared by smtpd (RCPT TO checks)
 * and local-mda (delivery): a virtual user, an alias (expanded by local-mda), an unknown user
 * of one of our domains, or a remote address (relay: denied to unauthenticated clients).
 * Extensions are handled here: with recipient_delimiter "+", user+tag@dom resolves as
 * user@dom. Alias keys tried, in order: the full address, the address without extension,
 * the local part with and without extension (aliases(5) keys, in the domains of
 * alias_local_part_domains), then "@domain" (catch-all); users are checked after the
 * address keys (full address, address without extension), so neither a local-part key
 * nor a catch-all hides an existing user (details: resolve.c).
 * An address without '@' is taken as local@$myorigin. Resolvers reopen alias tables when
 * they are rebuilt; a missing table holds no aliases, an unreadable one gives RCPT_TEMPFAIL.
 * Domains compare case-insensitively; local parts are lowercased for lookups (the original
 * form is kept in the queue file). */
#ifndef POSTHORN_RESOLVE_H
#define POSTHORN_RESOLVE_H
#include "accounts.h"
#include "config.h"
#include "map.h"
#include <stdbool.h>
#include <sys/types.h>

enum rcpt_class {
    RCPT_USER,    /* a virtual mailbox user of ours */
    RCPT_ALIAS,   /* an alias of ours: *result holds the alias value ("a@x, b@y") */
    RCPT_UNKNOWN, /* our domain, no such user or alias */
    RCPT_REMOTE,  /* not one of our domains */
    RCPT_TEMPFAIL /* a table could not be read: answer 451/defer */
};

struct resolver;

struct resolver *resolver_open(struct config *cfg, char **err);
/* The same with the process's account database handle acc, lent (not closed by
 * resolver_close): LMDB allows one handle per file and process, so a process that already
 * has one (submission's password checks) must not open a second. */
struct resolver *resolver_open_shared(struct config *cfg, struct accounts *acc, char **err);
void resolver_close(struct resolver *r);
/* Classify addr ("local@domain", no angle brackets). For RCPT_USER *result is the mailbox
 * address without extension (lowercased); for RCPT_ALIAS the alias value; NULL otherwise.
 * *extension (may be NULL) receives the extension ("tag") or NULL. */
enum rcpt_class resolve_recipient(struct resolver *r, const char *addr, char **result,
                                  char **extension);
/* Where an alias came from, for what its targets may be (local-mda's expansion). */
struct alias_hit {
    char *key;       /* the key that matched: "team@x", "team" (local-part key), "@x" */
    bool local_part; /* a local-part key: its unqualified targets get @$myorigin */
    bool from_table; /* from an alias table; false: postmaster_recipient (main.cf) */
    uid_t owner;     /* owner and mode of the compiled table read (from_table only; */
    mode_t mode;     /* (uid_t)-1 and 0777 when they could not be read) */
};
/* resolve_recipient() that also says, for RCPT_ALIAS, where the alias came from (*hit,
 * freed with alias_hit_free(); zeroed for the other classes). */
enum rcpt_class resolve_alias(struct resolver *r, const char *addr, char **result,
                              struct alias_hit *hit);
void alias_hit_free(struct alias_hit *hit);
/* The same without alias tables: RCPT_USER, RCPT_UNKNOWN, RCPT_REMOTE or RCPT_TEMPFAIL.
 * local-mda uses it for an alias that lists itself ("a@x: a@x, b@y" keeps a copy in a's
 * own mailbox instead of looping). */
enum rcpt_class resolve_mailbox(struct resolver *r, const char *addr, char **result,
                                char **extension);
/* Is addr's domain one of ours, the domains resolve_recipient() does not call RCPT_REMOTE
 * (virtual_mailbox_domains and the account database; an address without '@' is in
 * $myorigin)? 1 yes, 0 no, -1 the account database could not be read. */
int resolve_domain_is_ours(struct resolver *r, const char *addr);
struct accounts *resolver_accounts(struct resolver *r);
struct config *resolver_config(struct resolver *r);

/* The targets of alias's value (an RCPT_ALIAS result) in aliases(5) syntax (alias_value.h);
 * an address or \user target without '@' gets alias's domain. fn(ctx, target, supported)
 * for each: supported is false for what is not an address (|command, /file, :include:,
 * given as written). Stops when fn returns non-zero and returns that; 0 after the
 * last target, *count (may be NULL) is the number of targets seen. */
int resolve_alias_targets(const char *alias, const char *value,
                          int (*fn)(void *ctx, const char *target, bool supported), void *ctx,
                          size_t *count);

#endif
