/* xtext.h - RFC 3461 sec 4 xtext, the encoding of the ENVID and ORCPT values of the SMTP
 * DSN extension: printable ASCII except '+' and '=' stands for itself, any other byte is
 * "+" and two upper-case hex digits. Pure functions: no I/O, no logging, no global state;
 * safe from any thread. Returned strings are malloc'ed and belong to the caller. */
#ifndef POSTHORN_XTEXT_H
#define POSTHORN_XTEXT_H
#include <stdbool.h>
#include <stddef.h>

/* Is s[0..len) xtext exactly as RFC 3461 sec 4 defines it? This is the check for what an
 * SMTP client sends (upper-case hex digits only; "+00" is grammatical). */
bool xtext_valid(const char *s, size_t len);

/* Decode the xtext value s (as stored in a queue file) into a new NUL-terminated string.
 * Tolerant of what RFC 3461 sec 4 does not allow but is unambiguous: lower-case hex digits
 * and 8-bit bytes. NULL when s cannot be decoded: a '+' without two hex digits, a control
 * character, space, DEL or '=', or "+00" (a NUL could not be represented). */
char *xtext_decode(const char *s);

/* Encode the string s as xtext (hex digits upper-case). Never fails. */
char *xtext_encode(const char *s);

#endif
