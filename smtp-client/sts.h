/* sts.h - MTA-STS (RFC 8461) in smtp-client (doc/smtp-client.md, "MTA-STS"): the policy of
 * a delivery's recipient domain (sts.c) and the policy cache behind it (sts_cache.c).
 *
 * Which deliveries: smtp_mta_sts_enable, the next hop is the recipient domain itself looked
 * up by MX (not relayhost or a transport_maps next hop) and smtp_tls_policy_maps has no
 * entry for it. Before the MX lookup the delivery asks for _mta-sts.DOMAIN TXT; the cached
 * policy is used while it is unexpired and its id is the record's, else the policy is
 * fetched (lib/io/sts_fetch; one fetch per domain at a time, the deliveries that need it
 * wait for it) and cached; a failed fetch or a missing record falls back to the cached
 * policy while it lasts (sec 5.1). The delivery then holds its own copy of the policy.
 *
 * Threading: the loop thread only; the disk writes run on a worker thread (fsync). */
#ifndef SMTPC_STS_H
#define SMTPC_STS_H
#include "mta_sts.h"
#include "sts_fetch.h"
#include <time.h>

struct smtpc;
struct delivery;
struct config;

/* One domain's cache entry. */
struct sts_entry {
    struct sts_entry *prev, *next;      /* the cache's LRU list, most recent first */
    char domain[DNS_NAME_MAX];
    bool have;                          /* pol/id/fetched hold a policy */
    char id[MTA_STS_ID_MAX + 1];
    struct mta_sts_policy pol;
    time_t fetched, expires;
    char failed_id[MTA_STS_ID_MAX + 1]; /* the last fetch that failed, and when */
    time_t failed_at;
    struct sts *owner;                  /* for the fetch's callback */
    struct sts_fetch *fetch;            /* in flight, for fetch_id */
    char fetch_id[MTA_STS_ID_MAX + 1];
    struct delivery **wait;             /* deliveries waiting for the fetch */
    size_t nwait;
};

struct sts_cache;

/* sts_cache.c */
struct sts_cache *sts_cache_new(struct smtpc *sc, struct config *cfg);
/* Cache files not yet written. */
unsigned sts_cache_writes(const struct sts_cache *c);
/* The entry of domain (lower case A-labels), created and read from disk when missing. */
struct sts_entry *sts_cache_get(struct sts_cache *c, const char *domain);
/* A fetched policy (taken over) with its id and text: into the entry and onto disk. */
void sts_cache_store(struct sts_cache *c, struct sts_entry *e, const char *id,
                     const char *text, size_t len, struct mta_sts_policy *pol, time_t now);
/* Does the entry hold a policy that has not expired? */
bool sts_entry_valid(const struct sts_entry *e, time_t now);

/* sts.c */
struct sts;
/* NULL when MTA-STS is off. It lives as long as the process. */
struct sts *sts_new(struct smtpc *sc, struct config *cfg);
/* Work that must finish before the process may exit (cache files being written). */
unsigned sts_busy(const struct sts *st);
/* Does MTA-STS apply to d (see above)? */
bool sts_applies(const struct delivery *d);
/* Find d's policy into d->sts; delivery_sts_ready(d) follows from the loop. */
void sts_lookup(struct delivery *d);
void sts_cancel(struct delivery *d);
/* route.c: may d use the MX host (enforce: only hosts the policy names; testing: all, the
 * others logged)? */
bool sts_mx_allowed(struct delivery *d, const char *host);
/* The text for a delivery that found no MX host allowed by its policy. */
char *sts_no_mx_reason(const struct delivery *d);
/* Log what a testing policy would have refused (sec 5: testing only reports). */
void sts_testing_failure(const struct delivery *d, const char *what);

#endif
