/* addrlist.h - RFC 5322 address lists (sec 3.4) as found in From, Sender, Reply-To, To,
 * Cc and Bcc, for IMAP's ENVELOPE (RFC 3501 sec 7.4.2, RFC 9051 sec 7.5.2): mailboxes with
 * or without display names, groups (RFC 6854 allows them in From and Sender too), and the
 * obsolete syntax of sec 4.4 (routes "<@a,@b:u@d>", phrases with dots, CFWS between the
 * words and dots of a local part or domain, empty list elements).
 *
 * Every input gives a list; junk is skipped up to the next ',' (or ';' inside a group):
 * - a mailbox: name is the display name (quotes and quoted pairs removed, the words joined
 *   by one space, RFC 2047 encoded words left as they are), or when there is none the first
 *   comment inside the address ("u@d (Name)"); local is the local part without its quoting
 *   ("a b" for "\"a b\"@d"); domain as written ("[192.0.2.1]" keeps its brackets).
 *   Missing pieces are empty strings: "<>" gives local "" and domain "", "root" gives local
 *   "root" and domain "", words that are no local part ("John Doe" alone) give the name
 *   "John Doe" with local and domain "".
 * - a group "name: members;" is a GROUP_START entry (its name the phrase before the
 *   colon), the members, and a GROUP_END entry; a group the text does not close is closed
 *   at its end.
 * Bytes are taken as they are (UTF-8 or not, NUL included); nothing is decoded, and
 * malformed says when something was skipped. Work and
 * memory are linear in the input. No I/O, no logging. */
#ifndef POSTHORN_ADDRLIST_H
#define POSTHORN_ADDRLIST_H
#include "buf.h"
#include <stdbool.h>
#include <stddef.h>

enum addrlist_kind { ADDRLIST_MAILBOX, ADDRLIST_GROUP_START, ADDRLIST_GROUP_END };

/* A piece of text in the list's pool (NUL-terminated there); absent when off is
 * ADDRLIST_ABSENT. */
#define ADDRLIST_ABSENT ((size_t)-1)
struct addrlist_text {
    size_t off, len;
};

struct addrlist_entry {
    enum addrlist_kind kind;
    struct addrlist_text name;   /* display name or comment; a group's name; may be absent */
    struct addrlist_text route;  /* obsolete route "@a,@b", usually absent */
    struct addrlist_text local;  /* MAILBOX only: always present */
    struct addrlist_text domain; /* MAILBOX only: always present */
};

struct addrlist {
    struct addrlist_entry *v;
    size_t n, cap;
    struct buf pool;
    /* The text was no clean address list: junk was skipped (after an address, inside
     * "<...>"), a comment, quoted string, domain literal or "<" was left open, or a control
     * character (CR and LF included) stood outside a quoted string or comment. Readers
     * (ENVELOPE) use the list anyway; a policy that must see every address (submission's
     * From check) refuses it. */
    bool malformed;
};

void addrlist_init(struct addrlist *l);
/* Parse s[0..len) (an unfolded field body) and append its entries to l. */
void addrlist_parse(struct addrlist *l, const char *s, size_t len);
/* The text t of l, or NULL when absent (its length is t.len). */
const char *addrlist_str(const struct addrlist *l, struct addrlist_text t);
/* Release everything; l can be initialised again. */
void addrlist_free(struct addrlist *l);

#endif
