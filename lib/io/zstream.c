/* zstream.c - raw DEFLATE streams with zlib (see zstream.h). */
#include "zstream.h"
#include "mem.h"
#include <stdlib.h>
#include <zlib.h>

struct zstream {
    z_stream def, inf;
    bool def_ok, inf_ok, inf_end;
};

struct zstream *zstream_new(int level, int window_bits, int mem_level)
{
    struct zstream *z = xcalloc(1, sizeof *z);
    /* Negative window bits: raw DEFLATE, no zlib header (RFC 4978 sec 4). */
    z->def_ok = deflateInit2(&z->def, level, Z_DEFLATED, -window_bits, mem_level,
                             Z_DEFAULT_STRATEGY) == Z_OK;
    z->inf_ok = inflateInit2(&z->inf, -15) == Z_OK;
    if (!z->def_ok || !z->inf_ok) {
        zstream_free(z);
        return NULL;
    }
    return z;
}

void zstream_free(struct zstream *z)
{
    if (!z)
        return;
    if (z->def_ok)
        deflateEnd(&z->def);
    if (z->inf_ok)
        inflateEnd(&z->inf);
    free(z);
}

bool zstream_deflate(struct zstream *z, const void *data, size_t len, struct buf *out)
{
    z->def.next_in = (Bytef *)data;
    z->def.avail_in = (uInt)len;
    do {
        buf_reserve(out, 4096);
        z->def.next_out = (Bytef *)out->data + out->len;
        z->def.avail_out = (uInt)(out->cap - out->len - 1); /* cap counts the NUL's room */
        size_t before = z->def.avail_out;
        int r = deflate(&z->def, Z_SYNC_FLUSH);
        if (r != Z_OK && r != Z_BUF_ERROR)
            return false;
        out->len += before - z->def.avail_out;
        /* Done when the input is used and deflate had room left over (all flushed). */
    } while (z->def.avail_in > 0 || z->def.avail_out == 0);
    return true;
}

long zstream_inflate(struct zstream *z, struct buf *in, struct buf *out, size_t room)
{
    if (z->inf_end)
        return in->len ? -1 : 0;
    size_t added = 0;
    while (in->len > 0 && added < room) {
        size_t want = room - added < 16384 ? room - added : 16384;
        buf_reserve(out, want);
        z->inf.next_in = (Bytef *)in->data;
        z->inf.avail_in = (uInt)in->len;
        z->inf.next_out = (Bytef *)out->data + out->len;
        z->inf.avail_out = (uInt)want;
        int r = inflate(&z->inf, Z_SYNC_FLUSH);
        size_t used = in->len - z->inf.avail_in, made = want - z->inf.avail_out;
        out->len += made;
        added += made;
        buf_consume(in, used);
        if (r == Z_STREAM_END) {
            z->inf_end = true; /* the client ended its stream: nothing may follow */
            break;
        }
        if (r != Z_OK && r != Z_BUF_ERROR)
            return -1;
        if (made == 0 && used == 0)
            break; /* needs more input */
    }
    return (long)added;
}
