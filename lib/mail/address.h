/* address.h - RFC 5321 sec 4.1.2 mailboxes as Posthorn stores and writes them.
 *
 * The canonical internal form of an address (queue file envelope, logs, Return-Path,
 * Delivered-To, DSNs) is the RFC 5321 Mailbox itself: Local-part "@" Domain, where the local
 * part is a Dot-string when it can be one and a Quoted-string otherwise ("a b"@example.test,
 * "x> Bcc: <v@evil.test"@example.test). A Quoted-string whose content is a Dot-string is
 * written without quotes ("alice"@d is alice@d, RFC 5321 sec 4.1.2 asks senders for the
 * simplest form). Non-ASCII UTF-8 counts as atext (RFC 6531 sec 3.3).
 * Pure functions: no I/O, no logging, no global state; safe from any thread. */
#ifndef POSTHORN_ADDRESS_H
#define POSTHORN_ADDRESS_H
#include <stdbool.h>
#include <stddef.h>

/* Is s[0..len) a Dot-string (RFC 5321 sec 4.1.2): atoms of atext (or UTF-8, RFC 6531)
 * joined by single dots, as smtp_parse_path() requires of an unquoted local part? */
bool address_is_dot_string(const char *s, size_t len);

/* Is s[0..len) a local part RFC 5321 sec 4.1.2 accepts: a Dot-string or a well-formed
 * Quoted-string (with its quotes), at most 64 bytes (sec 4.5.3.1.1)? */
bool address_local_is_valid(const char *s, size_t len);


/* The local part local[0..len) (unquoted content, as a parser yields it) as RFC 5321 writes
 * it: as it is when a Dot-string, else a Quoted-string with '"' and '\' as quoted pairs.
 * Bytes no Quoted-string can carry (control characters, DEL, malformed UTF-8) become '?'.
 * snprintf-like: writes at most outsize - 1 bytes and a NUL (when outsize > 0) and returns
 * the length the whole result needs. */
size_t address_quote_local(const char *local, size_t len, char *out, size_t outsize);

/* addr (split at its last '@'; no '@': a bare local part such as "postmaster") in the
 * canonical form: a local part that is a Dot-string or a well-formed Quoted-string is
 * taken as written (and normalised), any other is the unquoted content of an older writer
 * and is quoted; control characters in the domain become '?'. "" stays "" (the null
 * sender). Idempotent. Returns a new malloc'ed string the caller frees. */
char *address_requote(const char *addr);

#endif
