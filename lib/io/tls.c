/* tls.c - OpenSSL server contexts and non-blocking TLS steps (see tls.h). */
#include "tls.h"
#include "mem.h"
#include <errno.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* TLS 1.2 suites: forward secrecy and AEAD first, then ECDHE with CBC for old peers (an MX
 * talks to anything; opportunistic TLS beats plaintext). TLS 1.3 keeps OpenSSL's list. */
#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:ECDHE+AES:!aNULL:!eNULL:!MD5:!DSS:!PSK:!SRP"

static char *ssl_error(const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return xasprintf("%s: %s", what, e ? buf : (errno ? strerror(errno) : "unknown error"));
}

SSL_CTX *tls_server_context(const char *cert_file, const char *key_file, const char *min_proto,
                            char **err)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        *err = ssl_error("SSL_CTX_new");
        return NULL;
    }
    int min = strcmp(min_proto, "TLSv1.3") == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
    SSL_CTX_set_min_proto_version(ctx, min);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* Many idle sessions per process: free the record buffers while idle. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_dh_auto(ctx, 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
        *err = ssl_error("cipher list");
    } else if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        *err = ssl_error(cert_file);
    } else if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        *err = ssl_error(key_file);
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        *err = ssl_error("private key does not match the certificate");
    } else {
        return ctx;
    }
    SSL_CTX_free(ctx);
    return NULL;
}

void tls_context_free(SSL_CTX *ctx) { SSL_CTX_free(ctx); }

SSL *tls_session_new(SSL_CTX *ctx, int fd, char **err)
{
    ERR_clear_error();
    SSL *ssl = SSL_new(ctx);
    if (!ssl) {
        *err = ssl_error("SSL_new");
        return NULL;
    }
    if (SSL_set_fd(ssl, fd) != 1) {
        *err = ssl_error("SSL_set_fd");
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_accept_state(ssl);
    return ssl;
}

void tls_session_free(SSL *ssl) { SSL_free(ssl); }

/* Map an SSL_get_error() result to what the caller does next. */
static enum tls_io classify(SSL *ssl, int ret, const char *what, char **err)
{
    int e = SSL_get_error(ssl, ret);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return TLS_IO_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return TLS_IO_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        return TLS_IO_EOF;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0 && (errno == 0 || errno == ECONNRESET || errno == EPIPE)) {
            ERR_clear_error();
            return TLS_IO_EOF;
        }
        *err = ssl_error(what);
        return TLS_IO_ERROR;
    default:
        *err = ssl_error(what);
        return TLS_IO_ERROR;
    }
}

enum tls_io tls_handshake(SSL *ssl, char **err)
{
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(ssl);
    if (r == 1)
        return TLS_IO_OK;
    enum tls_io io = classify(ssl, r, "TLS handshake", err);
    if (io == TLS_IO_EOF) {
        *err = xstrdup("TLS handshake: connection closed by peer");
        return TLS_IO_ERROR;
    }
    return io;
}

enum tls_io tls_read(SSL *ssl, void *buf, size_t len, size_t *n, char **err)
{
    ERR_clear_error();
    errno = 0;
    *n = 0;
    int r = SSL_read_ex(ssl, buf, len, n);
    return r == 1 ? TLS_IO_OK : classify(ssl, r, "TLS read", err);
}

enum tls_io tls_write(SSL *ssl, const void *buf, size_t len, size_t *n, char **err)
{
    ERR_clear_error();
    errno = 0;
    *n = 0;
    int r = SSL_write_ex(ssl, buf, len, n);
    return r == 1 ? TLS_IO_OK : classify(ssl, r, "TLS write", err);
}

void tls_shutdown(SSL *ssl)
{
    ERR_clear_error();
    (void)SSL_shutdown(ssl);
    ERR_clear_error();
}

void tls_describe(SSL *ssl, char *out, size_t outsize)
{
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
    int alg = 0;
    int bits = c ? SSL_CIPHER_get_bits(c, &alg) : 0;
    snprintf(out, outsize, "%s with cipher %s (%d/%d bits)", SSL_get_version(ssl),
             c ? SSL_CIPHER_get_name(c) : "unknown", bits, alg);
}

