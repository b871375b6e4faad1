/* imap_utf7.h - mailbox names in modified UTF-7 (RFC 3501 sec 5.1.3), the form IMAP4rev1
 * clients use and the store keeps on disk (as Dovecot does, so its Maildir++ folder names stay
 * compatible), and in UTF-8, the form of IMAP4rev2 and UTF8=ACCEPT (RFC 9051 sec 5.1, RFC
 * 6855 sec 3). Pure functions; the results are malloc'ed. */
#ifndef POSTHORN_IMAP_UTF7_H
#define POSTHORN_IMAP_UTF7_H
#include <stdbool.h>
#include <stddef.h>

/* UTF-8 to modified UTF-7; NULL when s is not well-formed UTF-8 or holds a control
 * character (U+0000..U+001F, U+007F: never part of a mailbox name). */
char *imap_utf8_to_mutf7(const char *s, size_t len);
/* Modified UTF-7 to UTF-8; NULL when s is not valid modified UTF-7 (a bad base64 run, an
 * ASCII or control character encoded, a lone surrogate, padding bits set, two runs in a
 * row). */
char *imap_mutf7_to_utf8(const char *s);
/* True when s is valid modified UTF-7 (only printable ASCII, well-formed "&...-" runs). */
bool imap_mutf7_valid(const char *s);

#endif
