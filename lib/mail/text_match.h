/* text_match.h - case-insensitive substring search in UTF-8 text for IMAP SEARCH (RFC 3501
 * sec 6.4.4, RFC 9051 sec 6.4.4: SUBJECT, FROM, BODY, TEXT, HEADER ... match substrings,
 * case-insensitively).
 *
 * Case-insensitive means equal after simple case folding (Unicode CaseFolding.txt, status
 * C and S: one code point to one code point) of: ASCII; Latin-1 Supplement (U+00C0-U+00DE,
 * and U+00B5 MICRO SIGN to Greek mu); Latin Extended-A (U+0100-U+017F, U+0178 to U+00FF,
 * U+017F LONG S to 's'; U+0130 has no simple folding and stays); Greek (U+0386-U+03AB,
 * final sigma U+03C2 to sigma); Cyrillic U+0400-U+042F; U+1E9E CAPITAL SHARP S to U+00DF;
 * KELVIN SIGN and ANGSTROM SIGN. Not covered: Latin Extended-B and Additional, Armenian,
 * Georgian, Cherokee and the rest; full folding ("ß" does not match "ss"); normalisation
 * (a precomposed "é" does not match "e" + U+0301). Bytes that are not UTF-8 are compared
 * as they are.
 *
 * No I/O, no logging; a matcher belongs to one thread. */
#ifndef POSTHORN_TEXT_MATCH_H
#define POSTHORN_TEXT_MATCH_H
#include "buf.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The simple case folding of one code point (itself when none is covered). */
uint32_t text_fold_code_point(uint32_t cp);
/* Append s[0..len) case-folded to out (bytes that are not UTF-8 copied as they are). */
void text_fold(const char *s, size_t len, struct buf *out);
/* Does needle occur in hay, case-insensitively? An empty needle always does. */
bool text_contains(const char *hay, size_t hlen, const char *needle, size_t nlen);

/* A search in text that arrives in chunks (split anywhere, even inside a character). */
struct text_match {
    struct buf needle; /* folded */
    struct buf window; /* the folded end of the text so far that a match may still use */
    size_t npend;      /* bytes of a character cut by the end of the last chunk */
    char pend[4];
    bool found;
};

void text_match_init(struct text_match *m, const char *needle, size_t len);
/* Start a new text: what was fed before cannot be part of a match any more. */
void text_match_restart(struct text_match *m);
/* Feed the next chunk; returns whether the needle has been found in this text so far.
 * Work is linear in the chunk plus the needle's length. */
bool text_match_feed(struct text_match *m, const char *s, size_t len);
bool text_match_found(const struct text_match *m);
void text_match_free(struct text_match *m);

#endif
