/* msgid.h - message identifiers in Message-ID, References and In-Reply-To (RFC 5322 sec
 * 3.6.4: msg-id = [CFWS] "<" id-left "@" id-right ">" [CFWS]) as IMAP THREAD=REFERENCES
 * reads them (RFC 5256 sec 3). Comments are skipped (nested, with quoted pairs), so an
 * address in "(message from <a@b>)" is no identifier; white space inside the brackets is
 * dropped (the obsolete syntax of sec 4.5.4 allows CFWS around the '@'); an identifier is
 * valid when it has an '@' with text on both sides. Other text between identifiers (the
 * phrases of obs-in-reply-to, junk) is skipped. Pure; no I/O. */
#ifndef POSTHORN_MSGID_H
#define POSTHORN_MSGID_H
#include "buf.h"
#include <stdbool.h>
#include <stddef.h>

/* The next valid identifier in s[*pos..len): true with the text between the brackets
 * appended to id (emptied first) and *pos past it; false at the end. */
bool mail_msgid_next(const char *s, size_t len, size_t *pos, struct buf *id);

#endif
