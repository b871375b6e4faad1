/* delivery.c - one delivery request from qmgr, start to reply (doc/smtp-client.md).
 *
 * The request's recipients share one next hop. The delivery joins its destination
 * (dest.c: concurrency, cached connections), takes a cached connection or resolves the
 * destination into target addresses (route.c), and tries them in order with SMTP sessions
 * until every recipient has a final result or the targets (smtp_mx_address_limit) or
 * sessions (smtp_mx_session_limit) run out (RFC 5321 sec 5.1). A 2xx or 5xx for a
 * recipient is final; a 4xx leaves it for the next host; whatever is left is deferred
 * with its last error. The reply lists status, dsn, reason and relay per recipient, and the
 * connection set-up time.
 *
 * A session reports here as its last use of the delivery, and this file may finish and
 * free the delivery in any of those calls. */
#include "smtpc.h"
#include "sts.h"
#include "delivery_log.h"
#include "log.h"
#include "mem.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

size_t delivery_pending(const struct delivery *d)
{
    size_t n = 0;
    for (size_t k = 0; k < d->n; k++)
        n += d->r[k].state == RC_PENDING;
    return n;
}

/* --- results --- */

void delivery_rcpt_result(struct delivery *d, size_t k, int cls, const char *dsn,
                          const char *reason, const char *relay)
{
    struct drcpt *r = &d->r[k];
    if (r->state != RC_PENDING)
        return;
    free(r->reason);
    r->reason = xstrdup(reason);
    snprintf(r->dsn, sizeof r->dsn, "%s", dsn);
    r->dsn[0] = (char)('0' + cls); /* the class decides; the detail is the server's */
    snprintf(r->relay, sizeof r->relay, "%s", relay ? relay : "");
    if (cls == 2 || cls == 5) {
        r->state = RC_FINAL;
        r->status = cls == 2 ? "sent" : "bounce";
    }
}

void delivery_all_result(struct delivery *d, int cls, const char *dsn, const char *reason,
                         const char *relay)
{
    for (size_t k = 0; k < d->n; k++)
        delivery_rcpt_result(d, k, cls, dsn, reason, relay);
    if (cls == 4) {
        snprintf(d->soft_dsn, sizeof d->soft_dsn, "%s", dsn);
        free(d->soft_reason);
        d->soft_reason = xstrdup(reason);
    }
}

/* The delivery line of recipient k, as Postfix's smtp logs it (doc/operator.md, "Logs");
 * with soft_bounce a bounce is logged and answered as a deferral, so qmgr keeps it. */
static void log_result(struct delivery *d, size_t k, const char **status, const char **dsn,
                       char soft[16], const char *reason, const char *relay, double now)
{
    if (d->sc->p.soft_bounce && delivery_soften(status, dsn, soft))
        *dsn = soft;
    const struct deliver_rcpt *rc = &d->req.rcpt[k];
    char *orig = delivery_orig_to(rc->addr, rc->orcpt);
    double ready = d->t_ready > 0 ? d->t_ready : d->t_start;
    double arrival = d->msg_ok ? (double)d->msg.arrival_sec + (double)d->msg.arrival_usec / 1e6
                               : (double)d->req.arrival;
    struct delivery_line l = {
        .queue_id = d->req.queue_id, .to = rc->addr, .orig_to = orig, .relay = relay,
        .delay = now - arrival,
        .delays = {d->req.delays[0], d->req.delays[1], d->req.delays[2] + ready - d->t_start,
                   now - ready},
        .dsn = *dsn, .status = *status, .reason = reason};
    delivery_log(&l);
    free(orig);
}

/* The reply says logged=yes: each recipient's line is logged here, so qmgr logs only what
 * it changes itself (doc/ipc.md, "deliver"). */
static void build_reply(struct delivery *d, struct attrs *rep)
{
    double now = delivery_now();
    attrs_addf(rep, "nrcpt", "%zu", d->n);
    attrs_add(rep, "logged", "yes");
    for (size_t k = 0; k < d->n; k++) {
        struct drcpt *r = &d->r[k];
        const char *status = r->status, *dsn = r->dsn, *reason = r->reason;
        if (r->state == RC_PENDING) {
            status = "defer";
            reason = r->reason ? r->reason
                   : d->soft_reason ? d->soft_reason : "delivery not attempted";
            dsn = r->reason ? r->dsn : d->soft_dsn[0] ? d->soft_dsn : "4.4.1";
        }
        const char *relay = r->relay[0] ? r->relay : "none";
        char soft[16];
        log_result(d, k, &status, &dsn, soft, reason, relay, now);
        deliver_reply_add(rep, k, status, dsn, reason);
        attrs_add_indexed(rep, "relay", k, relay);
        if (strcmp(status, "sent") == 0)
            attrs_add_indexed(rep, "relayed", k, r->dsn_passed ? "dsn" : "plain");
    }
    if (d->t_ready > 0)
        attrs_addf(rep, "setup", "%.3f", d->t_ready - d->t_start);
}

