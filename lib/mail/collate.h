/* collate.h - sort keys for the strings IMAP SORT and THREAD compare (RFC 5256 sec 3: base
 * subjects, addresses; RFC 5957: display names): two strings compare as their keys do
 * byte by byte (memcmp, then the shorter first), and are equal when their keys are.
 *
 * The key is the string case-folded as text_match.h folds it (simple Unicode folding of
 * ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic), with ASCII letters then made
 * upper-case: for ASCII text this is exactly the i;ascii-casemap collation (RFC 4790 sec
 * 9.2, which compares upper-cased strings: "[" sorts after "Z" and before "_"), and it is
 * what i;unicode-casemap (RFC 5051) gives for ASCII; other characters compare by code
 * point after folding. NUL bytes are left out. At most max bytes are kept, cut at a
 * character boundary (0: no limit). Pure; no I/O. */
#ifndef POSTHORN_COLLATE_H
#define POSTHORN_COLLATE_H
#include "buf.h"
#include <stddef.h>

void mail_collate_key(const char *s, size_t len, size_t max, struct buf *out);
/* Compare two keys: <0, 0, >0. */
int mail_collate_cmp(const char *a, size_t alen, const char *b, size_t blen);

#endif
