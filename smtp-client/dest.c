/* dest.c - destinations: per next hop ("example.com:25" for MX routing, "[host]:port"
 * otherwise) the deliveries running, the ones waiting for a turn and the cached
 * connections.
 *
 * At most smtp_destination_concurrency_limit deliveries of one destination run at once in
 * this process; more wait in arrival order. With smtp_destination_rate_delay, one at a time
 * and each start at least the delay after the previous one; the destination is kept (by
 * its kick timer) until the delay has passed, so a new delivery cannot skip it. A session whose delivery ended well is kept
 * (smtp_connection_cache_on_demand) for smtp_connection_cache_time_limit, until it is
 * smtp_connection_reuse_time_limit old; the next delivery to the destination takes it
 * instead of resolving and connecting again. Waiting deliveries are started from a timer,
 * never from inside the call that ended the previous one, so no delivery starts inside
 * another's callbacks. A destination with nothing running, waiting or cached is freed. */
#include "session_int.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

static struct dest *find(struct smtpc *sc, const char *key)
{
    struct dest *dst;
    DLIST_FOREACH(dst, &sc->dests) {
        if (strcmp(dst->key, key) == 0)
            return dst;
    }
    return NULL;
}

static void maybe_free(struct smtpc *sc, struct dest *dst)
{
    if (dst->active || dst->pins || dst->wait_head || dst->idle || dst->kick_timer)
        return;
    DLIST_REMOVE(&sc->dests, dst);
    free(dst);
}

/* May one more delivery start now? (Counted as started when true.) */
static bool may_start(struct smtpc *sc, struct dest *dst)
{
    long long now = event_now_ms();
    if (sc->p.rate_delay_ms > 0) {
        if (dst->active > 0 || now < dst->next_start_ms)
            return false;
        dst->next_start_ms = now + sc->p.rate_delay_ms;
    } else if (dst->active >= sc->p.dest_concurrency) {
        return false;
    }
    dst->active++;
    return true;
}

static void on_kick(struct event_loop *loop, void *ctx);

/* Start waiting deliveries from a timer: now when they may, else when the delay is over
 * (also keeping an idle destination until then). */
static void schedule_kick(struct smtpc *sc, struct dest *dst)
{
    if (dst->kick_timer)
        return;
    long long wait = 0;
    if (sc->p.rate_delay_ms > 0 && dst->next_start_ms > event_now_ms())
        wait = dst->next_start_ms - event_now_ms();
    if (dst->wait_head || wait > 0)
        dst->kick_timer = event_timer(sc->srv->loop, wait, on_kick, dst);
}

bool dest_enter(struct smtpc *sc, struct delivery *d)
{
    struct dest *dst = find(sc, d->dest_key);
    if (!dst) {
        dst = xcalloc(1, sizeof *dst);
        dst->sc = sc;
        snprintf(dst->key, sizeof dst->key, "%s", d->dest_key);
        DLIST_INSERT_TAIL(&sc->dests, dst);
    }
    d->dest = dst;
    if (!dst->wait_head && may_start(sc, dst))
        return true;
    d->wait_next = NULL;
    if (dst->wait_tail)
        dst->wait_tail->wait_next = d;
    else
        dst->wait_head = d;
    dst->wait_tail = d;
    if (dst->active == 0)
        schedule_kick(sc, dst); /* only the rate delay holds it back */
    return false;
}

static void on_kick(struct event_loop *loop, void *ctx)
{
    struct dest *dst = ctx;
    struct smtpc *sc = dst->sc;
    dst->kick_timer = 0;
    dst->pins++; /* a delivery may finish inside delivery_go and leave dst empty */
    while (dst->wait_head && may_start(sc, dst)) {
        struct delivery *d = dst->wait_head;
        dst->wait_head = d->wait_next;
        if (!dst->wait_head)
            dst->wait_tail = NULL;
        delivery_go(d);
    }
    dst->pins--;
    if (dst->active == 0)
        schedule_kick(sc, dst);
    maybe_free(sc, dst);
}

void dest_leave(struct smtpc *sc, struct delivery *d)
{
    struct dest *dst = d->dest;
    d->dest = NULL;
    dst->active--;
    schedule_kick(sc, dst);
    maybe_free(sc, dst);
}

struct session *dest_take_idle(struct delivery *d)
{
    struct dest *dst = d->dest;
    long long now = event_now_ms();
    while (dst->idle) {
        struct session *s = dst->idle;
        dst->idle = s->idle_next;
        s->idle_next = NULL;
        s->idle_dest = NULL;
        if (now - s->born_ms < d->sc->p.reuse_time_ms && !conn_eof(s->c))
            return s;
        session_quit(s); /* too old to reuse */
    }
    return NULL;
}

void dest_park(struct delivery *d, struct session *s)
{
    struct dest *dst = d->dest;
    if (event_now_ms() - s->born_ms >= d->sc->p.reuse_time_ms) {
        session_quit(s);
        return;
    }
    s->idle_next = dst->idle;
    dst->idle = s;
    session_set_idle(s, dst, d->sc->p.cache_time_ms);
}

void dest_unpark(struct session *s)
{
    struct dest *dst = s->idle_dest;
    if (!dst)
        return;
    for (struct session **pp = &dst->idle; *pp; pp = &(*pp)->idle_next)
        if (*pp == s) {
            *pp = s->idle_next;
            break;
        }
    s->idle_next = NULL;
    s->idle_dest = NULL;
    maybe_free(dst->sc, dst);
}

void dest_quit_idle(struct smtpc *sc)
{
    struct dest *dst, *next;
    DLIST_FOREACH_SAFE(dst, &sc->dests, next) {
        dst->pins++; /* keep it while its sessions leave */
        while (dst->idle)
            session_quit(dst->idle);
        dst->pins--;
        maybe_free(sc, dst);
    }
}
