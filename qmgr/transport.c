/* transport.c - the transport table: which delivery agent gets a recipient, through which
 * socket, with how much concurrency and how many recipients per request.
 *
 * A transport is a name, a UNIX socket under the spool speaking the deliver protocol
 * (doc/ipc.md), a worker pool sized by its concurrency limit and a recipient limit. Domains
 * we host go to "local"; every other domain goes to "smtp", grouped by next hop (the
 * recipient domain), once a delivery agent listens on private/smtp: until then such
 * recipients are deferred without an attempt. Adding a transport is one row below. */
#include "qmgr.h"
#include "log.h"
#include "mem.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct transport_def {
    const char *name;
    const char *socket;
    const char *concurrency_param;
    const char *rcpt_limit_param;
    bool by_nexthop;
    bool optional;
    bool exactly_once;
};

static const struct transport_def transport_defs[] = {
    /* local-mda records each copy with the queue ID in the mailbox index (exactly once) */
    {"local", "private/local", PARAM(local_destination_concurrency_limit),
     PARAM(default_destination_recipient_limit), false, false, true},
    {"smtp", "private/smtp", PARAM(default_destination_concurrency_limit),
     PARAM(default_destination_recipient_limit), true, true, false},
};

void transports_init(struct qmgr *q)
{
    size_t n = sizeof transport_defs / sizeof transport_defs[0];
    q->transports = xcalloc(n, sizeof *q->transports);
    q->ntransports = n;
    for (size_t i = 0; i < n; i++) {
        const struct transport_def *d = &transport_defs[i];
        struct transport *tp = &q->transports[i];
        tp->name = d->name;
        tp->socket = xasprintf("%s/%s", q->spool, d->socket);
        tp->by_nexthop = d->by_nexthop;
        tp->optional = d->optional;
        tp->exactly_once = d->exactly_once;
        tp->rcpt_limit = (unsigned)config_int(q->cfg, d->rcpt_limit_param);
        pool_init(&tp->pool, q, d->name, (unsigned)config_int(q->cfg, d->concurrency_param));
    }
}

static struct transport *find(struct qmgr *q, const char *name)
{
    for (size_t i = 0; i < q->ntransports; i++)
        if (strcmp(q->transports[i].name, name) == 0)
            return &q->transports[i];
    return NULL;
}

const char *domain_of(const char *addr)
{
    const char *at = strrchr(addr, '@');
    return at ? at + 1 : "";
}

static bool resolver_ready(struct qmgr *q, char **why)
{
    if (q->resolver)
        return true;
    char *err = NULL;
    q->resolver = resolver_open(q->cfg, &err);
    if (q->resolver)
        return true;
    log_warn("cannot open the address resolver: %s", err ? err : "unknown error");
    *why = xasprintf("4.3.0 address resolver unavailable: %s", err ? err : "unknown error");
    free(err);
    return false;
}

bool sender_is_ours(struct qmgr *q, const char *sender)
{
    char *why = NULL;
    if (!*sender || !resolver_ready(q, &why)) {
        free(why);
        return false;
    }
    return resolve_domain_is_ours(q->resolver, sender) == 1;
}

struct transport *transport_for(struct qmgr *q, const char *addr, char **nexthop, char **why)
{
    *nexthop = NULL;
    *why = NULL;
    if (!resolver_ready(q, why))
        return NULL;
    char *result = NULL, *ext = NULL;
    enum rcpt_class cls = resolve_recipient(q->resolver, addr, &result, &ext);
    free(result);
    free(ext);
    if (cls == RCPT_TEMPFAIL) {
        *why = xstrdup("4.3.0 recipient lookup failed; will try again");
        return NULL;
    }
    struct transport *tp = find(q, cls == RCPT_REMOTE ? "smtp" : "local");
    if (tp->optional && access(tp->socket, F_OK) != 0) {
        *why = xasprintf("4.4.1 delivery temporarily suspended: no %s transport", tp->name);
        return NULL;
    }
    if (tp->by_nexthop) {
        char *d = xstrdup(domain_of(addr));
        for (char *p = d; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        *nexthop = d;
    } else {
        *nexthop = xstrdup("");
    }
    return tp;
}
