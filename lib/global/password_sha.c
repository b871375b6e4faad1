/* password_sha.c - Dovecot's SHA digest schemes (password_int.h): {SHA} and {SHA1},
 * {SHA256}, {SHA512} (the digest of the password) and {SSHA}, {SSHA256}, {SSHA512} (the
 * digest of the password followed by a salt, stored as digest then salt), each base64
 * (Dovecot's default) or hex with the ".HEX" suffix. Digests by OpenSSL; the comparison
 * is constant-time. */
#include "password_int.h"
#include "base64.h"
#include "buf.h"
#include "hex.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#define SALT_MAX 256

static int decode(const char *hash, char encoding, struct buf *out)
{
    size_t n = strlen(hash);
    bool ok = encoding == 'h' ? hex_decode(hash, n, out) : base64_decode(hash, n, out);
    return ok ? 0 : -1;
}

int pw_sha_check(const char *hash, const char *algo, int salted, char encoding)
{
    const EVP_MD *md = EVP_get_digestbyname(algo);
    struct buf b = BUF_INIT;
    int rc = md && decode(hash, encoding, &b) == 0 ? 0 : -1;
    size_t dlen = md ? (size_t)EVP_MD_get_size(md) : 0;
    if (rc == 0 && (salted ? b.len <= dlen || b.len > dlen + SALT_MAX : b.len != dlen))
        rc = -1;
    buf_free(&b);
    return rc;
}

int pw_sha_verify(const char *plain, const char *hash, const char *algo, int salted, char encoding)
{
    if (pw_sha_check(hash, algo, salted, encoding) < 0)
        return -1;
    const EVP_MD *md = EVP_get_digestbyname(algo);
    size_t dlen = (size_t)EVP_MD_get_size(md);
    struct buf b = BUF_INIT;
    (void)decode(hash, encoding, &b);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned outlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int result = -1;
    if (ctx && EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
        EVP_DigestUpdate(ctx, plain, strlen(plain)) == 1 &&
        (!salted || EVP_DigestUpdate(ctx, b.data + dlen, b.len - dlen) == 1) &&
        EVP_DigestFinal_ex(ctx, out, &outlen) == 1)
        result = pw_equal(out, outlen, b.data, dlen);
    EVP_MD_CTX_free(ctx);
    OPENSSL_cleanse(out, sizeof out);
    buf_free(&b);
    return result;
}
