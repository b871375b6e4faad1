/* reply.c - qmgr's strict check of a delivery agent's reply (doc/ipc.md): every recipient
 * of the request accounted for with a valid status, DSN code and reason, nothing else. Apart
 * from deliver.c so t/fuzz/fuzz_qmgr_reply.c can link it alone. */
#include "qmgr.h"
#include "ipc.h"
#include "mem.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REASON_MAX 1000
#define RELAY_MAX 400

/* "X.Y.Z" with class 2, 4 or 5, subject 0-999, detail 0-999 (RFC 3463 section 2). */
static bool dsn_code_valid(const char *s)
{
    if (!(s[0] == '2' || s[0] == '4' || s[0] == '5') || s[1] != '.')
        return false;
    const char *p = s + 2;
    for (int part = 0; part < 2; part++) {
        int digits = 0;
        while (isdigit((unsigned char)*p) && digits < 4)
            p++, digits++;
        if (digits == 0 || digits > 3)
            return false;
        if (part == 0 && *p++ != '.')
            return false;
    }
    return *p == 0;
}

/* "S" or "S.FFF": 1-5 digits of seconds, up to 6 of fraction (a set-up time). */
static bool seconds_valid(const char *s)
{
    size_t i = strspn(s, "0123456789");
    if (i < 1 || i > 5)
        return false;
    if (s[i] == 0)
        return true;
    size_t f = strspn(s + i + 1, "0123456789");
    return s[i] == '.' && f >= 1 && f <= 6 && s[i + 1 + f] == 0;
}

static int parse_one(struct job_rcpt *r, const struct attrs *a, size_t k, size_t *known,
                     char **err)
{
    const char *v[6];
    static const char *const names[] = {"status", "dsn", "reason", "forward", "relay",
                                        "relayed"};
    for (int f = 0; f < 6; f++) {
        v[f] = attrs_get_indexed(a, names[f], k);
        *known += v[f] != NULL;
    }
    if (!v[0] || !v[1] || !v[2]) {
        *err = xasprintf("recipient %zu: status, dsn or reason missing", k);
        return -1;
    }
    char cls = strcmp(v[0], "sent") == 0 ? '2' : strcmp(v[0], "defer") == 0 ? '4'
             : strcmp(v[0], "bounce") == 0 ? '5' : 0;
    bool relayed_ok = !v[5] || (cls == '2' && (strcmp(v[5], "dsn") == 0 ||
                                               strcmp(v[5], "plain") == 0));
    if (!cls || !dsn_code_valid(v[1]) || (v[3] && cls != '2') || !relayed_ok) {
        *err = xasprintf("recipient %zu: bad status, dsn, forward or relayed", k);
        return -1;
    }
    r->relayed = v[5] ? v[5][0] : 0;
    snprintf(r->status, sizeof r->status, "%s", v[0]);
    snprintf(r->dsn, sizeof r->dsn, "%s", v[1]);
    r->dsn[0] = cls; /* the status word decides; the detail is the agent's */
    r->reason = xstrndup(v[2], REASON_MAX);
    r->forward = v[3] ? xstrdup(v[3]) : NULL;
    r->relay = v[4] ? xstrndup(v[4], RELAY_MAX) : NULL;
    return 0;
}

/* The reply: nrcpt=N, optionally logged=yes (the agent logged a line for each final
 * recipient) and setup=SECONDS (the agent's connection set-up time), and for each i
 * status_i, dsn_i, reason_i, optional forward_i, relay_i and relayed_i (dsn|plain, with
 * sent); nothing else (fail closed on extra, missing or unknown data). */
int deliver_parse_reply(struct job *j, const struct attrs *a, char **err)
{
    long long n;
    if (!attrs_get_ll(a, "nrcpt", &n) || n != (long long)j->n) {
        *err = xstrdup("nrcpt missing or not the number of recipients sent");
        return -1;
    }
    size_t known = 1;
    const char *logged = attrs_get(a, "logged");
    if (logged && strcmp(logged, "yes") != 0) {
        *err = xstrdup("logged is not \"yes\"");
        return -1;
    }
    j->agent_logged = logged != NULL;
    known += logged != NULL;
    const char *setup = attrs_get(a, "setup");
    j->setup = 0;
    if (setup && !seconds_valid(setup)) {
        *err = xstrdup("bad setup time");
        return -1;
    }
    if (setup)
        j->setup = strtod(setup, NULL);
    known += setup != NULL;
    for (size_t k = 0; k < j->n; k++)
        if (parse_one(&j->r[k], a, k, &known, err) < 0)
            return -1;
    if (known != a->n) {
        *err = xstrdup("unknown or duplicate attribute");
        return -1;
    }
    return 0;
}
