/* password.c - password hashing and verification (see password.h).
 *
 * New hashes: Argon2id (RFC 9106), t=3 passes over m=64 MiB with p=1 lane
 * (RFC 9106 sec 4, second recommended option, with one lane so a login process does not
 * spawn threads), 16-byte random salt, 32-byte tag, in the PHC string format that Dovecot
 * also writes: "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$SALT$HASH".
 * Verification parses the stored parameters (bounded, so a hostile record cannot ask for
 * gigabytes), recomputes, and compares with CRYPTO_memcmp. The computation uses libsodium
 * (its optimised Argon2 core takes half the time of libargon2's on these machines, and a
 * login costs one hash: the same cost as Dovecot, which also uses libsodium) whenever the
 * parameters fit it (16-byte salt, one lane), and libargon2 for any other valid hash. "{SHA512-CRYPT}$6$..." hashes
 * (Dovecot, /etc/shadow) are checked with crypt_r(3) and compared the same way. */
#include "password.h"
#include "mem.h"
#include <argon2.h>
#include <sodium.h>
#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define A2_T_COST 3
#define A2_M_COST (64 * 1024) /* KiB */
#define A2_LANES 1
#define A2_SALT_LEN 16
#define A2_HASH_LEN 32
#define A2_MAX_M_COST (1024 * 1024) /* 1 GiB */
#define A2_MAX_T_COST 64
#define A2_MAX_LANES 16
#define A2_MAX_BIN 128

#define PFX_ARGON2ID "{ARGON2ID}"
#define PFX_SHA512 "{SHA512-CRYPT}"

char *password_hash(const char *plain, char **err)
{
    uint8_t salt[A2_SALT_LEN];
    if (RAND_bytes(salt, sizeof salt) != 1) {
        *err = xstrdup("no random bytes for a salt");
        return NULL;
    }
    size_t plen = strlen(plain);
    size_t enclen = argon2_encodedlen(A2_T_COST, A2_M_COST, A2_LANES, A2_SALT_LEN, A2_HASH_LEN,
                                      Argon2_id);
    char *out = xmalloc(sizeof PFX_ARGON2ID + enclen);
    memcpy(out, PFX_ARGON2ID, sizeof PFX_ARGON2ID - 1);
    int rc = argon2id_hash_encoded(A2_T_COST, A2_M_COST, A2_LANES, plain, plen, salt, sizeof salt,
                                   A2_HASH_LEN, out + sizeof PFX_ARGON2ID - 1, enclen);
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

/* Parse "$argon2id$v=19$m=M,t=T,p=P$SALT$HASH". */
static int parse_argon2id(const char *s, struct a2params *a)
{
    int off = 0;
    unsigned m, t, p;
    if (sscanf(s, "$argon2id$v=19$m=%u,t=%u,p=%u$%n", &m, &t, &p, &off) != 3 || off == 0)
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
    if (parse_argon2id(encoded, &a) < 0)
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

static int verify_sha512_crypt(const char *plain, const char *stored)
{
    /* "$6$[rounds=N$]SALT$HASH" with an 86-character HASH in crypt's base64 alphabet */
    const char *hash = strrchr(stored, '$');
    if (strncmp(stored, "$6$", 3) != 0 || hash < stored + 3 || strlen(hash + 1) != 86 ||
        strspn(hash + 1, "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != 86)
        return -1;
    struct crypt_data *cd = xcalloc(1, sizeof *cd);
    const char *out = crypt_r(plain, stored, cd);
    int result;
    if (!out || out[0] == '*') /* libxcrypt's failure tokens start with '*' */
        result = -1;
    else
        result = strlen(out) == strlen(stored) && CRYPTO_memcmp(out, stored, strlen(stored)) == 0;
    OPENSSL_cleanse(cd, sizeof *cd);
    free(cd);
    return result;
}

int password_verify(const char *plain, const char *stored)
{
    if (!plain || !stored)
        return -1;
    if (strncasecmp(stored, PFX_ARGON2ID, sizeof PFX_ARGON2ID - 1) == 0)
        return verify_argon2id(plain, stored + sizeof PFX_ARGON2ID - 1);
    if (strncasecmp(stored, PFX_SHA512, sizeof PFX_SHA512 - 1) == 0)
        return verify_sha512_crypt(plain, stored + sizeof PFX_SHA512 - 1);
    return -1;
}
