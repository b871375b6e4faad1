/* tls.h - OpenSSL 3 server contexts and non-blocking TLS steps for lib/conn.
 *
 * tls_server_context() builds a context from a PEM certificate chain and key (loaded while
 * the daemon is still privileged, so keys may be root-only): TLS 1.2 or newer, forward-secret
 * AEAD ciphers first, no compression, no renegotiation, small per-connection buffers. The
 * step functions never block and never log; they report what the caller must wait for. */
#ifndef POSTHORN_TLS_H
#define POSTHORN_TLS_H
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

/* min_proto: "TLSv1.2" or "TLSv1.3". Returns NULL with *err (malloc'ed). */
SSL_CTX *tls_server_context(const char *cert_file, const char *key_file, const char *min_proto,
                            char **err);
void tls_context_free(SSL_CTX *ctx);


enum tls_io {
    TLS_IO_OK,         /* done (handshake finished, or *n bytes moved) */
    TLS_IO_WANT_READ,  /* retry when the socket is readable */
    TLS_IO_WANT_WRITE, /* retry when the socket is writable */
    TLS_IO_EOF,        /* the peer closed the connection */
    TLS_IO_ERROR       /* fatal; *err (malloc'ed) says why */
};

/* A server-side SSL object on fd, in accept state. NULL with *err. */
SSL *tls_session_new(SSL_CTX *ctx, int fd, char **err);
void tls_session_free(SSL *ssl);
enum tls_io tls_handshake(SSL *ssl, char **err);
enum tls_io tls_read(SSL *ssl, void *buf, size_t len, size_t *n, char **err);
enum tls_io tls_write(SSL *ssl, const void *buf, size_t len, size_t *n, char **err);
/* Best-effort close_notify (non-blocking, result ignored). */
void tls_shutdown(SSL *ssl);
/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" for logs and Received:. */
void tls_describe(SSL *ssl, char *out, size_t outsize);

#endif
