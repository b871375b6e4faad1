/* tls.h - OpenSSL 3 server and client contexts and non-blocking TLS steps for lib/conn.
 *
 * tls_server_context() builds a context from a PEM certificate chain and key (loaded while
 * the daemon is still privileged, so keys may be root-only): TLS 1.2 or newer, forward-secret
 * AEAD ciphers first, no compression, no renegotiation, small per-connection buffers. The
 * step functions never block and never log; they report what the caller must wait for.
 *
 * The client side (the SMTP client) separates the handshake from the trust decision: a
 * client session always checks the server's chain against the context's trust store and,
 * when given a name, the certificate's names (X509_VERIFY_PARAM_set1_host, no partial
 * wildcards); tls_peer_check() reports the outcome (trusted, or untrusted and why) so a
 * policy layer (DANE, MTA-STS, opportunistic TLS) decides what to do with it. In
 * TLS_VERIFY_NAME mode the handshake itself fails when the check fails. DANE (RFC 7672)
 * will hook in here: SSL_CTX_dane_enable() on the context, SSL_dane_enable() and
 * SSL_dane_tlsa_add() per session with the TLSA records from lib/io/dns, and the outcome
 * reported through the same tls_peer_check(). Contexts are shared read-only by sessions of
 * one thread; a session belongs to one connection.
 *
 * DANE (RFC 7672, RFC 7671): given TLSA records (already DNSSEC-validated by the caller),
 * the session checks the server's chain against them with OpenSSL's SSL_dane API:
 * DANE-EE(3) matches the server's own certificate or key without name checks (RFC 7672
 * sec 3.1.1), DANE-TA(2) a trust anchor in the chain, with the TLSA base domain and the
 * next-hop domain as the reference identifiers (sec 3.2.2); PKIX usages (0, 1) are
 * unusable for SMTP (sec 3.1.3) and are not added. tls_peer_check() then reports the match
 * as trusted (dane_usage tells which usage matched). */
#ifndef POSTHORN_TLS_H
#define POSTHORN_TLS_H
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

/* min_proto: "TLSv1.2" or "TLSv1.3". Returns NULL with *err (malloc'ed). */
SSL_CTX *tls_server_context(const char *cert_file, const char *key_file, const char *min_proto,
                            char **err);
void tls_context_free(SSL_CTX *ctx);

/* A client context: TLS 1.2 or newer (min_proto as above), the same cipher policy as the
 * server, and the trust store from ca_file and/or ca_dir (PEM; a directory hashed by
 * `openssl rehash`), or the system store when both are NULL. NULL with *err (malloc'ed). */
SSL_CTX *tls_client_context(const char *ca_file, const char *ca_dir, const char *min_proto,
                            char **err);

enum tls_verify_mode {
    TLS_VERIFY_NONE, /* handshake with anyone; the check is only reported (tls_peer_check) */
    TLS_VERIFY_NAME  /* the handshake fails unless the chain is trusted and the name matches */
};

/* One TLSA record (RFC 6698 sec 2.1). */
struct tls_tlsa {
    unsigned char usage, selector, mtype;
    const unsigned char *data;
    size_t len;
};

struct tls_client_params {
    const char *sni;         /* name sent as SNI (RFC 6066 sec 3); NULL or an IP: none */
    const char *verify_name; /* name the certificate must carry; NULL: chain check only
                              * (TLS_VERIFY_NAME then uses sni) */
    enum tls_verify_mode mode;
    /* DANE: when ntlsa > 0 the chain is checked against these records instead of the
     * trust store; dane_base is the TLSA base domain (the MX host name), dane_nexthop the
     * next-hop domain (a second reference identifier for DANE-TA), or NULL. */
    const struct tls_tlsa *tlsa;
    size_t ntlsa;
    const char *dane_base, *dane_nexthop;
};

/* Is a TLSA record usable for SMTP (RFC 7672 sec 3.1: usages 2 and 3, selectors 0 and 1,
 * matching types 0, 1, 2)? */
bool tls_tlsa_usable(const struct tls_tlsa *r);

/* A client-side SSL object on fd, in connect state. NULL with *err (malloc'ed): also when
 * TLS_VERIFY_NAME has no name to verify. */
SSL *tls_client_session_new(SSL_CTX *ctx, int fd, const struct tls_client_params *p, char **err);

/* The outcome of the server certificate check of a client session after its handshake. */
struct tls_peer_check {
    bool trusted;      /* the chain ends in a trust anchor and the name (if set) matched */
    bool name_checked; /* a name was part of the check */
    long code;         /* X509_V_OK or an X509_V_ERR_* code */
    int dane_usage;    /* the usage of the TLSA record that matched, or -1 */
    char reason[160];  /* "trusted", or why not ("hostname mismatch", "self-signed
                        * certificate", "no server certificate", ...) */
};
void tls_peer_check(SSL *ssl, struct tls_peer_check *out);


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
