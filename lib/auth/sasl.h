/* sasl.h - the server side of the SASL mechanisms the POP3 and IMAP login processes and
 * submission offer: PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login). Their exchanges
 * travel as strict base64, which lives in lib/util/base64.h (included here for the protocol
 * code). sasl_exchange runs one exchange whatever the protocol around it (POP3 AUTH, IMAP
 * AUTHENTICATE, SMTP AUTH: the protocol frames the challenges and replies). No I/O, no
 * logging; decoded names and passwords are wiped when freed. */
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

/* One exchange, from the AUTH command to the credentials. */
enum sasl_state { SASL_IDLE, SASL_WANT_PLAIN, SASL_WANT_LOGIN_USER, SASL_WANT_LOGIN_PASS };

struct sasl_exchange {
    enum sasl_state state;
    const char *mech; /* "PLAIN" or "LOGIN" once started (kept after the end, for the log) */
    char *user;       /* LOGIN: the name, until the password comes */
};

enum sasl_status {
    SASL_CHALLENGE,   /* send the challenge (base64, possibly empty); the exchange goes on */
    SASL_DONE,        /* the credentials are complete: check them */
    SASL_BAD_BASE64,  /* not strict base64, or an empty or NUL-holding LOGIN field: a
                       * protocol error; the exchange is over */
    SASL_MALFORMED,   /* a PLAIN message that is not one, or that asks to act as another
                       * user: counts as a failed login; the exchange is over (in the
                       * second case creds->authcid is kept, for the log line) */
    SASL_CANCELLED,   /* the client sent "*" (RFC 4954 sec 4, RFC 5034 sec 4) */
    SASL_UNSUPPORTED  /* not PLAIN or LOGIN */
};

/* Start mech with the initial response (NULL: none; "=" is an empty one, RFC 4954 sec 4,
 * RFC 4959 sec 3). On SASL_CHALLENGE *challenge is set; on SASL_DONE *creds is filled (free
 * it with sasl_creds_free). Any earlier exchange is forgotten first. */
enum sasl_status sasl_exchange_start(struct sasl_exchange *x, const char *mech,
                                     const char *initial, struct sasl_creds *creds,
                                     const char **challenge);
/* The client's response line to the last challenge. */
enum sasl_status sasl_exchange_step(struct sasl_exchange *x, const char *line,
                                    struct sasl_creds *creds, const char **challenge);
/* Is a response awaited? */
bool sasl_exchange_active(const struct sasl_exchange *x);
/* Forget the exchange (the name held is wiped). */
void sasl_exchange_reset(struct sasl_exchange *x);

#endif
