/* sasl_client.h - the client side of SASL PLAIN (RFC 4616) and LOGIN
 * (draft-murchison-sasl-login) for AUTH towards a relay host (RFC 4954): choosing a
 * mechanism from the server's EHLO AUTH list and building the responses, base64-encoded and
 * ready to send. Pure: no I/O, no logging; intermediate copies of the password are wiped.
 * The caller wipes its own copies and the output buffer once sent. */
#ifndef POSTHORN_SASL_CLIENT_H
#define POSTHORN_SASL_CLIENT_H
#include "buf.h"
#include <stdbool.h>

enum sasl_client_mech { SASL_CLIENT_NONE, SASL_CLIENT_PLAIN, SASL_CLIENT_LOGIN };

/* The mechanism to use from the space-separated list after EHLO's AUTH keyword (any case):
 * PLAIN when offered, else LOGIN, else SASL_CLIENT_NONE. */
enum sasl_client_mech sasl_client_pick(const char *offered);

/* PLAIN's initial response, base64(authzid NUL authcid NUL passwd), appended to out.
 * authzid may be NULL or empty. false (out unchanged) when authcid or passwd is empty,
 * a field is over 255 octets, or holds a NUL (RFC 4616 sec 2). */
bool sasl_client_plain(const char *authzid, const char *authcid, const char *passwd,
                       struct buf *out);

/* LOGIN's answer to the server's step-th challenge (0: the user name, 1: the password),
 * base64, appended to out. The prompt texts vary between servers ("Username:", "User
 * Name", ...), so the answer follows the step, not the text. false (out unchanged) for a
 * later step or an empty value. */
bool sasl_client_login(unsigned step, const char *authcid, const char *passwd, struct buf *out);

#endif
