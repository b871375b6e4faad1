/* imap_struct.h - the message-structure side of IMAP FETCH (RFC 3501, RFC 9051, RFC 3516):
 * ENVELOPE, BODYSTRUCTURE and BODY, and the contents of BODY[section]<partial>,
 * BINARY[section]<partial> and BINARY.SIZE[section], computed from a message's bytes.
 * Pure functions: no I/O, no logging, no global state; a message and a reader belong to
 * one thread. Running out of memory is fatal (mem.h).
 *
 * Line ends. The store keeps messages with LF line ends (CRLF is accepted as well), while
 * every IMAP octet count is of the message with CRLF line ends (RFC822.SIZE is the store's
 * vsize). Posthorn never rewrites the file: the CRLF form is produced on the fly, and an
 * index of bare LFs per IMAP_CRLF_BLOCK bytes maps offsets between the two forms, so a
 * size costs O(IMAP_CRLF_BLOCK) and a partial fetch starts without reading what it skips.
 * The CRLF form of a range is the range with each LF not preceded by CR (in the range)
 * written as CR LF; a bare CR stays as it is. Sizes, "lines" and partial offsets are all of
 * that form, and the whole message's CRLF size equals the store's vsize.
 *
 * Strings. ENVELOPE and BODYSTRUCTURE strings are quoted strings when they can be, else
 * literals ("{n}\r\n" and the bytes, inline in the output): a string with CR or LF, or
 * with 8-bit bytes unless IMAP_FMT_UTF8 is set and they are well-formed UTF-8 (IMAP4rev2,
 * RFC 9051 sec 4.3 and 9; UTF8=ACCEPT, RFC 6855 sec 3, once the client enabled it). No
 * IMAP string can hold NUL: a NUL byte is written as 0x80, in these strings and in
 * BODY[...] contents (same size, visibly not text). BINARY contents are left as they are;
 * the reader says when they hold a NUL so the daemon answers with literal8 (~{n}).
 *
 * Bounds. The MIME tree is mime.h's with MIME_LIMITS_DEFAULT (depth 32, 10000 parts).
 * Every function is linear in the message (BODYSTRUCTURE: in the sum of the part headers
 * plus the tree), header values and address lists of any length included; output is
 * proportional to what it describes. Section readers hand out bounded slices, so a 50 MB
 * literal can be streamed. */
#ifndef POSTHORN_IMAP_STRUCT_H
#define POSTHORN_IMAP_STRUCT_H
#include "buf.h"
#include "mime.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAP_CRLF_BLOCK 4096

/* Output flags for ENVELOPE and BODYSTRUCTURE. */
enum imap_fmt_flag {
    IMAP_FMT_UTF8 = 1 << 0,           /* well-formed UTF-8 may go in quoted strings */
    IMAP_FMT_MESSAGE_GLOBAL = 1 << 1, /* message/global is written like message/rfc822,
                                         with envelope, body and lines (RFC 9051's
                                         media-message); without it, as a basic part
                                         (RFC 3501's grammar has only MESSAGE/RFC822) */
};

/* A message: its bytes (borrowed: they must outlive it and not change), its MIME tree and
 * the CRLF index. */
struct imap_message;

struct imap_message *imap_message_new(const char *data, size_t len);
void imap_message_free(struct imap_message *m);
/* RFC822.SIZE: the message's size with CRLF line ends. */
uint64_t imap_message_size(const struct imap_message *m);
/* The MIME tree (mime.h), part 0 the whole message. */
const struct mime_part *imap_message_parts(const struct imap_message *m, size_t *count);

/* ENVELOPE (RFC 3501 sec 7.4.2, RFC 9051 sec 7.5.2) of the message, appended to out as the
 * parenthesised list: date, subject, from, sender, reply-to, to, cc, bcc, in-reply-to,
 * message-id. The first field of each name counts; values are unfolded and trimmed, not
 * RFC 2047 decoded. A missing field is NIL, an empty one "" (an address list that holds no
 * address is NIL). Sender and Reply-To default to From when missing or empty. Addresses as
 * addrlist.h parses them: (name adl mailbox host); a group is (NIL NIL "name" NIL), its
 * members, (NIL NIL NIL NIL). */
void imap_envelope(const struct imap_message *m, unsigned flags, struct buf *out);

/* BODYSTRUCTURE (extensible: with extension data) and BODY (without), RFC 3501 sec 7.4.2
 * and 9, RFC 9051 sec 7.5.2 and 9, appended to out.
 * - Types, subtypes, parameter names and encodings come lower-cased (mime.h lower-cases
 *   them; IMAP compares them case-insensitively); parameter values as written (RFC 2231
 *   names and values undecoded).
 * - A text part without a charset parameter gets ("charset" "us-ascii") first; a part
 *   without Content-Transfer-Encoding "7bit". Sizes and lines are of the CRLF form.
 * - message/rfc822 has envelope, body and lines of the attached message; when mime.h did
 *   not parse it (encoded, nested too deep, part limit) the envelope is all NIL and the
 *   body an empty text/plain.
 * - A multipart that has no parts (no boundary, no delimiter line, encoded, nested too
 *   deep) is written with one empty text/plain part, as the grammar needs one; that part
 *   is also what the section "N.1" of it gives (empty).
 * - Extension data: body-fld-md5 (Content-MD5), disposition and its parameters, language
 *   (one string, or a list when Content-Language holds several tags), location
 *   (Content-Location); for a multipart its parameters, disposition, language, location. */
