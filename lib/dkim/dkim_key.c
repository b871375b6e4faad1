/* dkim_key.c - DKIM keys through OpenSSL 3's EVP interface (see dkim_key.h). */
#include "dkim_key.h"
#include "base64.h"
#include "fileio.h"
#include "mem.h"
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

struct dkim_key {
    EVP_PKEY *pkey;
    enum dkim_alg alg;
};

const char *dkim_alg_name(enum dkim_alg alg)
{
    return alg == DKIM_ED25519_SHA256 ? "ed25519-sha256" : "rsa-sha256";
}

const char *dkim_alg_type(enum dkim_alg alg)
{
    return alg == DKIM_ED25519_SHA256 ? "ed25519" : "rsa";
}

bool dkim_alg_from_type(const char *name, enum dkim_alg *alg)
{
    if (strcmp(name, "rsa") == 0)
        *alg = DKIM_RSA_SHA256;
    else if (strcmp(name, "ed25519") == 0)
        *alg = DKIM_ED25519_SHA256;
    else
        return false;
    return true;
}

/* *err from OpenSSL's error queue (which is emptied), prefixed with what failed. */
static void ssl_err(char **err, const char *what)
{
    unsigned long e = ERR_get_error();
    char text[256] = "unknown error";
    if (e)
        ERR_error_string_n(e, text, sizeof text);
    ERR_clear_error();
    *err = xasprintf("%s: %s", what, text);
}

static struct dkim_key *wrap(EVP_PKEY *pkey, char **err)
{
    enum dkim_alg alg;
    if (EVP_PKEY_is_a(pkey, "RSA"))
        alg = DKIM_RSA_SHA256;
    else if (EVP_PKEY_is_a(pkey, "ED25519"))
        alg = DKIM_ED25519_SHA256;
    else {
        *err = xstrdup("not an RSA or Ed25519 key");
        EVP_PKEY_free(pkey);
        return NULL;
    }
    if (alg == DKIM_RSA_SHA256 && EVP_PKEY_get_bits(pkey) < DKIM_RSA_BITS_MIN) {
        *err = xasprintf("RSA key of %d bits: DKIM needs at least %d (RFC 8301)",
                         EVP_PKEY_get_bits(pkey), DKIM_RSA_BITS_MIN);
        EVP_PKEY_free(pkey);
        return NULL;
    }
    struct dkim_key *k = xcalloc(1, sizeof *k);
    k->pkey = pkey;
    k->alg = alg;
    return k;
}

struct dkim_key *dkim_key_generate(enum dkim_alg alg, unsigned bits, char **err)
{
    if (alg == DKIM_RSA_SHA256 && (bits < DKIM_RSA_BITS_MIN || bits > DKIM_RSA_BITS_MAX)) {
        *err = xasprintf("RSA keys have %d to %d bits", DKIM_RSA_BITS_MIN, DKIM_RSA_BITS_MAX);
        return NULL;
    }
    EVP_PKEY *pkey = alg == DKIM_RSA_SHA256 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits)
                                            : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!pkey) {
        ssl_err(err, "key generation");
        return NULL;
    }
    return wrap(pkey, err);
}

struct dkim_key *dkim_key_from_pem(const char *pem, size_t len, char **err)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"") : NULL;
    BIO_free(bio);
    if (!pkey) {
        ssl_err(err, "not a PEM private key");
        return NULL;
    }
    return wrap(pkey, err);
}

struct dkim_key *dkim_key_load(const char *path, char **err)
{
    struct buf pem = BUF_INIT;
    struct dkim_key *k = NULL;
    if (read_file(path, DKIM_KEY_FILE_MAX, &pem) < 0)
        *err = xasprintf("%s: %s", path, strerror(errno));
    else if (!(k = dkim_key_from_pem(pem.data ? pem.data : "", pem.len, err))) {
        char *e = *err;
        *err = xasprintf("%s: %s", path, e);
        free(e);
    }
    if (pem.data)
        explicit_bzero(pem.data, pem.len);
    buf_free(&pem);
    return k;
}

void dkim_key_free(struct dkim_key *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

enum dkim_alg dkim_key_alg(const struct dkim_key *k) { return k->alg; }

unsigned dkim_key_bits(const struct dkim_key *k) { return (unsigned)EVP_PKEY_get_bits(k->pkey); }

int dkim_key_pem(const struct dkim_key *k, struct buf *out, char **err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long n;
    if (!bio || !PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) ||
        (n = BIO_get_mem_data(bio, &data)) <= 0) {
        ssl_err(err, "writing the private key");
        BIO_free(bio);
        return -1;
    }
    buf_append(out, data, (size_t)n);
    BIO_free(bio); /* a memory BIO clears its buffer when freed */
    return 0;
}

/* The bytes p= carries: DER SubjectPublicKeyInfo (RSA) or the raw key (Ed25519). */
static int public_bytes(const struct dkim_key *k, struct buf *out, char **err)
{
    if (k->alg == DKIM_ED25519_SHA256) {
        unsigned char raw[32];
        size_t len = sizeof raw;
        if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &len) != 1 || len != sizeof raw) {
            ssl_err(err, "the Ed25519 public key");
            return -1;
        }
        buf_append(out, raw, len);
        return 0;
    }
    unsigned char *der = NULL;
    int len = i2d_PUBKEY(k->pkey, &der);
    if (len <= 0) {
        ssl_err(err, "the RSA public key");
        return -1;
    }
    buf_append(out, der, (size_t)len);
    OPENSSL_free(der);
    return 0;
}

int dkim_key_record(const struct dkim_key *k, struct buf *out, char **err)
{
    struct buf pub = BUF_INIT;
    if (public_bytes(k, &pub, err) < 0) {
        buf_free(&pub);
        return -1;
    }
    buf_printf(out, "v=DKIM1; k=%s; p=", dkim_alg_type(k->alg));
    base64_encode(pub.data, pub.len, out);
    buf_free(&pub);
    return 0;
}

/* One-shot EVP_DigestSign of data with md (NULL for Ed25519). */
static int digest_sign(EVP_PKEY *pkey, const EVP_MD *md, const void *data, size_t len,
                       struct buf *out, char **err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *sig = NULL;
    size_t siglen = 0;
    int rc = -1;
    if (ctx && EVP_DigestSignInit(ctx, NULL, md, NULL, pkey) == 1 &&
        EVP_DigestSign(ctx, NULL, &siglen, data, len) == 1) {
        sig = xmalloc(siglen);
        if (EVP_DigestSign(ctx, sig, &siglen, data, len) == 1) {
            base64_encode(sig, siglen, out);
            rc = 0;
        }
    }
    if (rc < 0)
        ssl_err(err, "signing");
    free(sig);
    EVP_MD_CTX_free(ctx);
    return rc;
}

int dkim_key_sign(const struct dkim_key *k, const void *data, size_t len, struct buf *out,
                  char **err)
{
    if (k->alg == DKIM_RSA_SHA256)
        return digest_sign(k->pkey, EVP_sha256(), data, len, out, err);
    unsigned char hash[32];
    unsigned int hlen = 0;
    if (EVP_Digest(data, len, hash, &hlen, EVP_sha256(), NULL) != 1 || hlen != sizeof hash) {
        ssl_err(err, "SHA-256");
        return -1;
    }
    return digest_sign(k->pkey, NULL, hash, sizeof hash, out, err);
}
