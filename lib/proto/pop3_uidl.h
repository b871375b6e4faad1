/* pop3_uidl.h - POP3 unique-ids (RFC 1939 sec 7, UIDL) made from a template in Dovecot's
 * notation (main.cf pop3d_uidl_format, doc/pop3d.md), so that a mailbox migrated from
 * Dovecot serves the UIDLs its clients already know. Variables: %u (or %{uid}) the IMAP UID,
 * %v (%{uidvalidity}) the mailbox's UIDVALIDITY, %f (%{filename}) the Maildir base name
 * (up to ":2,"), %g (%{guid}) the message's GUID, which in a Maildir is the base name too,
 * and %% a percent sign; between the % and the variable an optional width ("%08u": pad
 * with zeros to 8; "%8u": cut to 8; "-" counts from the end) with an optional ".N" offset
 * form, and the modifiers L (lower case), U (upper case) and X (the decimal number in
 * lower-case hex), applied in order, as Dovecot's var_expand does: Dovecot's default
 * "%08Xu%08Xv" is 8 hex digits of UID then 8 of UIDVALIDITY. %m (an MD5 of the headers,
 * which Dovecot offers for mbox only) is refused. Pure functions: no I/O, no logging. */
#ifndef POSTHORN_POP3_UIDL_H
#define POSTHORN_POP3_UIDL_H
#include "buf.h"
#include <stdint.h>

struct pop3_uidl_vars {
    uint32_t uid, uidvalidity;
    const char *filename; /* base name, without ":2,..." */
    const char *guid;     /* NULL: the base name */
};

/* NULL when fmt is a usable template, else a static reason. */
const char *pop3_uidl_check(const char *fmt);
/* Expand a template pop3_uidl_check accepted into out (reset first). Bytes a unique-id may
 * not hold (outside 0x21..0x7E) become '_' and the result is cut to 70 characters (RFC
 * 1939 sec 7); an empty result becomes "-". */
void pop3_uidl_expand(const char *fmt, const struct pop3_uidl_vars *v, struct buf *out);

#endif
