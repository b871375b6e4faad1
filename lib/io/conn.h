/* conn.h - one non-blocking client connection on the event loop, protocol-neutral (SMTP now,
 * POP3/IMAP later): a socket with optional TLS, a bounded input buffer with line extraction
 * against an explicit limit, an output buffer flushed with EPOLLOUT when the socket is full,
 * and the STARTTLS upgrade.
 *
 * The owner gets callbacks from the event loop: input() when new bytes (or EOF) arrived,
 * error() when the connection failed (the owner must then conn_free() it), tls_ready() when a
 * STARTTLS handshake finished, drained() when queued output has all been written. conn_free()
 * may be called from inside any callback; the memory is released when the callback returns.
 *
 * STARTTLS (RFC 3207 sec 4, CVE-2011-0411): conn_starttls() throws away every input byte
 * already buffered - anything a client pipelined after the STARTTLS command was sent in
 * plaintext and must not be executed inside the TLS session - then writes the pending
 * plaintext reply and starts the handshake without reading any more plaintext.
 *
 * Client side (the SMTP client): conn_connect() opens a non-blocking TCP connection to an
 * IPv4 or IPv6 address, optionally from a chosen source address, with a timeout, and hands
 * over the same struct conn as the server side. conn_starttls_client() starts TLS as the
 * client once the server's "220" reply to STARTTLS was read; it discards any input buffered
 * after that reply (a server, or a man in the middle, must not inject replies that would be
 * read as if they came through TLS). */
#ifndef POSTHORN_CONN_H
#define POSTHORN_CONN_H
#include "buf.h"
#include "event.h"
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

struct conn;

struct conn_ops {
    void (*input)(struct conn *c, void *ctx);
    void (*error)(struct conn *c, void *ctx, const char *why);
    void (*tls_ready)(struct conn *c, void *ctx);
    void (*drained)(struct conn *c, void *ctx); /* may be NULL */
};

/* Take over fd (non-blocking). in_limit bounds the input buffer: reading pauses while it is
 * full. The peer address is looked up now (conn_peer_addr). */
struct conn *conn_new(struct event_loop *loop, int fd, size_t in_limit,
                      const struct conn_ops *ops, void *ctx);
/* Give the connection to another owner (e.g. a login process's TLS proxy): later callbacks
 * go to ops with ctx. */
void conn_set_owner(struct conn *c, const struct conn_ops *ops, void *ctx);
/* Close the socket (after a best-effort TLS close_notify) and release everything. */
void conn_free(struct conn *c);

const char *conn_peer_addr(const struct conn *c); /* "192.0.2.1", "2001:db8::1", "unknown" */
int conn_peer_port(const struct conn *c);
int conn_fd(const struct conn *c);

/* --- input --- */
/* The buffered input, and dropping n bytes of it once used. */
const char *conn_data(const struct conn *c, size_t *len);
void conn_consume(struct conn *c, size_t n);
/* True once the peer closed its side; buffered input may remain. */
bool conn_eof(const struct conn *c);

enum conn_line {
    CONN_LINE_NONE,    /* no complete line buffered yet */
    CONN_LINE_OK,      /* *line holds the line without its CRLF or LF */
    CONN_LINE_TOO_LONG /* a line longer than limit was discarded (reported when it ended) */
};
/* Take the next line ending in LF. line receives it without the line end (NUL-terminated;
 * it may contain NUL bytes, see line->len); *bare_lf tells whether it ended in LF alone. */
enum conn_line conn_read_line(struct conn *c, size_t limit, struct buf *line, bool *bare_lf);
/* Put bytes in front of the buffered input: input another process read from this socket
 * before handing it over (a POP3/IMAP login process's pipelined commands). */
void conn_unread(struct conn *c, const void *data, size_t len);
/* Pause or resume reading from the socket (input stays buffered). */
void conn_set_reading(struct conn *c, bool on);

/* --- output --- */
void conn_write(struct conn *c, const void *data, size_t len);
void conn_puts(struct conn *c, const char *s);
void conn_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write what the socket takes now; the rest goes out when it is writable. Returns true when
 * nothing is left. Errors are reported through ops->error from the event loop. */
bool conn_flush(struct conn *c);
size_t conn_out_pending(const struct conn *c);

/* --- TLS --- */
/* Start STARTTLS: discard buffered input (returns how many bytes), flush pending output
 * (the "ready to start TLS" reply) in plaintext, then handshake; tls_ready() or error()
 * follows. Returns -1 (errno unchanged, *err set) if the SSL object cannot be created. */
long conn_starttls(struct conn *c, SSL_CTX *ctx, char **err);
bool conn_tls_active(const struct conn *c);
/* The client-role STARTTLS: discard buffered input (returns how many bytes), flush pending
 * output, then handshake as the client with SNI and name verification as in p (tls.h);
 * tls_ready() or error() follows, and tls_peer_check(conn_ssl(c)) then tells whether the
 * server is trusted. Also starts TLS at once on a connection to a TLS-only port. Returns -1
 * with *err if the SSL object cannot be created. */
struct tls_client_params;
long conn_starttls_client(struct conn *c, SSL_CTX *ctx, const struct tls_client_params *p,
                          char **err);
SSL *conn_ssl(const struct conn *c);

/* --- COMPRESS=DEFLATE (RFC 4978) ---
 * From now on both directions are raw DEFLATE streams (lib/io/zstream.h): output already
 * queued (the reply that started compression) is sent as it is, input already buffered
 * (sent after the command) is inflated. level, window_bits and mem_level tune our deflater.
 * false when already active, during a TLS handshake, or when zlib has no memory. */
bool conn_compress_start(struct conn *c, int level, int window_bits, int mem_level);
bool conn_compressed(const struct conn *c);

/* --- client side: connecting --- */
struct conn_connect;

struct conn_connect_params {
    const char *addr;   /* numeric IPv4 or IPv6 address ("192.0.2.1", "2001:db8::1", "[::1]") */
    int port;
    const char *source; /* numeric local address to connect from, of the same family; NULL:
                         * the kernel chooses */
    long timeout_ms;    /* > 0: give up after this long; otherwise the kernel's timeout */
    size_t in_limit;    /* as for conn_new() */
};

/* Called once, on the loop: on success c is the connected conn (owned by the caller from now
 * on; its callbacks go to the ops and ctx given to conn_connect) and why is NULL; on failure
 * c is NULL and why (valid during the call) says "connect to ADDR port N: ...". The pending
 * handle is freed when this returns. */
typedef void (*conn_connected_fn)(struct conn *c, void *ctx, const char *why);

/* Start connecting; done() follows from the loop (never from inside this call). Returns NULL
 * with *err (malloc'ed) when the connection cannot even be started (bad address, no socket,
 * source address not bindable). */
struct conn_connect *conn_connect(struct event_loop *loop, const struct conn_connect_params *p,
                                  const struct conn_ops *ops, void *ctx, conn_connected_fn done,
                                  char **err);
/* Give up a pending connect (its requester went away): done() is not called. Not allowed
 * once done() was called. */
void conn_connect_cancel(struct conn_connect *pc);

#endif