void imap_bodystructure(const struct imap_message *m, unsigned flags, struct buf *out);
void imap_body(const struct imap_message *m, unsigned flags, struct buf *out);

/* ---- sections (RFC 3501 sec 6.4.5, RFC 9051 sec 6.4.5, RFC 3516 sec 4.2) ---- */

/* What comes after the part numbers. */
enum imap_section_kind {
    IMAP_SECTION_ALL,               /* BODY[] or BODY[1.2]: the message, or the part's body */
    IMAP_SECTION_HEADER,            /* [HEADER] [1.HEADER] */
    IMAP_SECTION_HEADER_FIELDS,     /* [HEADER.FIELDS (A B)] */
    IMAP_SECTION_HEADER_FIELDS_NOT, /* [HEADER.FIELDS.NOT (A B)] */
    IMAP_SECTION_TEXT,              /* [TEXT] [1.TEXT] */
    IMAP_SECTION_MIME,              /* [1.MIME]: needs part numbers */
};

/* A section as the daemon's parser hands it over; nothing here is kept after the call
 * that uses it. */
struct imap_section {
    const uint32_t *part; /* part numbers ("1.2.3" is {1, 2, 3}); each >= 1 */
    size_t n_part;
    enum imap_section_kind kind;
    const char *const *fields; /* HEADER.FIELDS[.NOT] names, matched case-insensitively */
    size_t n_fields;
};

enum imap_section_mode {
    IMAP_SECTION_BODY,   /* BODY[section]: the bytes in CRLF form */
    IMAP_SECTION_BINARY, /* BINARY[section]: the part's body with its transfer encoding
                            undone (the CRLF form decoded); only part numbers allowed */
};

enum imap_section_status {
    IMAP_SECTION_OK,
    IMAP_SECTION_MISSING,     /* no such part (the RFCs do not say what to answer: an
                                 empty string or NIL, as the daemon chooses) */
    IMAP_SECTION_INVALID,     /* the section does not apply: a part number 0, MIME without
                                 a part number, HEADER/TEXT of a part that is not a message,
                                 BINARY with HEADER, TEXT or MIME */
    IMAP_SECTION_UNKNOWN_CTE, /* BINARY of a part whose encoding is not 7bit, 8bit, binary,
                                 base64 or quoted-printable: NO [UNKNOWN-CTE] */
};

/* Part numbers (RFC 3501 sec 6.4.5): a message that is not multipart has a part 1, its
 * body; a multipart's parts are numbered from 1; the parts of a message/rfc822 (or
 * message/global) part are those of the message it holds, so "2.1" is the attached
 * message's part 1. HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT and TEXT after part numbers
 * need a message/rfc822 part and are of the message it holds; MIME is the part's own header.
 * Header sections include the empty line that ends the header (when it has one); the
 * HEADER.FIELDS subsets are made of whole fields with their continuation lines. */

/* A section's contents, read in slices. */
struct imap_section_reader;

/* Resolve s for mode: on IMAP_SECTION_OK *r is a reader positioned at octet 0 (free it with
 * imap_section_close), else *r is NULL. BINARY sizes its output by decoding once here. */
enum imap_section_status imap_section_open(const struct imap_message *m,
                                           const struct imap_section *s,
                                           enum imap_section_mode mode,
                                           struct imap_section_reader **r);
/* The size of the whole section in octets (BINARY.SIZE). */
uint64_t imap_section_size(const struct imap_section_reader *r);
/* BINARY: do the contents hold a NUL octet (then they must go as literal8)? false in BODY
 * mode, where NUL is written as 0x80. */
bool imap_section_has_nul(const struct imap_section_reader *r);
/* Move forward to octet offset (the start of a partial <start.len>); an offset past the end
 * leaves nothing to read. Moving backwards is not supported: open again. */
void imap_section_seek(struct imap_section_reader *r, uint64_t offset);
/* Append up to max octets of the contents from the current position to out and move on;
 * returns how many were appended, 0 at the end. */
size_t imap_section_read(struct imap_section_reader *r, size_t max, struct buf *out);
void imap_section_close(struct imap_section_reader *r);

/* All of it at once: octets [start, start + len) of the section (len UINT64_MAX: to the
 * end) appended to out, *size (when not NULL) the section's whole size. */
enum imap_section_status imap_section_fetch(const struct imap_message *m,
                                            const struct imap_section *s,
                                            enum imap_section_mode mode, uint64_t start,
                                            uint64_t len, struct buf *out, uint64_t *size);

#endif
