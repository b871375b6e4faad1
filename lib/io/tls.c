/* tls.c - OpenSSL server and client contexts and non-blocking TLS steps (see tls.h). */
#include "tls.h"
#include "mem.h"
#include <errno.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* TLS 1.2 suites of the server: forward secrecy and AEAD only (AES-GCM, ChaCha20-Poly1305).
 * CBC (LUCKY13, testssl's "obsolete" class) and CCM/CCM_8 (8-byte tags) are left out: a peer
 * that speaks TLS 1.2 but none of these is not seen in practice (doc/tls.md). TLS 1.3 keeps
 * OpenSSL's list. */
#define TLS12_SERVER_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL:!PSK:!SRP:!DSS"
/* The client (towards relays and MXes, opportunistic) still offers ECDHE with CBC last: a
 * server that has nothing else would otherwise be reached in plaintext. */
#define TLS12_CLIENT_CIPHERS TLS12_SERVER_CIPHERS ":ECDHE+AES:!AESCCM"

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
    if (SSL_CTX_set_cipher_list(ctx, TLS12_SERVER_CIPHERS) != 1) {
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

static bool load_trust_store(SSL_CTX *ctx, const char *ca_file, const char *ca_dir, char **err)
{
    if (!ca_file && !ca_dir) {
        if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            *err = ssl_error("system trust store");
            return false;
        }
        return true;
    }
    if (SSL_CTX_load_verify_locations(ctx, ca_file, ca_dir) != 1) {
        *err = ssl_error(ca_file ? ca_file : ca_dir);
        return false;
    }
    return true;
}

SSL_CTX *tls_client_context(const char *ca_file, const char *ca_dir, const char *min_proto,
                            char **err)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        *err = ssl_error("SSL_CTX_new");
        return NULL;
    }
    int min = min_proto && strcmp(min_proto, "TLSv1.3") == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
    SSL_CTX_set_min_proto_version(ctx, min);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    if (SSL_CTX_dane_enable(ctx) <= 0) /* per session only when TLSA records are given */
        *err = ssl_error("DANE");
    else if (SSL_CTX_set_cipher_list(ctx, TLS12_CLIENT_CIPHERS) != 1)
        *err = ssl_error("cipher list");
    else if (load_trust_store(ctx, ca_file, ca_dir, err))
        return ctx;
    SSL_CTX_free(ctx);
    return NULL;
}

static bool is_ip_literal(const char *name)
{
    unsigned char tmp[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, name, tmp) == 1 || inet_pton(AF_INET6, name, tmp) == 1;
}

/* SNI, the name to check, and whether a failed check ends the handshake. */
bool tls_tlsa_usable(const struct tls_tlsa *r)
{
    return (r->usage == 2 || r->usage == 3) && r->selector <= 1 && r->mtype <= 2 && r->len > 0;
}

/* RFC 7672 sec 3: the TLSA records replace the trust store for this session. */
static bool dane_setup(SSL *ssl, const struct tls_client_params *p, char **err)
{
    if (SSL_dane_enable(ssl, p->dane_base) <= 0) {
        *err = ssl_error("DANE");
        return false;
    }
    SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
    if (p->dane_nexthop && *p->dane_nexthop && SSL_add1_host(ssl, p->dane_nexthop) != 1) {
        *err = ssl_error("DANE next-hop name");
        return false;
    }
    size_t usable = 0;
    for (size_t i = 0; i < p->ntlsa; i++) {
        const struct tls_tlsa *r = &p->tlsa[i];
        if (tls_tlsa_usable(r) &&
            SSL_dane_tlsa_add(ssl, r->usage, r->selector, r->mtype, r->data, r->len) > 0)
            usable++;
    }
    ERR_clear_error(); /* a malformed record is only unusable */
    if (usable == 0) {
        *err = xstrdup("DANE: no usable TLSA record");
        return false;
    }
    return true;
}

static bool client_setup(SSL *ssl, const struct tls_client_params *p, char **err)
{
    const char *name = p->verify_name && *p->verify_name ? p->verify_name : NULL;
    if (!name && p->mode == TLS_VERIFY_NAME && p->sni && *p->sni)
        name = p->sni;
    if (!name && p->mode == TLS_VERIFY_NAME) {
        *err = xstrdup("TLS: name verification requested without a name");
        return false;
    }
    if (p->sni && *p->sni && !is_ip_literal(p->sni) && SSL_set_tlsext_host_name(ssl, p->sni) != 1) {
        *err = ssl_error("TLS SNI");
        return false;
    }
    if (name) {
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (X509_VERIFY_PARAM_set1_host(param, name, 0) != 1) {
            *err = ssl_error("TLS verify name");
            return false;
        }
    }
    SSL_set_verify(ssl, p->mode == TLS_VERIFY_NAME ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    return p->ntlsa == 0 || dane_setup(ssl, p, err);
}

/* An SSL object of ctx on fd, either role; NULL with *err. */
static SSL *session_on_fd(SSL_CTX *ctx, int fd, char **err)
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
    return ssl;
}

SSL *tls_client_session_new(SSL_CTX *ctx, int fd, const struct tls_client_params *p, char **err)
{
    SSL *ssl = session_on_fd(ctx, fd, err);
    if (!ssl)
        return NULL;
    if (!client_setup(ssl, p, err)) {
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_connect_state(ssl);
    return ssl;
}

void tls_peer_check(SSL *ssl, struct tls_peer_check *out)
{
    X509 *cert = SSL_get0_peer_certificate(ssl);
    const char *name = X509_VERIFY_PARAM_get0_host(SSL_get0_param(ssl), 0);
    out->name_checked = name != NULL;
    out->code = cert ? SSL_get_verify_result(ssl) : X509_V_ERR_UNSPECIFIED;
    out->trusted = cert && out->code == X509_V_OK;
    uint8_t usage, selector, mtype;
    out->dane_usage = -1;
    if (out->trusted && SSL_get0_dane_tlsa(ssl, &usage, &selector, &mtype, NULL, NULL) >= 0)
        out->dane_usage = usage;
    if (!cert)
        snprintf(out->reason, sizeof out->reason, "no server certificate");
    else if (out->trusted)
        snprintf(out->reason, sizeof out->reason, "trusted");
    else
        snprintf(out->reason, sizeof out->reason, "%s",
                 X509_verify_cert_error_string(out->code));
}

SSL *tls_session_new(SSL_CTX *ctx, int fd, char **err)
{
    SSL *ssl = session_on_fd(ctx, fd, err);
    if (ssl)
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
    long verify = SSL_get_verify_result(ssl);
    if (io == TLS_IO_ERROR && !SSL_is_server(ssl) && verify != X509_V_OK) {
        /* A client in TLS_VERIFY_NAME mode: say why the certificate was refused. */
        free(*err);
        *err = xasprintf("TLS handshake: server certificate not trusted: %s",
                         X509_verify_cert_error_string(verify));
        return TLS_IO_ERROR;
    }
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

