/* submit_message.h - reading a message submitted on the local host (sendmail(1) and the
 * pickup service that queues it for other users): line ends normalised to LF (the queue
 * stores LF), the classic single-dot terminator unless ignore_dots, an mbox "From " line
 * before the headers dropped, the header section found and noted (Date, Message-ID, From
 * present?), Bcc removed (RFC 5322 section 3.6.3 lets the submitter drop it), and the To, Cc
 * and Bcc addresses collected for sendmail -t. Reading a message written by this reader
 * again gives the same message. */
#ifndef POSTHORN_SUBMIT_MESSAGE_H
#define POSTHORN_SUBMIT_MESSAGE_H
#include "buf.h"
#include <stdbool.h>
#include <stdio.h>

struct submit_message {
    struct buf headers; /* the header section as read (LF line ends, Bcc removed) */
    struct buf body;    /* everything after the header section, including the blank line */
    bool has_date, has_message_id, has_from;
    bool eight_bit;     /* a byte >= 0x80 somewhere: body=8BITMIME */
    char **to;          /* addresses from To/Cc/Bcc (for -t) */
    size_t nto;
};

/* Read the message from in: 0, or -1 when it is longer than limit bytes (*too_big set) or
 * unreadable. */
int submit_message_read(FILE *in, bool ignore_dots, size_t limit, struct submit_message *m,
                        bool *too_big);
void submit_message_free(struct submit_message *m);
/* Append the addresses of an RFC 5322 address-list (a header field's value) to *v. */
void submit_extract_addresses(const char *value, char ***v, size_t *n);

#endif
