/* zone.h - DNS records in zone-file form (RFC 1035 sec 5.1) for `posthorn dkim keygen` and
 * `posthorn dns records`: owner names written absolute (with the final dot), TXT data cut
 * into <character-string>s of at most 255 bytes (RFC 1035 sec 3.3.14; a DKIM key is longer,
 * RFC 6376 sec 3.6.2.2 joins the strings again), '"' and '\' escaped. */
#ifndef POSTHORN_CLI_ZONE_H
#define POSTHORN_CLI_ZONE_H
#include "buf.h"
#include <stdio.h>

#define ZONE_STRING_MAX 255

/* "NAME. IN TXT "..."", or "NAME. IN TXT ( "..." "..." )" over several lines when the value
 * needs several strings; a line prefix (e.g. "; ") goes in front of every line. */
void zone_txt(struct buf *out, const char *prefix, const char *name, const char *value);
/* "NAME. IN TYPE DATA" (DATA written as given). */
void zone_record(struct buf *out, const char *prefix, const char *name, const char *type,
                 const char *data);
/* value's TXT strings as a JSON array, for --json. */
void zone_txt_json(FILE *out, const char *value);

#endif
