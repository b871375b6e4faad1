/* pickup_client.h - handing a locally submitted message to the pickup service
 * (SPOOL/public/pickup, doc/pickup.md), which queues it for local users that may not
 * write the spool. The message travels as a sealed memfd attached to the request; the
 * service learns the submitting uid from the socket (SO_PEERCRED), never from the request. */
#ifndef POSTHORN_PICKUP_CLIENT_H
#define POSTHORN_PICKUP_CLIENT_H
#include "local_submit.h"

#define PICKUP_SOCKET "public/pickup"
#define PICKUP_FULLNAME_MAX 256

/* EX_OK with the queue ID in id, or a sysexits status (EX_TEMPFAIL when the service cannot
 * be reached or does not answer within timeout_ms, else the service's verdict) with *err
 * (malloc'ed). e->uid is not sent. */
int pickup_submit(const char *spool, int timeout_ms, const struct local_envelope *e,
                  const struct submit_message *m, char id[QUEUE_ID_SIZE], char **err);

/* Ask the service to have qmgr deliver the deferred mail now (sendmail -q): EX_OK, or a
 * sysexits status with *err. */
int pickup_flush(const char *spool, int timeout_ms, char **err);
/* How each of addrs[0..n) would be delivered (sendmail -bv): EX_OK with verdict[i] (EX_OK,
 * EX_NOUSER or EX_TEMPFAIL) and text[i] (malloc'ed) filled in, or EX_TEMPFAIL with *err. */
int pickup_verify(const char *spool, int timeout_ms, char **addrs, size_t n, int *verdict,
                  char **text, char **err);

#endif
