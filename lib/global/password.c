/* password.c - password hashing and verification (see password.h): new hashes, and the
 * table of the schemes a stored hash may use.
 *
 * New hashes: Argon2id (RFC 9106), by default t=3 passes over m=64 MiB with p=1 lane
 * (RFC 9106 sec 4, second recommended option, with one lane so a login process does not
 * spawn threads; argon2_time_cost and argon2_memory_cost change the first two), 16-byte
 * random salt, 32-byte tag, in the PHC string format that Dovecot also writes:
 * "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$SALT$HASH".
 * Verification parses the stored parameters (bounded, so a hostile record cannot ask for
 * gigabytes), recomputes, and compares with CRYPTO_memcmp. The computation uses libsodium
 * (its optimised Argon2 core takes half the time of libargon2's on these machines, and a
 * login costs one hash: the same cost as Dovecot, which also uses libsodium) whenever the
 * parameters fit it (16-byte salt, one lane), and libargon2 for any other valid hash.
 * {ARGON2I} ("$argon2i$", what older Dovecot versions wrote) is checked with libargon2.
 * The other schemes of migrated users (Dovecot's crypt(3) and SHA schemes) are in
 * password_crypt.c and password_sha.c; every comparison is constant-time. */
#include "password.h"
#include "password_int.h"
#include "config.h"
#include "mem.h"
#include <argon2.h>
#include <sodium.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define A2_LANES 1
#define A2_SALT_LEN 16
#define A2_HASH_LEN 32
#define A2_MAX_M_COST (1024 * 1024) /* 1 GiB */
#define A2_MAX_T_COST 64
#define A2_MAX_LANES 16
#define A2_MAX_BIN 128

#define PFX_ARGON2ID "{ARGON2ID}"

struct password_cost password_cost_of(struct config *cfg)
{
    return (struct password_cost){(unsigned)config_int(cfg, PARAM(argon2_time_cost)),
                                  (unsigned)config_int(cfg, PARAM(argon2_memory_cost))};
}

char *password_hash(const char *plain, const struct password_cost *cost, char **err)
{
    uint8_t salt[A2_SALT_LEN];
    if (RAND_bytes(salt, sizeof salt) != 1) {
        *err = xstrdup("no random bytes for a salt");
        return NULL;
    }
    size_t plen = strlen(plain);
    uint32_t t = cost->t_cost, m = cost->m_cost_kib;
    size_t enclen = argon2_encodedlen(t, m, A2_LANES, A2_SALT_LEN, A2_HASH_LEN, Argon2_id);
    char *out = xmalloc(sizeof PFX_ARGON2ID + enclen);
    memcpy(out, PFX_ARGON2ID, sizeof PFX_ARGON2ID - 1);
    int rc = argon2id_hash_encoded(t, m, A2_LANES, plain, plen, salt, sizeof salt, A2_HASH_LEN,
                                   out + sizeof PFX_ARGON2ID - 1, enclen);
    if (rc != ARGON2_OK) {
        *err = xasprintf("argon2id: %s", argon2_error_message(rc));
        free(out);
        return NULL;
    }
    return out;
}

/* Unpadded standard base64 (the PHC string alphabet). Returns the length or -1. */
static long b64_decode(const char *s, size_t len, uint8_t *out, size_t max)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        const char *p = s[i] ? strchr(alpha, s[i]) : NULL;
        if (!p)
            return -1;
        acc = (acc << 6) | (uint32_t)(p - alpha);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= max)
                return -1;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0) /* impossible length or stray bits */
        return -1;
    return (long)n;
}

struct a2params {
    uint32_t m, t, p;
    uint8_t salt[A2_MAX_BIN], hash[A2_MAX_BIN];
    long saltlen, hashlen;
};

/* Parse "$TYPE$v=19$m=M,t=T,p=P$SALT$HASH" (TYPE argon2id or argon2i). */
static int parse_argon2(const char *s, const char *type, struct a2params *a)
{
    int off = 0;
    unsigned m, t, p;
    size_t tl = strlen(type);
    if (s[0] != '$' || strncmp(s + 1, type, tl) != 0 || s[tl + 1] != '$')
        return -1;
    s += tl + 1;
    if (sscanf(s, "$v=19$m=%u,t=%u,p=%u$%n", &m, &t, &p, &off) != 3 || off == 0)
        return -1;
    if (m > A2_MAX_M_COST || t < 1 || t > A2_MAX_T_COST || p < 1 || p > A2_MAX_LANES || m < 8 * p)
        return -1;
    const char *salt = s + off, *dollar = strchr(salt, '$');
    if (!dollar)
        return -1;
    a->saltlen = b64_decode(salt, (size_t)(dollar - salt), a->salt, sizeof a->salt);
    a->hashlen = b64_decode(dollar + 1, strlen(dollar + 1), a->hash, sizeof a->hash);
    if (a->saltlen < 8 || a->hashlen < 4)
        return -1;
    a->m = m;
    a->t = t;
    a->p = p;
    return 0;
}

