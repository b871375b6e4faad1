/* sasl.h - the server side of the SASL mechanisms the POP3 and IMAP login processes offer:
 * PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login). Their exchanges travel as strict
 * base64, which lives in lib/util/base64.h (included here for the protocol code). No I/O,
 * no logging; the decoded credentials are wiped by sasl_creds_free(). */
#ifndef POSTHORN_SASL_H
#define POSTHORN_SASL_H
#include "base64.h"
#include <stdbool.h>
#include <stddef.h>

struct sasl_creds {
    char *authzid; /* NULL or the requested identity (PLAIN only) */
    char *authcid; /* the login name */
    char *passwd;
};

/* RFC 4616 sec 2: message = [authzid] NUL authcid NUL passwd, authcid and passwd 1..255
 * octets without NUL. Returns false (creds untouched) on a malformed message. */
bool sasl_plain_parse(const char *msg, size_t len, struct sasl_creds *creds);
/* Wipe and free every field. */
void sasl_creds_free(struct sasl_creds *creds);

/* The two prompts of the LOGIN mechanism, already base64: "Username:" and "Password:". */
#define SASL_LOGIN_USER_PROMPT "VXNlcm5hbWU6"
#define SASL_LOGIN_PASS_PROMPT "UGFzc3dvcmQ6"

#endif
