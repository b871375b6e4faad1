/* base64.h - strict base64 (RFC 4648 sec 4): the standard alphabet, padding required, no
 * white space or line breaks accepted. Used by SASL exchanges (lib/auth/sasl.h) and by
 * anything else that carries binary data in text. Pure functions: no I/O, no logging, no
 * global state; safe from any thread. Output is appended to a caller's buf. */
#ifndef POSTHORN_BASE64_H
#define POSTHORN_BASE64_H
#include "buf.h"
#include <stdbool.h>
#include <stddef.h>

/* Append the base64 of data[0..len) to out. */
void base64_encode(const void *data, size_t len, struct buf *out);
/* Decode strict base64 s[0..len) and append the bytes to out. false on any invalid
 * character, a length that is not a multiple of 4, or misplaced padding; out may then hold
 * part of the decoded bytes. */
bool base64_decode(const char *s, size_t len, struct buf *out);

#endif