static void delivery_free(struct delivery *d)
{
    struct smtpc *sc = d->sc;
    route_cancel(d);
    dane_cancel(d);
    sts_cancel(d);
    mta_sts_policy_free(&d->sts);
    for (size_t k = 0; k < d->n; k++)
        free(d->r[k].reason);
    free(d->r);
    free(d->t);
    free(d->tried);
    free(d->soft_reason);
    if (d->sasl_pass)
        explicit_bzero(d->sasl_pass, strlen(d->sasl_pass));
    free(d->sasl_user);
    free(d->sasl_pass);
    queue_msg_free(&d->msg);
    if (d->qfd >= 0)
        close(d->qfd);
    deliver_request_free(&d->req);
    attrs_free(&d->attrs);
    sc->ndeliveries--;
    free(d);
}

static void finish(struct delivery *d)
{
    struct attrs rep = {0};
    build_reply(d, &rep);
    if (d->agent)
        agent_delivery_done(d->agent, &rep);
    attrs_free(&rep);
    if (d->dest)
        dest_leave(d->sc, d); /* may start the next delivery to this destination */
    delivery_free(d);
}

/* --- trying targets --- */

static void try_next(struct delivery *d);

static bool tried(const struct delivery *d, const struct target *t)
{
    for (size_t i = 0; i < d->ntried; i++)
        if (strcmp(d->tried[i].addr, t->addr) == 0 && d->tried[i].port == t->port)
            return true;
    return false;
}

static void remember(struct delivery *d, const struct target *t)
{
    d->tried = xreallocarray(d->tried, d->ntried + 1, sizeof *d->tried);
    d->tried[d->ntried++] = *t;
}

void delivery_open_target(struct delivery *d, const struct target *t, enum tls_level level,
                          struct tlsa_set *tlsa)
{
    d->s = session_open(d->sc, d, t, level, tlsa);
}

void delivery_open_without_dane(struct delivery *d, const struct target *t)
{
    struct target x = *t;
    enum tls_level level = d->tls_level == TLSL_DANE ? TLSL_MAY : d->tls_level;
    x.sts = d->sts.mode;
    if (!x.sts_checked && !sts_mx_allowed(d, x.host)) { /* a host DANE might have taken */
        char *why = sts_no_mx_reason(d);
        delivery_target_failed(d, "4.7.5", why);
        free(why);
        return;
    }
    if (x.sts == MTA_STS_ENFORCE && level < TLSL_VERIFY) /* RFC 8461 sec 4.2 */
        level = TLSL_VERIFY;
    delivery_open_target(d, &x, level, NULL);
}

static void open_target(struct delivery *d, const struct target *t)
{
    remember(d, t);
    if (d->tls_level == TLSL_DANE && !t->no_tls)
        dane_open(d, t);
    else
        delivery_open_without_dane(d, t);
}

void delivery_target_failed(struct delivery *d, const char *dsn, const char *why)
{
    delivery_all_result(d, 4, dsn, why, NULL);
    try_next(d);
}

/* The MTA-STS policy first (when it applies), then the destination's hosts. */
static void resolve(struct delivery *d)
{
    if (!d->sts_done && sts_applies(d)) {
        sts_lookup(d);
        return;
    }
    d->sts_done = true;
    route_resolve(d);
}

void delivery_sts_ready(struct delivery *d)
{
    d->sts_done = true;
    route_resolve(d);
}

static void try_next(struct delivery *d)
{
    if (delivery_pending(d) == 0) {
        finish(d);
        return;
    }
    if (!d->resolved) { /* a cached connection left work for the other hosts */
        resolve(d);
        return;
    }
    while (d->next_t < d->nt && d->sessions < d->sc->p.mx_session_limit) {
        const struct target *t = &d->t[d->next_t++];
        if (!tried(d, t)) {
            open_target(d, t);
            return;
        }
    }
    finish(d);
}

void delivery_targets_ready(struct delivery *d)
{
    d->resolved = true;
    try_next(d);
}

void delivery_go(struct delivery *d)
{
    struct session *s = dest_take_idle(d);
    if (s) {
        log_debug("%s: reusing the connection to %s", d->req.queue_id, session_relay(s));
        remember(d, session_target(s));
        d->s = s;
        session_adopt(s, d);
        if (d->t_ready == 0)
            d->t_ready = delivery_now();
        session_transaction(s);
        return;
    }
    if (d->resolved)
        try_next(d);
    else
        resolve(d);
}

/* --- what sessions report --- */

void delivery_session_ready(struct delivery *d, struct session *s)
{
    if (d->t_ready == 0)
        d->t_ready = delivery_now();
    session_transaction(s);
}

