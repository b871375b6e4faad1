/* deliver_request.c - strict check of a deliver request and reply lines (see
 * deliver_request.h). */
#include "deliver_request.h"
#include "mem.h"
#include "queue.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool plain_attribute(const char *name)
{
    static const char *const names[] = {"request", "queue_id", "sender", "arrival", "nrcpt",
                                        "nexthop", "delays"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

/* Every attribute known, none twice; rcpt_0 .. rcpt_{nrcpt-1} all there and not empty,
 * orcpt_i and notify_i optional with i < nrcpt (lib/ipc/ipc.h, repeated groups). */
static int check_groups(const struct attrs *a, long long nrcpt, char **err)
{
    size_t k, n;
    for (size_t i = 0; i < a->n; i++) {
        const char *nm = a->v[i].name;
        bool known = plain_attribute(nm) || attrs_name_indexed(nm, "rcpt", &k) ||
                     attrs_name_indexed(nm, "orcpt", &k) || attrs_name_indexed(nm, "notify", &k);
        if (!known || attrs_get(a, nm) != a->v[i].value) {
            *err = xasprintf("unknown, out of range or repeated attribute \"%s\"", nm);
            return -1;
        }
    }
    if (attrs_group_count(a, "rcpt", &n, err) < 0 ||
        attrs_group_check_sparse(a, "orcpt", (size_t)nrcpt, err) < 0 ||
        attrs_group_check_sparse(a, "notify", (size_t)nrcpt, err) < 0)
        return -1;
    if (n != (size_t)nrcpt) {
        *err = xasprintf("%zu recipients where nrcpt says %lld", n, nrcpt);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!*attrs_get_indexed(a, "rcpt", i)) {
            *err = xasprintf("rcpt_%zu empty", i);
            return -1;
        }
    return 0;
}

static const char *or_empty(const char *s) { return s ? s : ""; }

int deliver_request_parse(const struct attrs *a, struct deliver_request *r, char **err)
{
    long long nrcpt;
    memset(r, 0, sizeof *r);
    const char *req = attrs_get(a, "request"), *id = attrs_get(a, "queue_id");
    if (!req || strcmp(req, "deliver") != 0 || !id || !queue_id_valid(id) ||
        !attrs_get(a, "sender") || !attrs_get_ll(a, "arrival", &r->arrival) ||
        !attrs_get_ll(a, "nrcpt", &nrcpt) || nrcpt < 1 || nrcpt > DELIVER_MAX_RCPT) {
        *err = xstrdup("request, queue_id, sender, arrival or nrcpt missing or invalid");
        return -1;
    }
    if (check_groups(a, nrcpt, err) < 0)
        return -1;
    r->queue_id = id;
    r->sender = attrs_get(a, "sender");
    r->nexthop = or_empty(attrs_get(a, "nexthop"));
    /* qmgr's a/b/c of Postfix's delays=a/b/c/d; the agent adds d. Optional; malformed
     * counts as absent (only the log line depends on it). */
    const char *delays = attrs_get(a, "delays");
    if (delays && sscanf(delays, "%lf/%lf/%lf", &r->delays[0], &r->delays[1], &r->delays[2]) != 3)
        memset(r->delays, 0, sizeof r->delays);
    r->nrcpt = (size_t)nrcpt;
    r->rcpt = xcalloc(r->nrcpt, sizeof *r->rcpt);
    for (size_t k = 0; k < r->nrcpt; k++) {
        r->rcpt[k].addr = attrs_get_indexed(a, "rcpt", k);
        r->rcpt[k].orcpt = or_empty(attrs_get_indexed(a, "orcpt", k));
        r->rcpt[k].notify = or_empty(attrs_get_indexed(a, "notify", k));
    }
    return 0;
}

void deliver_request_free(struct deliver_request *r)
{
    free(r->rcpt);
    r->rcpt = NULL;
    r->nrcpt = 0;
}

void deliver_reply_add(struct attrs *rep, size_t k, const char *status, const char *dsn,
                       const char *reason)
{
    attrs_add_indexed(rep, "status", k, status);
    attrs_add_indexed(rep, "dsn", k, dsn);
    attrs_add_indexed(rep, "reason", k, reason);
}
