/* base_subject.h - the "base subject" of RFC 5256 sec 2.1, which IMAP SORT (SUBJECT) and
 * THREAD (ORDEREDSUBJECT, REFERENCES) compare: the Subject field with its RFC 2047 words
 * decoded (rfc2047.h), white space runs made one space, and the artifacts mail software
 * adds stripped - trailing "(fwd)" and white space (step 2), leading "Re:", "Fw:", "Fwd:"
 * with [blob]s around them (step 3), a leading [blob] when text follows it (step 4), and
 * an enclosing "[fwd: ...]" (step 6), repeated as the RFC's procedure says. Keywords are
 * matched ASCII case-insensitively.
 *
 * A message counts as a reply or forward (RFC 5256 sec 3, REFERENCES step 5) when this
 * removed a subj-refwd ("Re:" ...), a "(fwd)" trailer or a "[fwd:" "]" pair.
 *
 * Pure: no I/O, no logging, no global state. Work is linear in the value times the number
 * of "[fwd:" wrappings (each strips at least six bytes). */
#ifndef POSTHORN_BASE_SUBJECT_H
#define POSTHORN_BASE_SUBJECT_H
#include "buf.h"
#include <stdbool.h>
#include <stddef.h>

/* Append the base subject of value[0..len) (an unfolded or folded Subject field body, as
 * written) to out as UTF-8; returns whether the subject marks a reply or forward. */
bool mail_base_subject(const char *value, size_t len, struct buf *out);

#endif