void delivery_session_failed(struct delivery *d, struct session *s, bool stale, bool retry_plain)
{
    d->s = NULL;
    if (stale) { /* the address did not really get a try: allow it again */
        if (d->ntried > 0)
            d->ntried--; /* a cached session is the only try before a stale failure */
        delivery_go(d);
        return;
    }
    if (retry_plain && delivery_pending(d) > 0) {
        struct target t = *session_target(s);
        t.no_tls = true;
        log_info("%s: TLS handshake with %s failed; trying again without TLS", d->req.queue_id,
                 session_relay(s));
        if (t.sts == MTA_STS_TESTING)
            sts_testing_failure(d, "the TLS handshake failed");
        d->s = session_open(d->sc, d, &t, TLSL_NONE, NULL);
        return;
    }
    try_next(d);
}

void delivery_txn_done(struct delivery *d, struct session *s, bool reusable)
{
    struct smtpc *sc = d->sc;
    d->s = NULL;
    bool keep = reusable && delivery_pending(d) == 0 && sc->p.cache_on_demand &&
                !sc->srv->draining;
    if (keep)
        dest_park(d, s);
    else
        session_quit(s);
    try_next(d);
}

/* --- the start --- */

/* The size on the wire, CRLF line ends (RFC 1870 sec 3: SIZE is what will be sent, dot
 * stuffing aside): one pass over the content, from the page cache. */
static int wire_size(struct delivery *d, char **err)
{
    char *chunk = xmalloc(QUEUE_CHUNK);
    struct queue_body_cursor cur;
    queue_body_start(&d->msg, &cur);
    size_t len, lines = 0;
    int r;
    while ((r = queue_body_next(d->qfd, &d->msg, &cur, chunk, &len, err)) > 0)
        for (const char *p = chunk; (p = memchr(p, '\n', len - (size_t)(p - chunk))); p++)
            lines++;
    free(chunk);
    d->wire_size = d->msg.body_size + lines;
    return r;
}

static void read_message(struct delivery *d)
{
    char *err = NULL;
    if (queue_read(d->qfd, d->req.queue_id, &d->msg, &err) < 0) {
        log_warn("%s: %s", d->req.queue_id, err);
        char *why = xasprintf("cannot read the queue file: %s", err);
        delivery_all_result(d, 4, "4.3.0", why, NULL);
        free(why);
        free(err);
        return;
    }
    if (wire_size(d, &err) < 0) {
        char *why = xasprintf("cannot read the queue file: %s", err);
        delivery_all_result(d, 4, "4.3.0", why, NULL);
        free(why);
        free(err);
        return;
    }
    const char *body = queue_msg_attr(&d->msg, "body"), *utf8 = queue_msg_attr(&d->msg, "smtputf8");
    d->body_8bit = body && strcasecmp(body, "8BITMIME") == 0;
    d->smtputf8 = utf8 && strcasecmp(utf8, "yes") == 0;
    d->envid = queue_msg_attr(&d->msg, "envid");
    d->ret = queue_msg_attr(&d->msg, "ret");
    d->msg_ok = true;
}

static void set_nexthop(struct delivery *d)
{
    const char *nh = d->req.nexthop;
    if (!*nh) { /* qmgr always sends it for smtp; be tolerant of a hand-made request */
        const char *at = strrchr(d->r[0].addr, '@');
        nh = at ? at + 1 : "";
    }
    snprintf(d->nexthop, sizeof d->nexthop, "%s", nh);
    for (char *p = d->nexthop; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

int delivery_start(struct smtpc *sc, struct agent *a, struct attrs *attrs, int qfd, char **err)
{
    struct stat st;
    struct delivery *d = xcalloc(1, sizeof *d);
    d->sc = sc;
    d->agent = a;
    d->attrs = *attrs;
    *attrs = (struct attrs){0};
    d->qfd = qfd;
    d->t_start = delivery_now();
    sc->ndeliveries++;
    if (deliver_request_parse(&d->attrs, &d->req, err) < 0 || fstat(qfd, &st) < 0 ||
        !S_ISREG(st.st_mode)) {
        if (!*err)
            *err = xstrdup("request without a queue file descriptor");
        delivery_free(d);
        return -1;
    }
    agent_bind(a, d);
    d->n = d->req.nrcpt;
    d->r = xcalloc(d->n, sizeof *d->r);
    for (size_t k = 0; k < d->n; k++)
        d->r[k] = (struct drcpt){.addr = d->req.rcpt[k].addr, .orcpt = d->req.rcpt[k].orcpt,
                                 .notify = d->req.rcpt[k].notify};
    set_nexthop(d);
    read_message(d);
    char *why = NULL;
    int rc;
    if (!d->msg_ok) {
        finish(d);
    } else if ((rc = route_plan(d, &why)) < 0) {
        if (rc == -3)
            delivery_all_result(d, 5, "5.4.6", why, NULL);
        else if (rc == -2)
            delivery_all_result(d, 5, "5.1.2", why, NULL);
        else
            delivery_all_result(d, 4, "4.3.5", why, NULL);
        free(why);
        finish(d);
    } else if (dest_enter(sc, d)) {
        delivery_go(d);
    }
    return 0;
}

void delivery_agent_gone(struct delivery *d) { d->agent = NULL; }
