/* imap_thread.h - the threading algorithms of IMAP THREAD (RFC 5256 sec 3 and 4):
 * ORDEREDSUBJECT and REFERENCES, over messages whose keys the caller has read (base
 * subject: base_subject.h made into a sort key by collate.h; identifiers: msgid.h; sent
 * date: the Date: field in UTC, or INTERNALDATE without a usable one). The answer is the
 * THREAD response's data, "(2)(3 6 (4 23)(44 7 96))", with each message written as its
 * number (sequence number, or UID for UID THREAD).
 *
 * REFERENCES follows the RFC's steps: links from each message's references (1A, never
 * replacing a parent, never making a loop), the link to its last reference (1B, replacing
 * an earlier one; no loop), dummy messages for identifiers no message has, pruning of
 * dummies (3: a dummy without children goes, one with children gives them to its parent,
 * but at the top only when it has just one), the top sorted by sent date (4, a dummy by its
 * first child), threads of the same base subject gathered (5, the subject table and its
 * merge rules), and every set of siblings sorted by sent date (6). Identifiers compare
 * case-sensitively; a message without one, and every message after the first with the
 * same one, gets a unique identifier. Sent dates that are equal are ordered by the
 * messages' order in the array (the mailbox order), at every step.
 *
 * Work is O(N log N) in the messages plus their references, except the loop checks, which
 * walk from the new parent towards the top only when the child has children itself (a
 * long chain of replies each referencing all its predecessors is linear). Memory is
 * linear. Nothing recurses: trees as deep as the mailbox is long are fine. Pure; no I/O. */
#ifndef POSTHORN_IMAP_THREAD_H
#define POSTHORN_IMAP_THREAD_H
#include "buf.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct imap_thread_msg {
    uint32_t number;          /* what the response says: sequence number or UID */
    int64_t sent;             /* sent date, seconds since the epoch in UTC */
    const char *subject;      /* the base subject's sort key (collate.h) */
    size_t subject_len;       /* 0: no subject (never gathered, REFERENCES step 5) */
    bool reply;               /* the subject marks a reply or forward */
    const char *message_id;   /* NULL: none (or none valid) */
    const char *const *refs;  /* References (else the first of In-Reply-To), oldest first */
    size_t nrefs;
};

/* msgs[0..n) in mailbox order; the THREAD data is appended to out (nothing when n is 0). */
void imap_thread_orderedsubject(const struct imap_thread_msg *msgs, size_t n, struct buf *out);
void imap_thread_references(const struct imap_thread_msg *msgs, size_t n, struct buf *out);

#endif