static int verify_argon2id(const char *plain, const char *encoded)
{
    struct a2params a;
    if (parse_argon2(encoded, "argon2id", &a) < 0)
        return -1;
    uint8_t out[A2_MAX_BIN];
    if (a.saltlen == crypto_pwhash_SALTBYTES && a.p == 1 && a.hashlen >= crypto_pwhash_BYTES_MIN &&
        sodium_init() >= 0) {
        if (crypto_pwhash(out, (unsigned long long)a.hashlen, plain, strlen(plain), a.salt, a.t,
                          (size_t)a.m * 1024, crypto_pwhash_ALG_ARGON2ID13) != 0)
            return -1;
    } else if (argon2id_hash_raw(a.t, a.m, a.p, plain, strlen(plain), a.salt, (size_t)a.saltlen,
                                 out, (size_t)a.hashlen) != ARGON2_OK) {
        return -1;
    }
    int ok = CRYPTO_memcmp(out, a.hash, (size_t)a.hashlen) == 0;
    OPENSSL_cleanse(out, sizeof out);
    return ok;
}

static int verify_argon2i(const char *plain, const char *encoded)
{
    struct a2params a;
    if (parse_argon2(encoded, "argon2i", &a) < 0)
        return -1;
    uint8_t out[A2_MAX_BIN];
    if (argon2i_hash_raw(a.t, a.m, a.p, plain, strlen(plain), a.salt, (size_t)a.saltlen, out,
                         (size_t)a.hashlen) != ARGON2_OK)
        return -1;
    int ok = CRYPTO_memcmp(out, a.hash, (size_t)a.hashlen) == 0;
    OPENSSL_cleanse(out, sizeof out);
    return ok;
}

int pw_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}

/* The schemes a stored hash may use, in Dovecot's names. */
enum kind { K_ARGON2ID, K_ARGON2I, K_CRYPT, K_SHA };
static const struct scheme {
    const char *name;
    enum kind kind;
    const char *arg; /* crypt prefix (NULL: any) or digest name */
    int salted;
    char encoding;   /* SHA schemes: 'b' base64, 'h' hex */
} schemes[] = {
    {"ARGON2ID", K_ARGON2ID, NULL, 0, 0},
    {"ARGON2I", K_ARGON2I, NULL, 0, 0},
    {"SHA512-CRYPT", K_CRYPT, "$6$", 0, 0},
    {"SHA256-CRYPT", K_CRYPT, "$5$", 0, 0},
    {"BLF-CRYPT", K_CRYPT, "$2y$", 0, 0},
    {"MD5-CRYPT", K_CRYPT, "$1$", 0, 0},
    {"CRYPT", K_CRYPT, NULL, 0, 0},
    {"SSHA512", K_SHA, "SHA512", 1, 'b'},
    {"SSHA256", K_SHA, "SHA256", 1, 'b'},
    {"SSHA", K_SHA, "SHA1", 1, 'b'},
    {"SHA512", K_SHA, "SHA512", 0, 'b'},
    {"SHA256", K_SHA, "SHA256", 0, 'b'},
    {"SHA1", K_SHA, "SHA1", 0, 'b'},
    {"SHA", K_SHA, "SHA1", 0, 'b'},
};

/* The scheme of "{NAME}hash" (NAME in any case; ".HEX" or ".B64" after it choose the
 * encoding of a SHA scheme), *hash pointing after the "}", *encoding its encoding. */
static const struct scheme *find_scheme(const char *stored, const char **hash, char *encoding)
{
    const char *close = stored[0] == '{' ? strchr(stored, '}') : NULL;
    if (!close)
        return NULL;
    size_t n = (size_t)(close - stored - 1);
    const char *name = stored + 1, *dot = memchr(name, '.', n);
    size_t base = dot ? (size_t)(dot - name) : n;
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        const struct scheme *s = &schemes[i];
        if (strlen(s->name) != base || strncasecmp(name, s->name, base) != 0)
            continue;
        *encoding = s->encoding;
        if (dot) {
            size_t elen = n - base - 1;
            if (s->kind != K_SHA || elen != 3)
                return NULL;
            if (strncasecmp(dot + 1, "hex", 3) == 0)
                *encoding = 'h';
            else if (strncasecmp(dot + 1, "b64", 3) == 0)
                *encoding = 'b';
            else
                return NULL;
        }
        *hash = close + 1;
        return s;
    }
    return NULL;
}

int password_verify(const char *plain, const char *stored)
{
    if (!plain || !stored)
        return -1;
    const char *hash;
    char enc;
    const struct scheme *s = find_scheme(stored, &hash, &enc);
    if (!s)
        return -1;
    switch (s->kind) {
    case K_ARGON2ID: return verify_argon2id(plain, hash);
    case K_ARGON2I: return verify_argon2i(plain, hash);
    case K_CRYPT: return pw_crypt_verify(plain, hash, s->arg);
    case K_SHA: return pw_sha_verify(plain, hash, s->arg, s->salted, enc);
    }
    return -1;
}

bool password_usable(const char *stored, const char **why)
{
    const char *hash;
    char enc;
    struct a2params a;
    const struct scheme *s = stored ? find_scheme(stored, &hash, &enc) : NULL;
    int rc = -1;
    if (!s) {
        *why = stored && stored[0] == '{' && strchr(stored, '}') ? "unsupported password scheme"
                                                                 : "no {SCHEME} prefix";
        return false;
    }
    switch (s->kind) {
    case K_ARGON2ID: rc = parse_argon2(hash, "argon2id", &a); break;
    case K_ARGON2I: rc = parse_argon2(hash, "argon2i", &a); break;
    case K_CRYPT: rc = pw_crypt_check(hash, s->arg); break;
    case K_SHA: rc = pw_sha_check(hash, s->arg, s->salted, enc); break;
    }
    if (rc < 0)
        *why = "malformed hash for its scheme";
    return rc == 0;
}
