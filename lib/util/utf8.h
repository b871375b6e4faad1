/* utf8.h - UTF-8 well-formedness (RFC 3629 sec 3-4), needed wherever SMTPUTF8 (RFC 6531),
 * internationalized addresses (RFC 6533) or IMAP UTF8=ACCEPT let non-ASCII text in. Pure
 * functions: no I/O, no logging, no global state; safe from any thread. */
#ifndef POSTHORN_UTF8_H
#define POSTHORN_UTF8_H
#include <stdbool.h>
#include <stddef.h>

/* Length (1-4) of the well-formed UTF-8 sequence at the start of s[0..len), or 0 when it
 * is malformed: a bad lead or continuation byte, an overlong form, a surrogate
 * (U+D800..U+DFFF), a value past U+10FFFF, or a sequence cut short by len. len > 0. */
size_t utf8_sequence_length(const unsigned char *s, size_t len);
/* Is all of s[0..len) well-formed UTF-8 (by the rules above)? */
bool utf8_valid(const char *s, size_t len);
/* Is all of s[0..len) 7-bit ASCII (no byte with the high bit set)? */
bool utf8_is_ascii(const char *s, size_t len);

#endif
