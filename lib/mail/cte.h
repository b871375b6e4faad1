/* cte.h - streaming Content-Transfer-Encoding decoders (RFC 2045 sec 6) for IMAP BINARY
 * (RFC 3516) and for SEARCH in text bodies. The output does not depend on how the input is
 * split into chunks. Decoding is lenient, as readers must be with real mail:
 *
 * - base64: characters outside the alphabet (line ends, white space, junk) are ignored
 *   (sec 6.8); a '=' ends the current group of four and drops its left-over bits, and
 *   decoding goes on after it (some writers concatenate padded blocks).
 * - quoted-printable (sec 6.7): "=XX" with upper- or lower-case hex digits is the byte;
 *   "=" followed by white space and a line end is a soft line break; white space before a
 *   line end or the end of the text is removed (rule 3; at most CTE_QP_WS_MAX bytes of it
 *   are held back, longer runs are kept); a hard line end is copied as it came (LF or CR
 *   LF); a '=' that starts no valid sequence is kept as it is; a '=' at the very end is
 *   dropped (a soft break with nothing after it).
 * - 7bit, 8bit, binary and no encoding at all are the identity.
 *
 * No I/O, no logging; a decoder belongs to one thread; output is appended to a caller's buf
 * and work is linear in the input. */
#ifndef POSTHORN_CTE_H
#define POSTHORN_CTE_H
#include "buf.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cte { CTE_IDENTITY, CTE_BASE64, CTE_QP, CTE_UNKNOWN };

/* The encoding named name (ASCII case-insensitive; NULL: no Content-Transfer-Encoding, the
 * identity). Anything but 7bit, 8bit, binary, base64 and quoted-printable is CTE_UNKNOWN. */
enum cte cte_from_name(const char *name);

#define CTE_QP_WS_MAX 128

struct cte_decoder {
    enum cte kind; /* CTE_UNKNOWN decodes as the identity: the caller decides */
    uint32_t bits; /* base64: bits not yet output */
    unsigned nbits;
    int state;     /* quoted-printable */
    char hex;      /* the first hex digit after '=' */
    size_t nws;    /* white space held back */
    char ws[CTE_QP_WS_MAX];
};

void cte_decoder_init(struct cte_decoder *d, enum cte kind);
/* Decode the next len bytes, appending to out. */
void cte_decode(struct cte_decoder *d, const char *in, size_t len, struct buf *out);
/* The end of the input: output what is held back; the decoder is then as after init. */
void cte_decode_finish(struct cte_decoder *d, struct buf *out);

#endif
