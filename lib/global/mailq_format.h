/* mailq_format.h - printing queue listings (queue_listing.h) the way Postfix's tools do,
 * message by message, so a listing of any size streams through in bounded memory:
 *
 *   MAILQ_TEXT        mailq / sendmail -bp / postqueue -p: a heading, one block per message
 *                     (ID with '*' when active, '!' when on hold; size; arrival time as
 *                     asctime(3) shows it; sender, MAILER-DAEMON for <>), the pending
 *                     recipients indented, each group with the same reason under
 *                     "(reason)" right-aligned to column 78 ("(reason unavailable)" after a
 *                     group that had one), a blank line between blocks, and the footer
 *                     "-- N Kbytes in M Requests." where N is the total content size divided
 *                     by 1024 rounded down; "Mail queue is empty" (or the caller's text) when
 *                     there is nothing. Postfix's long-ID layout, with the ID column widened
 *                     from 17 to 19 characters for Posthorn's 18-character IDs.
 *   MAILQ_JSON_LINES  postqueue -j: one JSON object per line with queue_name, queue_id,
 *                     arrival_time, message_size, forced_expire, sender (MAILER-DAEMON for
 *                     <>) and recipients [{address, delay_reason when there is one}].
 *   MAILQ_JSON_ARRAY  posthorn queue list --json: the same objects in one JSON array, with
 *                     the null sender as "".
 *
 * Text is made printable on the way out: control characters and bytes that are not
 * well-formed UTF-8 become '?' (JSON escapes control characters instead). */
#ifndef POSTHORN_MAILQ_FORMAT_H
#define POSTHORN_MAILQ_FORMAT_H
#include "queue_listing.h"
#include <stdio.h>

enum mailq_style { MAILQ_TEXT, MAILQ_JSON_LINES, MAILQ_JSON_ARRAY };

struct mailq_out {
    FILE *out;
    enum mailq_style style;
    unsigned long count;       /* messages printed so far */
    unsigned long long bytes;  /* their total size */
};

void mailq_out_init(struct mailq_out *o, FILE *out, enum mailq_style style);
/* Print one message. */
void mailq_out_msg(struct mailq_out *o, const struct qlist_msg *m);
/* After the last message: the footer, or empty_text ("Mail queue is empty") when nothing
 * was printed; the closing bracket of a JSON array. */
void mailq_out_end(struct mailq_out *o, const char *empty_text);

#endif
