/* signer.h - dkim-signer's shared state (doc/dkim.md). main.c speaks the protocol
 * (doc/ipc.md, "dkim"), sign.c signs one queued message, keys.c keeps the keys of recently
 * seen domains loaded. */
#ifndef DKIM_SIGNER_SIGNER_H
#define DKIM_SIGNER_SIGNER_H
#include "config.h"
#include "dkim_key.h"
#include "ipc.h"
#include "ipc_server.h"
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct keycache;

struct signer {
    struct config *cfg;
    struct ipc_peers peers;          /* root, ourselves and mail_owner */
    char **sign_headers, **oversign; /* dkim_sign_headers, dkim_oversign_headers */
    size_t nsign, nover;
    size_t header_limit;             /* dkim_header_size_limit */
    size_t max_signatures;           /* dkim_max_signatures */
    struct keycache *keys;
};

/* --- keys.c --- */

/* The active keys of one domain, in selector order. */
struct domain_keys {
    size_t n;
    struct dkim_key **keys;
    char **selectors;
};

/* dir: dkim_key_directory; at most max_domains domains stay loaded, each with at most
 * max_keys keys. */
struct keycache *keycache_new(const char *dir, size_t max_domains, size_t max_keys);
void keycache_free(struct keycache *kc);
/* The keys of domain (n == 0: it has none), valid until the next call; NULL with *err
 * (malloc'ed) when they cannot be read. */
const struct domain_keys *keycache_get(struct keycache *kc, const char *domain, char **err);

/* --- sign.c --- */

/* Answer request=sign for the queue file at qfd (doc/ipc.md, "dkim") into reply. */
void sign_message(struct signer *sg, const char *queue_id, int qfd, struct attrs *reply);

#endif
