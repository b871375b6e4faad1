/* sendmail.h - the pieces of the sendmail(1) front end: sendmail.c (options, envelope,
 * queueing) and sendmail_msg.c (reading the message, headers, -t address extraction). */
#ifndef POSTHORN_CLI_SENDMAIL_H
#define POSTHORN_CLI_SENDMAIL_H
#include "buf.h"
#include <stdbool.h>
#include <stdio.h>

struct sm_message {
    struct buf headers; /* the header section as read (LF line ends, Bcc removed) */
    struct buf body;    /* everything after the header section, including the blank line */
    bool has_date, has_message_id, has_from;
    bool eight_bit;     /* a byte >= 0x80 somewhere: body=8BITMIME */
    char **to;          /* addresses from To/Cc/Bcc (for -t) */
    size_t nto;
};

/* Read the message from in: CRLF becomes LF; unless ignore_dots, a line with a single '.'
 * ends it. Returns 0, or -1 when it is longer than limit bytes (*too_big set) or unreadable. */
int sm_read_message(FILE *in, bool ignore_dots, size_t limit, struct sm_message *m, bool *too_big);
void sm_message_free(struct sm_message *m);
/* Split an RFC 5322 address-list (header value) into addresses, appended to *v. */
void sm_extract_addresses(const char *value, char ***v, size_t *n);

#endif
