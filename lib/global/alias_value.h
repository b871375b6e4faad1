/* alias_value.h - the syntax of aliases(5) values and keys, one parser for newaliases
 * (map_build.c checks every entry with it), local-mda (expansion, :include: files) and
 * anything else that walks alias targets.
 *
 * A value is a list of targets separated by commas and/or white space. A target is
 *   user@domain, <user@domain>  an address (local part a Dot-string or a Quoted-string)
 *   user                        a local part; the caller qualifies it (doc/operator.md)
 *   \user                       that mailbox itself, without alias expansion
 *   |command                    a command, run with /bin/sh -c; unquoted it runs to the next
 *                               comma (double quotes inside it are the shell's and must pair)
 *   /path                       a file to append to in mbox format
 *   :include:/path              a file of further targets in the same syntax
 * A target written wholly in double quotes ("|cmd arg", "/a b", ":include:/a b") is taken
 * as one target: quotes removed, backslash pairs unescaped, then classified as above. An
 * address with a quoted local part ("a b"@example.com) stays an address as written.
 * Pure functions: no I/O, no logging. */
#ifndef POSTHORN_ALIAS_VALUE_H
#define POSTHORN_ALIAS_VALUE_H
#include <stdbool.h>
#include <stddef.h>

enum alias_kind {
    ALIAS_ADDRESS, /* text: "user@domain" or "user" (brackets removed) */
    ALIAS_MAILBOX, /* "\user": text without the backslash */
    ALIAS_COMMAND, /* text: the command without the '|' */
    ALIAS_FILE,    /* text: the absolute path */
    ALIAS_INCLUDE  /* text: the absolute path after ":include:" */
};

struct alias_target {
    enum alias_kind kind;
    char *text;
};

struct alias_list {
    struct alias_target *v;
    size_t n;
};

/* Longest address target (RFC 5321 sec 4.5.3.1.3: a path of 256 with its brackets). */
#define ALIAS_ADDRESS_MAX 254

/* Parse value, appending its targets to list. 0, or -1 with *err (malloc'ed) naming the
 * first problem (an unterminated quote or bracket, an empty command, a relative path, an
 * address that is not one); the targets before the problem stay in list. */
int alias_value_parse(const char *value, struct alias_list *list, char **err);
void alias_list_free(struct alias_list *list);

/* "address", "mailbox", "command", "file" or "include". */
const char *alias_kind_name(enum alias_kind kind);

/* Is key[0..len) an alias key: "user@domain", "@domain" (every unknown user of it) or
 * "user" (a local-part key)? NULL when it is, else the reason. */
const char *alias_key_check(const char *key, size_t len);

/* Is addr ("user" or "user@domain", the domain in ASCII or in U-labels) an address RFC
 * 5321 allows, at most ALIAS_ADDRESS_MAX bytes? */
bool alias_address_valid(const char *addr);

#endif
