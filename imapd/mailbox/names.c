/* names.c - mailbox names between the wire and the store (RFC 9051 sec 5.1): the store keeps
 * modified UTF-7 (Dovecot's on-disk form of Maildir++ folder names); an IMAP4rev1 client
 * speaks it too, while IMAP4rev2 and UTF8=ACCEPT sessions speak UTF-8. "INBOX" is
 * case-insensitive (RFC 9051 sec 5.1), also as the first level of a hierarchy. */
#include "imap_mailbox.h"
#include "imap_utf7.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Empty levels ("a..b", ".a", "a."), over-long names or levels: not a usable name. */
static bool well_formed(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 512 || name[0] == IMAP_SEPARATOR || name[len - 1] == IMAP_SEPARATOR)
        return false;
    for (const char *p = name; *p; p++)
        if (p[0] == IMAP_SEPARATOR && p[1] == IMAP_SEPARATOR)
            return false;
    return !strchr(name, '/') && !strchr(name, '*') && !strchr(name, '%');
}

char *imap_name_in(const struct imap_session *s, const struct imap_arg *a)
{
    if (!imap_arg_is_astring(a) || memchr(a->str, 0, a->len))
        return NULL;
    char *name = s->utf8 ? imap_utf8_to_mutf7(a->str, a->len) : xstrdup(a->str);
    if (!name || (!s->utf8 && !imap_mutf7_valid(name)) || !well_formed(name)) {
        free(name);
        return NULL;
    }
    if (strncasecmp(name, "INBOX", 5) == 0 && (name[5] == 0 || name[5] == IMAP_SEPARATOR))
        memcpy(name, "INBOX", 5);
    return name;
}

void imap_name_out(const struct imap_session *s, struct buf *out, const char *store_name)
{
    char *utf8 = s->utf8 ? imap_mutf7_to_utf8(store_name) : NULL;
    const char *n = utf8 ? utf8 : store_name;
    imap_write_string((struct imap_session *)s, out, n, strlen(n));
    free(utf8);
}
