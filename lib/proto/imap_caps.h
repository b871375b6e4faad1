/* imap_caps.h - the CAPABILITY lists imapd announces (RFC 9051 sec 7.2.2): one place for
 * what the login part says before authentication and what the mailbox part says after, so
 * the two never disagree with what each implements. */
#ifndef POSTHORN_IMAP_CAPS_H
#define POSTHORN_IMAP_CAPS_H
#include "buf.h"
#include "imap_parse.h"
#include <stdbool.h>

#define IMAP_IMPLEMENTATION "Posthorn"

/* Before login: STARTTLS when it can be offered; AUTH=... or LOGINDISABLED by the
 * plaintext policy (RFC 9051 sec 6.2.3). Appends the words, space-separated. */
void imap_caps_prelogin(struct buf *out, bool starttls, bool may_auth);
/* After login: everything the mailbox part implements; appendlimit 0 leaves APPENDLIMIT out,
 * compress adds COMPRESS=DEFLATE. */
void imap_caps_postlogin(struct buf *out, unsigned long long appendlimit, bool compress);

/* ID's argument (RFC 2971 sec 4): NIL, or a list of field names (strings) each followed by
 * a value (a string or NIL). */
bool imap_id_params_valid(const struct imap_command *cmd);

#endif
