/* init_tls.c - the self-signed certificate `posthorn init` gives a new instance so STARTTLS
 * works from the first start: a P-256 key and an X.509 v3 certificate for the host name
 * (subjectAltName DNS:H, the name clients check per RFC 6125 section 6.4.4), valid for ten
 * years, made with the OpenSSL 3 API. The key file is created 0600 with O_EXCL. */
#include "init.h"
#include "mem.h"
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <unistd.h>

#define CERT_DAYS 3650

static char *ssl_err(const char *what)
{
    char buf[256];
    unsigned long e = ERR_get_error();
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return xasprintf("%s: %s", what, e ? buf : "failed");
}

static int add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

static int set_serial(X509 *x)
{
    unsigned char rnd[16];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return -1;
    rnd[0] &= 0x7f; /* a positive serial number (RFC 5280 section 4.1.2.2) */
    rnd[0] |= 0x01;
    BIGNUM *bn = BN_bin2bn(rnd, sizeof rnd, NULL);
    int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok ? 0 : -1;
}

static X509 *make_cert(EVP_PKEY *key, const char *host, char **err)
{
    X509 *x = X509_new();
    X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
    char *san = xasprintf("DNS:%s", host);
    bool ok = x && X509_set_version(x, X509_VERSION_3) && set_serial(x) == 0 &&
              X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
              X509_gmtime_adj(X509_getm_notAfter(x), 86400L * CERT_DAYS) &&
              X509_set_pubkey(x, key) &&
              X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                         (const unsigned char *)"Posthorn self-signed", -1, -1, 0) &&
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)host,
                                         -1, -1, 0) &&
              X509_set_issuer_name(x, name) &&
              add_ext(x, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
              add_ext(x, NID_key_usage, "critical,digitalSignature") == 0 &&
              add_ext(x, NID_ext_key_usage, "serverAuth") == 0 &&
              add_ext(x, NID_subject_key_identifier, "hash") == 0 &&
              add_ext(x, NID_subject_alt_name, san) == 0 &&
              X509_sign(x, key, EVP_sha256()) > 0;
    free(san);
    if (!ok) {
        *err = ssl_err("cannot build the certificate");
        X509_free(x);
        return NULL;
    }
    return x;
}

/* Create path exclusively with mode, owned by owner, and let write() fill it. */
static int write_pem(const char *path, mode_t mode, const struct init_owner *owner,
                     int (*write)(FILE *f, void *obj), void *obj, char **err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        *err = xasprintf("%s: %s", path, strerror(errno));
        return -1;
    }
    if (owner->apply && fchown(fd, owner->uid, owner->gid) < 0) {
        *err = xasprintf("%s: chown: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        *err = xasprintf("%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    int ok = write(f, obj);
    if (fflush(f) != 0 || fsync(fileno(f)) < 0)
        ok = 0;
    if (fclose(f) != 0)
        ok = 0;
    if (!ok) {
        *err = xasprintf("%s: write failed", path);
        return -1;
    }
    return 0;
}

static int put_key(FILE *f, void *key)
{
    return PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
}

static int put_cert(FILE *f, void *cert) { return PEM_write_X509(f, cert); }

int init_make_certificate(const char *host, const char *cert_path, const char *key_path,
                          const struct init_owner *owner, char **err)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!key) {
        *err = ssl_err("cannot make a P-256 key");
        return -1;
    }
    X509 *cert = make_cert(key, host, err);
    int rc = -1;
    if (cert && write_pem(key_path, 0600, owner, put_key, key, err) == 0 &&
        write_pem(cert_path, 0644, owner, put_cert, cert, err) == 0)
        rc = 0;
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}
