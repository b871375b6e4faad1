/* requests.c - what anvil answers (doc/anvil.md, "Requests"): connection counts and rates per
 * service and client address, and the login limits per client address and account.
 *
 * Logins: an address may have at most max_failures failed logins within login_penalty_time.
 * To keep that bound under parallel sessions, a login is checked only after anvil reserved
 * one of the address's remaining attempts (failures + checks under way < max_failures); when
 * they are all under way the answer is "wait" and the login process asks again shortly.
 * Once failures reach max_failures the answer is "refuse" until the penalty time has passed
 * since the last failure. Before a reserved check the login process waits delay: zero
 * without failures, else login_failure_delay doubled per failure of the address or of the
 * account (whichever has more), capped at login_failure_delay_limit. A success forgets the
 * failures of that address and account pair only, so it does not clear what the same
 * address did against other accounts. While this anvil may lack failures its predecessor
 * counted (state.c), its login replies say "amnesic".
 *
 * Sending (submission): per authenticated user, the messages and recipients of the current
 * time unit against the limits the request carries (lib/global/send_limit.h); past a hard
 * limit the user's mail is held for the hold time (submission logs the alert). */
#include "anvil.h"
#include "event.h"
#include "log.h"
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 200 /* all attempts of an address are being checked: ask again after this */

/* Only the attribute names in allowed (NULL-terminated), each required one present. */
static bool attrs_only(const struct attrs *a, const char *const *allowed, const char *const *required)
{
    for (size_t i = 0; i < a->n; i++) {
        bool ok = false;
        for (const char *const *n = allowed; *n && !ok; n++)
            ok = strcmp(a->v[i].name, *n) == 0;
        if (!ok)
            return false;
    }
    for (const char *const *n = required; *n; n++)
        if (!attrs_get(a, *n) || !*attrs_get(a, *n))
            return false;
    return true;
}

static bool get_num(const struct attrs *a, const char *name, long long max, long long *out)
{
    return attrs_get_ll(a, name, out) && *out >= 0 && *out <= max;
}

static void touch(struct entry *e, long long now) { e->touched_ms = now; }

long long anvil_idle_ms(const struct anvil *av)
{
    return av->penalty_ms > av->rate_unit_ms ? av->penalty_ms : av->rate_unit_ms;
}

/* Failures older than the penalty time no longer count. */
static unsigned failures(struct anvil *av, struct entry *e, long long now)
{
    if (e && e->failures && now - e->fail_ms > av->penalty_ms)
        e->failures = 0;
    return e ? e->failures : 0;
}

static int do_connect(struct anvil *av, unsigned client, const struct attrs *a, struct attrs *reply)
{
    static const char *const names[] = {"request", "service", "addr", NULL};
    if (!attrs_only(a, names, names))
        return -1;
    struct entry *e = table_get(av->table, "conn", attrs_get(a, "service"), attrs_get(a, "addr"), true);
    if (!e) {
        attrs_add(reply, "status", "full");
        return 0;
    }
    long long now = event_now_ms();
    /* rate is 0 only before the entry's first connection: its unit starts then, not at 0
     * of the monotonic clock (a machine up for less than a unit). */
    if (e->rate == 0 || now - e->rate_start >= av->rate_unit_ms) {
        e->rate_start = now;
        e->rate = 0;
    }
    e->rate++;
    entry_hold(e, client);
    touch(e, now);
    attrs_add(reply, "status", "ok");
    attrs_addf(reply, "count", "%u", e->count);
    attrs_addf(reply, "rate", "%u", e->rate);
    return 0;
}

static int do_disconnect(struct anvil *av, unsigned client, const struct attrs *a, struct attrs *reply)
{
    static const char *const names[] = {"request", "service", "addr", NULL};
    if (!attrs_only(a, names, names))
        return -1;
    struct entry *e = table_get(av->table, "conn", attrs_get(a, "service"), attrs_get(a, "addr"), false);
    if (e) {
        entry_release(e, client);
        touch(e, event_now_ms());
    }
    attrs_add(reply, "status", "ok");
    attrs_addf(reply, "count", "%u", e ? e->count : 0);
    return 0;
}

static long backoff(unsigned nfail, long long delay, long long limit)
{
    if (nfail == 0)
        return 0;
    long long d = delay;
    for (unsigned i = 1; i < nfail && d < limit; i++)
        d *= 2;
    return (long)(d < limit ? d : limit);
}

