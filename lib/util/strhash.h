/* strhash.h - the string hash of Posthorn's small in-memory tables (per-address and per-user
 * counts): 32-bit FNV-1a over the bytes of a NUL-terminated string. Not for anything an
 * attacker could use to flood one bucket where that matters more than a chain walk. */
#ifndef POSTHORN_STRHASH_H
#define POSTHORN_STRHASH_H

static inline unsigned str_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

#endif
