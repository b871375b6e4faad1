/* zstream.h - raw DEFLATE (RFC 1951) streams over lib/util/buf, for a connection that
 * compresses both directions (IMAP COMPRESS=DEFLATE, RFC 4978): one deflater for what we
 * send, flushed with Z_SYNC_FLUSH at each batch of replies so the peer can decode all of it,
 * and one inflater for what we receive, whose output is bounded by the caller's room. */
#ifndef POSTHORN_ZSTREAM_H
#define POSTHORN_ZSTREAM_H
#include "buf.h"
#include <stdbool.h>
#include <stddef.h>

struct zstream;

/* level: 0-9 (zlib's levels); window_bits 9-15 bounds our deflate window (and memory: about
 * 2^(window_bits+2) + 2^(mem_level+9) bytes); the inflater always accepts a 32 KiB window,
 * since the peer chooses its own (RFC 4978 sec 4). NULL when zlib cannot allocate. */
struct zstream *zstream_new(int level, int window_bits, int mem_level);
void zstream_free(struct zstream *z);
/* Compress len bytes and append them, flushed to a byte boundary, to out. false on error. */
bool zstream_deflate(struct zstream *z, const void *data, size_t len, struct buf *out);
/* Decompress from in (consuming what was used) into out, adding at most room bytes. Returns
 * the number of bytes added, or -1 when the input is not valid DEFLATE data or after the
 * stream's end. Input left in `in` waits for room. */
long zstream_inflate(struct zstream *z, struct buf *in, struct buf *out, size_t room);
#endif
