/* https_get.h - small HTTPS GETs on the event loop, on libcurl's multi interface: the
 * sockets and the timer libcurl asks for are registered with the struct event_loop, so a
 * fetch never blocks the loop. Made for the MTA-STS policy fetch (RFC 8461 sec 3.3) and
 * strict in the same way for every caller:
 *   - https only, TLS 1.2 or newer, the server certificate must chain to the given trust
 *     store and carry the host name of the URL (libcurl's verification with OpenSSL);
 *   - the host is connected at the addresses the caller gives (looked up through
 *     lib/io/dns): libcurl resolves nothing itself and no proxy from the environment is
 *     used;
 *   - no redirects (a 3xx is an error that names the Location), only status 200 counts, an
 *     optional required media type, a size limit (the transfer is cut at max_size) and one
 *     timeout for the whole fetch; no connection is reused.
 *
 * Ownership: the result handed to a callback is valid only during the callback. A handle
 * is valid until its callback returns or https_cancel(). Failures are texts, never logged.
 * Single-threaded: loop thread only. Call https_global_init() once before other threads
 * start (libcurl's global set-up is not thread-safe). */
#ifndef POSTHORN_HTTPS_GET_H
#define POSTHORN_HTTPS_GET_H
#include "event.h"
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>

struct https_get_params {
    const char *host;           /* the server's name: in the URL, SNI, the certificate */
    const char *path;           /* "/.well-known/mta-sts.txt" */
    const char *const *addrs;   /* its addresses (text), tried in order */
    size_t naddrs;
    X509_STORE *trust;          /* trust anchors (shared; the fetch takes a reference) */
    long timeout_ms;            /* the whole fetch */
    size_t max_size;            /* more body than this is an error */
    const char *media_type;     /* required Content-Type (parameters aside), or NULL */
};

struct https_result {
    bool ok;                /* status 200, right media type, body within max_size */
    long status;            /* HTTP status, 0 when there was no response */
    const char *body;       /* NUL-terminated (the NUL not counted) */
    size_t len;
    char error[256];        /* when !ok: why */
};

struct https;
struct https_get;
typedef void (*https_fn)(const struct https_result *r, void *ctx);

/* 0, or -1 with *err (malloc'ed). */
int https_global_init(char **err);
/* NULL with *err (malloc'ed). */
struct https *https_new(struct event_loop *loop, char **err);
struct event_loop *https_loop(const struct https *h);
/* Cancel every pending fetch (their callbacks are not called). Not from a callback. */
void https_free(struct https *h);
/* Start a fetch; cb follows from the loop, never from inside this call. NULL with *err. */
struct https_get *https_get(struct https *h, const struct https_get_params *p, https_fn cb,
                            void *ctx, char **err);
/* The requester went away: its callback is not called. No-op from inside the callback. */
void https_cancel(struct https_get *g);

#endif