/* The address's login entry. A full table is first cleared of what has expired (at most once
 * a second), then logged (at most once a minute): the login processes then judge by their
 * own counts. */
static struct entry *addr_entry(struct anvil *av, const char *addr, long long now)
{
    struct entry *e = table_get(av->table, "addr", addr, NULL, true);
    if (!e && now - av->last_expire_ms >= 1000) {
        av->last_expire_ms = now;
        table_expire(av->table, now, anvil_idle_ms(av));
        e = table_get(av->table, "addr", addr, NULL, true);
    }
    if (!e && now - av->full_logged_ms >= 60000) {
        av->full_logged_ms = now;
        log_warn("table full (anvil_max_entries=%zu): logins from %s and other new addresses "
                 "are judged by the login processes' own counts", table_size(av->table), addr);
    }
    return e;
}

static int do_login(struct anvil *av, unsigned client, const struct attrs *a, struct attrs *reply)
{
    static const char *const allowed[] = {"request", "addr", "user", "max_failures", "delay",
                                          "delay_limit", NULL};
    static const char *const required[] = {"request", "addr", "max_failures", "delay",
                                           "delay_limit", NULL};
    long long max, delay, limit;
    if (!attrs_only(a, allowed, required) || !get_num(a, "max_failures", 1000000, &max) ||
        max == 0 || !get_num(a, "delay", 3600000, &delay) ||
        !get_num(a, "delay_limit", 3600000, &limit))
        return -1;
    const char *addr = attrs_get(a, "addr"), *user = attrs_get(a, "user");
    long long now = event_now_ms();
    struct entry *ae = addr_entry(av, addr, now);
    if (!ae) {
        attrs_add(reply, "status", "full");
        return 0;
    }
    unsigned af = failures(av, ae, now);
    touch(ae, now);
    if (af >= max) { /* no account entry for a refused address: it could fill the table */
        log_info("login from %s refused: %u failed logins within login_penalty_time", addr, af);
        attrs_add(reply, "status", "refuse");
        attrs_addf(reply, "failures", "%u", af);
        return 0;
    }
    /* The account's failures only lengthen the delay: a full table leaves them out. */
    struct entry *ue = user ? table_get(av->table, "user", user, NULL, true) : NULL;
    unsigned uf = failures(av, ue, now);
    if (ue)
        touch(ue, now);
    if (af + ae->count >= max) {
        attrs_add(reply, "status", "wait");
        attrs_addf(reply, "delay", "%d", WAIT_MS);
    } else {
        entry_hold(ae, client);
        attrs_add(reply, "status", "ok");
        attrs_addf(reply, "delay", "%ld", backoff(af > uf ? af : uf, delay, limit));
    }
    attrs_addf(reply, "failures", "%u", af);
    if (now < av->amnesic_until) /* state.c: its predecessor's failures may be missing */
        attrs_add(reply, "amnesic", "yes");
    return 0;
}

static void count_failure(struct entry *e, long long now)
{
    if (e) {
        e->failures++;
        e->fail_ms = now;
        touch(e, now);
    }
}

static void forget_failures(struct entry *e, unsigned n)
{
    if (e)
        e->failures -= n < e->failures ? n : e->failures;
}

static int do_login_done(struct anvil *av, unsigned client, const struct attrs *a, struct attrs *reply)
{
    static const char *const allowed[] = {"request", "addr", "user", "result", "reserved", NULL};
    static const char *const required[] = {"request", "addr", "result", "reserved", NULL};
    if (!attrs_only(a, allowed, required))
        return -1;
    const char *addr = attrs_get(a, "addr"), *user = attrs_get(a, "user");
    const char *result = attrs_get(a, "result"), *reserved = attrs_get(a, "reserved");
    bool failed = strcmp(result, "failed") == 0, ok = strcmp(result, "ok") == 0;
    if ((!failed && !ok && strcmp(result, "not_checked") != 0) ||
        (strcmp(reserved, "yes") != 0 && strcmp(reserved, "no") != 0))
        return -1;
    long long now = event_now_ms();
    struct entry *ae = table_get(av->table, "addr", addr, NULL, failed);
    if (ae && strcmp(reserved, "yes") == 0)
        entry_release(ae, client);
    if (failed) {
        count_failure(ae, now);
        if (user) {
            count_failure(table_get(av->table, "user", user, NULL, true), now);
            count_failure(table_get(av->table, "pair", addr, user, true), now);
        }
    } else if (ok && user) {
        struct entry *pe = table_get(av->table, "pair", addr, user, false);
        unsigned pf = failures(av, pe, now);
        forget_failures(ae, pf);
        forget_failures(table_get(av->table, "user", user, NULL, false), pf);
        if (pe)
            pe->failures = 0;
    }
    attrs_add(reply, "status", "ok");
    attrs_addf(reply, "failures", "%u", failures(av, ae, now));
    return 0;
}

