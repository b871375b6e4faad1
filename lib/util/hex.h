/* hex.h - hexadecimal digits and strings (RFC 4648 sec 8 "base16"), for the codecs that
 * escape bytes as hex (xtext in lib/mail, the IPC value escapes). Pure functions: no I/O,
 * no logging, no global state; safe from any thread. Output goes to a caller's buf. */
#ifndef POSTHORN_HEX_H
#define POSTHORN_HEX_H
#include "buf.h"
#include <stdbool.h>
#include <stddef.h>

/* The value of one hex digit, either case ('a' and 'A' are 10); -1 for anything else. */
int hex_digit_value(char c);
/* The same, but only upper-case digits count (grammars such as RFC 3461 xtext). */
int hex_upper_digit_value(char c);

/* Append the upper-case hex of data[0..len) to out, two digits per byte. */
void hex_encode(const void *data, size_t len, struct buf *out);
/* Append the bytes of the hex string s[0..len) (either case) to out. false, with out
 * unchanged, when len is odd or a character is not a hex digit. */
bool hex_decode(const char *s, size_t len, struct buf *out);

#endif
