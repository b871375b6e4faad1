/* check_tls.c - `posthorn check` for TLS: the certificate and key named by
 * smtpd_tls_cert_file/smtpd_tls_key_file exist, parse, belong together, are in date, and
 * the key is not readable by other users. */
#include "cli.h"
#include "mem.h"
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void check_tls(struct cli *c, struct errlist *errs);

X509 *cli_load_cert(const char *path, struct errlist *errs)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        errlist_add(errs, "%s: %s", path, strerror(errno));
        return NULL;
    }
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!x)
        errlist_add(errs, "%s: no PEM certificate found", path);
    ERR_clear_error();
    return x;
}

static EVP_PKEY *load_key(const char *path, struct errlist *errs)
{
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 0077))
        errlist_add(errs, "%s: private key has mode %04o; it must not be readable by others (chmod 600)",
                    path, (unsigned)(st.st_mode & 07777));
    FILE *f = fopen(path, "re");
    if (!f) {
        errlist_add(errs, "%s: %s", path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!k)
        errlist_add(errs, "%s: no (unencrypted) PEM private key found", path);
    ERR_clear_error();
    return k;
}

void check_tls(struct cli *c, struct errlist *errs)
{
    struct config *cfg = cli_config(c);
    int level = config_enum(cfg, PARAM(smtpd_tls_security_level)); /* 0 none, 1 may, 2 encrypt */
    const char *cert_path = config_str(cfg, PARAM(smtpd_tls_cert_file));
    const char *key_path = config_str(cfg, PARAM(smtpd_tls_key_file));
    if (level == 0)
        return;
    if (!*cert_path) {
        char *where = cli_param_where(c, PARAM(smtpd_tls_cert_file));
        if (level == 2)
            errlist_add(errs, "%s: smtpd_tls_security_level = encrypt needs smtpd_tls_cert_file", where);
        else
            errlist_warn(errs, "%s: smtpd_tls_cert_file is empty: STARTTLS is not offered", where);
        free(where);
        return;
    }
    X509 *x = cli_load_cert(cert_path, errs);
    EVP_PKEY *k = load_key(key_path, errs);
    if (x && k && X509_check_private_key(x, k) != 1)
        errlist_add(errs, "%s: private key does not match the certificate %s", key_path, cert_path);
    if (x && X509_cmp_current_time(X509_get0_notAfter(x)) <= 0)
        errlist_warn(errs, "%s: certificate has expired", cert_path);
    if (x && X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
        errlist_warn(errs, "%s: certificate is not valid yet", cert_path);
    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(k);
}
