/* imap_struct_int.h - what the files of imap_struct (imap_struct.c, imap_string.c,
 * imap_envelope.c, imap_bodystructure.c, imap_section.c, imap_section_reader.c) share and
 * nobody else uses. */
#ifndef POSTHORN_IMAP_STRUCT_INT_H
#define POSTHORN_IMAP_STRUCT_INT_H
#include "cte.h"
#include "imap_struct.h"

struct imap_message {
    const char *data;
    size_t len;
    struct mime_parser *parser;
    const struct mime_part *parts;
    size_t n_parts;
    size_t *bare; /* bare[k]: LFs without a CR before them in data[0 .. k * IMAP_CRLF_BLOCK) */
    size_t n_blocks;
};

/* ---- imap_struct.c: the CRLF form ---- */

/* The size of the CRLF form of data[off .. off + len). */
uint64_t imap_crlf_size(const struct imap_message *m, size_t off, size_t len);
/* Append the CRLF form of s[0..len) to out. *prev_cr says whether the byte before s (in the
 * same range) was CR; it is updated. nul_80: write NUL as 0x80. */
void imap_crlf_append(const char *s, size_t len, bool *prev_cr, bool nul_80, struct buf *out);
/* Is pt of type message/rfc822 or message/global? */
bool imap_is_message(const struct mime_part *pt);
bool imap_is_multipart(const struct mime_part *pt);

/* ---- imap_string.c: IMAP strings ---- */

/* s[0..len) as a quoted string or a literal (see imap_struct.h, "Strings"). */
void imap_put_string(struct buf *out, const char *s, size_t len, unsigned flags);
/* The same, or NIL when s is NULL. */
void imap_put_nstring(struct buf *out, const char *s, size_t len, unsigned flags);
/* A C string (NULL: NIL). */
void imap_put_cstring(struct buf *out, const char *s, unsigned flags);

/* ---- imap_envelope.c ---- */

/* The envelope of the message whose header is that of part idx. */
void imap_envelope_of(const struct imap_message *m, size_t idx, unsigned flags,
                      struct buf *out);
/* An envelope of NILs, for a message/rfc822 part mime.h could not parse. */
void imap_envelope_nil(struct buf *out);

/* ---- imap_section.c: what a section is made of ---- */

struct imap_source {
    bool owned;      /* buf holds the contents, already in CRLF form (HEADER.FIELDS) */
    struct buf buf;
    size_t off, len; /* else the CRLF form of data[off .. off + len) */
    enum cte cte;    /* BINARY: the encoding to undo (CTE_IDENTITY: none) */
};

/* Resolve s into *src (its buf initialised in any case; the caller frees it). */
enum imap_section_status imap_section_resolve(const struct imap_message *m,
                                              const struct imap_section *s,
                                              enum imap_section_mode mode,
                                              struct imap_source *src);

/* ---- imap_section_reader.c ---- */

/* A reader of src, which it takes over. */
struct imap_section_reader *imap_reader_new(const struct imap_message *m,
                                            struct imap_source *src,
                                            enum imap_section_mode mode);

#endif
