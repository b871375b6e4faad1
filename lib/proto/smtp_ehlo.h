/* smtp_ehlo.h - the SMTP client's reading of a server's EHLO reply (RFC 5321 sec 4.1.1.1):
 * the first line names the server, every further line is an extension keyword with its
 * parameters. Keywords are matched without regard to case; unknown ones are ignored.
 *
 * Contract: pure (no I/O, no logging, no allocation), fed a complete struct smtp_reply
 * (lib/proto/smtp_reply.h) whose text is bounded; the result is a caller-owned struct with
 * fixed-size fields (an over-long AUTH list or host name is cut, never overflows). */
#ifndef POSTHORN_SMTP_EHLO_H
#define POSTHORN_SMTP_EHLO_H
#include "smtp_reply.h"
#include <stdbool.h>

enum smtp_ext {
    SMTP_EXT_PIPELINING = 1u << 0, /* RFC 2920 */
    SMTP_EXT_SIZE = 1u << 1,       /* RFC 1870 */
    SMTP_EXT_8BITMIME = 1u << 2,   /* RFC 6152 */
    SMTP_EXT_SMTPUTF8 = 1u << 3,   /* RFC 6531 */
    SMTP_EXT_DSN = 1u << 4,        /* RFC 3461 */
    SMTP_EXT_STARTTLS = 1u << 5,   /* RFC 3207 */
    SMTP_EXT_AUTH = 1u << 6,       /* RFC 4954 */
    SMTP_EXT_CHUNKING = 1u << 7,   /* RFC 3030 */
    SMTP_EXT_ENHANCEDSTATUSCODES = 1u << 8, /* RFC 2034 */
};

#define SMTP_EHLO_AUTH_MAX 200
#define SMTP_EHLO_HOST_MAX 256

struct smtp_ehlo {
    unsigned ext;                    /* enum smtp_ext bits */
    unsigned long long size;         /* SIZE's limit in bytes; 0 when none was given */
    char auth[SMTP_EHLO_AUTH_MAX];   /* the mechanisms after AUTH (or AUTH=), space-separated */
    char host[SMTP_EHLO_HOST_MAX];   /* the first word of the first line: the server's name */
};

/* Read a complete 250 reply to EHLO (or the greeting, for the host name only: then the
 * other lines are ignored). */
void smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ehlo *out);
/* The host name the server gives in the first line of a reply (greeting or EHLO), cut to
 * outsize; "" when the line is empty. */
void smtp_reply_host(const struct smtp_reply *r, char *out, size_t outsize);

#endif
