/* resolve.h - what a recipient address is to this server, shared by smtpd (RCPT TO checks)
 * and local-mda (delivery): a virtual user, an alias (expanded by local-mda), an unknown user
 * of one of our domains, or a remote address (relay: denied to unauthenticated clients).
 * Extensions are handled here: with recipient_delimiter "+", user+tag@dom resolves as
 * user@dom. Alias keys tried, in order: the full address, the address without extension,
 * then "@domain" (catch-all); users are checked between them (full address, address
 * without extension), so a catch-all never hides an existing user (details: resolve.c).
 * An address without '@' is taken as local@$myorigin. Resolvers reopen alias tables when
 * they are rebuilt; a missing table holds no aliases, an unreadable one gives RCPT_TEMPFAIL.
 * Domains compare case-insensitively; local parts are lowercased for lookups (the original
 * form is kept in the queue file). */
#ifndef POSTHORN_RESOLVE_H
#define POSTHORN_RESOLVE_H
#include "accounts.h"
#include "config.h"
#include "map.h"

enum rcpt_class {
    RCPT_USER,    /* a virtual mailbox user of ours */
    RCPT_ALIAS,   /* an alias of ours: *result holds the alias value ("a@x, b@y") */
    RCPT_UNKNOWN, /* our domain, no such user or alias */
    RCPT_REMOTE,  /* not one of our domains */
    RCPT_TEMPFAIL /* a table could not be read: answer 451/defer */
};

struct resolver;

struct resolver *resolver_open(struct config *cfg, char **err);
void resolver_close(struct resolver *r);
/* Classify addr ("local@domain", no angle brackets). For RCPT_USER *result is the mailbox
 * address without extension (lowercased); for RCPT_ALIAS the alias value; NULL otherwise.
 * *extension (may be NULL) receives the extension ("tag") or NULL. */
enum rcpt_class resolve_recipient(struct resolver *r, const char *addr, char **result,
                                  char **extension);
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

/* The targets of alias's value (an RCPT_ALIAS result): addresses separated by commas and/or
 * white space, optionally in angle brackets; a target without '@' gets alias's domain.
 * fn(ctx, target, supported) for each: supported is false for what is not an address here
 * (pipes, files, :include:, quotes, brackets, parentheses; target is then the token as
 * written, brackets removed). Stops when fn returns non-zero and returns that; 0 after the
 * last target, *count (may be NULL) is the number of targets seen. */
int resolve_alias_targets(const char *alias, const char *value,
                          int (*fn)(void *ctx, const char *target, bool supported), void *ctx,
                          size_t *count);

#endif
