/* password_crypt.c - Dovecot's crypt(3) schemes (password_int.h): {SHA512-CRYPT} "$6$",
 * {SHA256-CRYPT} "$5$", {MD5-CRYPT} "$1$", {BLF-CRYPT} "$2y$" (also "$2a$", "$2b$") and
 * {CRYPT}, which is whatever crypt(3) recognises among those plus yescrypt "$y$" (the
 * Debian default for /etc/shadow) and traditional DES. The shape of each hash is checked
 * before crypt_r() sees it (libxcrypt answers a malformed setting with a "*" token), and
 * the result is compared with the stored hash in constant time. */
#include "password_int.h"
#include "mem.h"
#include <crypt.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char crypt64[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static bool all_crypt64(const char *s, size_t n)
{
    return strspn(s, crypt64) >= n && strlen(s) >= n;
}

/* "$P$[rounds=N$]SALT$HASH": SALT 1..16 characters, HASH exactly hashlen of crypt64. */
static int check_sha_md5(const char *h, size_t plen, size_t hashlen)
{
    const char *p = h + plen;
    if (strncmp(p, "rounds=", 7) == 0) {
        p += 7;
        size_t digits = strspn(p, "0123456789");
        if (digits == 0 || digits > 9 || p[digits] != '$')
            return -1;
        p += digits + 1;
    }
    const char *dollar = strchr(p, '$');
    if (!dollar || dollar == p || dollar - p > 16 || memchr(p, ':', (size_t)(dollar - p)))
        return -1;
    const char *hash = dollar + 1;
    return strlen(hash) == hashlen && all_crypt64(hash, hashlen) ? 0 : -1;
}

/* "$2y$CC$" then 53 characters (22 of salt, 31 of hash); cost 04..31. */
static int check_bcrypt(const char *h)
{
    if (h[0] != '$' || h[1] != '2' || !strchr("aby", h[2]) || h[3] != '$' || h[4] < '0' ||
        h[4] > '3' || h[5] < '0' || h[5] > '9' || h[6] != '$')
        return -1;
    int cost = (h[4] - '0') * 10 + (h[5] - '0');
    return cost >= 4 && cost <= 31 && strlen(h + 7) == 53 && all_crypt64(h + 7, 53) ? 0 : -1;
}

/* yescrypt "$y$PARAMS$SALT$HASH" (HASH 43 characters). */
static int check_yescrypt(const char *h)
{
    const char *params = h + 3, *salt = strchr(params, '$');
    const char *hash = salt ? strchr(salt + 1, '$') : NULL;
    if (!salt || salt == params || !hash || hash == salt + 1)
        return -1;
    return strlen(hash + 1) == 43 && all_crypt64(hash + 1, 43) ? 0 : -1;
}

int pw_crypt_check(const char *hash, const char *prefix)
{
    if (prefix && strncmp(hash, prefix, strlen(prefix)) != 0 &&
        !(strcmp(prefix, "$2y$") == 0 && strncmp(hash, "$2", 2) == 0))
        return -1;
    if (strncmp(hash, "$6$", 3) == 0)
        return check_sha_md5(hash, 3, 86);
    if (strncmp(hash, "$5$", 3) == 0)
        return check_sha_md5(hash, 3, 43);
    if (strncmp(hash, "$1$", 3) == 0)
        return strncmp(hash + 3, "rounds=", 7) == 0 ? -1 : check_sha_md5(hash, 3, 22);
    if (strncmp(hash, "$2", 2) == 0)
        return check_bcrypt(hash);
    if (!prefix && strncmp(hash, "$y$", 3) == 0)
        return check_yescrypt(hash);
    if (!prefix && strlen(hash) == 13 && all_crypt64(hash, 13)) /* traditional DES */
        return 0;
    return -1;
}

int pw_crypt_verify(const char *plain, const char *hash, const char *prefix)
{
    if (pw_crypt_check(hash, prefix) < 0)
        return -1;
    struct crypt_data *cd = xcalloc(1, sizeof *cd);
    const char *out = crypt_r(plain, hash, cd);
    int result;
    if (!out || out[0] == '*') /* libxcrypt's failure tokens start with '*' */
        result = -1;
    else
        result = pw_equal(out, strlen(out), hash, strlen(hash));
    OPENSSL_cleanse(cd, sizeof *cd);
    free(cd);
    return result;
}