/* A login process's own count of an address's failures, sent when it connects: taken (the
 * higher count wins) only while this anvil may lack its crashed predecessor's (state.c). */
static int do_login_seed(struct anvil *av, const struct attrs *a, struct attrs *reply)
{
    static const char *const names[] = {"request", "addr", "failures", "age", NULL};
    long long n, age;
    if (!attrs_only(a, names, names) || !get_num(a, "failures", 1000000, &n) ||
        !get_num(a, "age", 366LL * 86400000, &age))
        return -1;
    long long now = event_now_ms();
    if (now < av->amnesic_until && n > 0 && age <= av->penalty_ms) {
        struct entry *ae = addr_entry(av, attrs_get(a, "addr"), now);
        if (ae && failures(av, ae, now) < n) {
            log_info("login failures of %s taken over from a login process: %lld",
                     attrs_get(a, "addr"), n);
            ae->failures = (unsigned)n;
            ae->fail_ms = now - age > ae->fail_ms ? now - age : ae->fail_ms;
            touch(ae, now);
        }
    }
    attrs_add(reply, "status", "ok");
    return 0;
}

static bool get_count(const struct attrs *a, const char *name, unsigned *out)
{
    long long v;
    if (!get_num(a, name, 1000000000, &v))
        return false;
    *out = (unsigned)v;
    return true;
}

static int do_send(struct anvil *av, const struct attrs *a, struct attrs *reply)
{
    static const char *const names[] = {"request", "user", "messages", "recipients", "unit",
                                        "max_messages", "max_recipients", "hard_messages",
                                        "hard_recipients", "hold", NULL};
    struct send_limits lim;
    unsigned messages, recipients;
    if (!attrs_only(a, names, names) || !get_count(a, "messages", &messages) ||
        !get_count(a, "recipients", &recipients) ||
        !get_num(a, "unit", 366LL * 86400000, &lim.unit_ms) || lim.unit_ms == 0 ||
        !get_count(a, "max_messages", &lim.max_messages) ||
        !get_count(a, "max_recipients", &lim.max_recipients) ||
        !get_count(a, "hard_messages", &lim.hard_messages) ||
        !get_count(a, "hard_recipients", &lim.hard_recipients) ||
        !get_num(a, "hold", 366LL * 86400000, &lim.hold_ms))
        return -1;
    const char *user = attrs_get(a, "user");
    struct entry *e = table_get(av->table, "send", user, NULL, true);
    if (!e) {
        attrs_add(reply, "status", "full");
        return 0;
    }
    long long now = event_now_ms();
    struct send_verdict v;
    send_count_add(&e->send, now, &lim, messages, recipients, &v);
    touch(e, now);
    e->keep_until = send_count_keep_until(&e->send, &lim);
    attrs_add(reply, "status", v.ok ? "ok" : "refuse");
    attrs_addf(reply, "messages", "%u", v.messages);
    attrs_addf(reply, "recipients", "%u", v.recipients);
    attrs_add(reply, "held", v.held ? "yes" : "no");
    attrs_add(reply, "tripped", v.tripped ? "yes" : "no");
    return 0;
}

int anvil_request(struct anvil *av, unsigned client, const struct attrs *req, struct attrs *reply)
{
    const char *r = attrs_get(req, "request");
    if (!r)
        return -1;
    if (strcmp(r, "connect") == 0)
        return do_connect(av, client, req, reply);
    if (strcmp(r, "disconnect") == 0)
        return do_disconnect(av, client, req, reply);
    if (strcmp(r, "login") == 0)
        return do_login(av, client, req, reply);
    if (strcmp(r, "login_done") == 0)
        return do_login_done(av, client, req, reply);
    if (strcmp(r, "login_seed") == 0)
        return do_login_seed(av, req, reply);
    if (strcmp(r, "send") == 0)
        return do_send(av, req, reply);
    return -1;
}
