/* fuzz_qmgr_reply.c - libFuzzer target: qmgr's check of a delivery agent's reply
 * (qmgr/reply.c, deliver_parse_reply). The first byte is the number of recipients the request
 * had (1 to 8); the rest is the reply as it comes off the socket, decoded with ipc_decode as
 * ipc_recv does. The verdict is compared with one made here independently: accepted exactly
 * when the reply is nrcpt=N plus, for every k < N, status_k (sent, defer or bounce), dsn_k
 * (class.subject.detail, 1-3 digits each), reason_k and optionally forward_k (with sent only),
 * relay_k optionally, relayed_k (dsn or plain, with sent only), and an optional setup (seconds: 1-5 digits, optionally a dot and 1-6
 * more), every attribute once and nothing else; when accepted every recipient is accounted for with
 * the status sent, a DSN code whose class matches it and a bounded reason. */
#include "fuzz_common.h"
#include "ipc.h"
#include "qmgr.h"
#include <ctype.h>
#include <stdbool.h>

static bool dsn_ok(const char *s)
{
    if (!strchr("245", s[0]) || !s[0] || s[1] != '.')
        return false;
    size_t a = strspn(s + 2, "0123456789");
    if (a < 1 || a > 3 || s[2 + a] != '.')
        return false;
    size_t b = strspn(s + 3 + a, "0123456789");
    return b >= 1 && b <= 3 && s[3 + a + b] == 0;
}

/* Index k of "NAME_k" for one of the per-recipient names, canonical decimal only. */
static bool indexed(const char *attr, const char *name, size_t *k)
{
    size_t n = strlen(name);
    const char *d = attr + n + 1;
    if (strncmp(attr, name, n) || attr[n] != '_' || !*d || strspn(d, "0123456789") != strlen(d) ||
        (d[0] == '0' && d[1]) || strlen(d) > 9)
        return false;
    *k = (size_t)strtoull(d, NULL, 10);
    return true;
}

static const char *const fields[] = {"status", "dsn", "reason", "forward", "relay", "relayed"};
#define NFIELDS 6

static bool seconds_ok(const char *v)
{
    const char *dot = strchr(v, '.');
    size_t whole = dot ? (size_t)(dot - v) : strlen(v);
    if (whole < 1 || whole > 5 || strspn(v, "0123456789") != whole)
        return false;
    if (!dot)
        return true;
    size_t frac = strlen(dot + 1);
    return frac >= 1 && frac <= 6 && strspn(dot + 1, "0123456789") == frac;
}

/* The verdict from the outside. */
static bool acceptable(const struct attrs *a, size_t n)
{
    const char *v[8][NFIELDS] = {{0}};
    bool nrcpt = false, setup = false, logged = false;
    for (size_t i = 0; i < a->n; i++) {
        const char *name = a->v[i].name;
        size_t k = 0;
        int f = 0;
        if (!strcmp(name, "nrcpt")) {
            char want[8];
            snprintf(want, sizeof want, "%zu", n);
            if (nrcpt || strcmp(a->v[i].value, want) != 0)
                return false;
            nrcpt = true;
            continue;
        }
        if (!strcmp(name, "setup")) {
            if (setup || !seconds_ok(a->v[i].value))
                return false;
            setup = true;
            continue;
        }
        if (!strcmp(name, "logged")) { /* the agent logged the results itself */
            if (logged || strcmp(a->v[i].value, "yes") != 0)
                return false;
            logged = true;
            continue;
        }
        while (f < NFIELDS && !indexed(name, fields[f], &k))
            f++;
        if (f == NFIELDS || k >= n || v[k][f])
            return false;
        v[k][f] = a->v[i].value;
    }
    if (!nrcpt)
        return false;
    for (size_t k = 0; k < n; k++) {
        if (!v[k][0] || !v[k][1] || !v[k][2] || !dsn_ok(v[k][1]))
            return false;
        bool sent = !strcmp(v[k][0], "sent");
        if (!sent && strcmp(v[k][0], "defer") && strcmp(v[k][0], "bounce"))
            return false;
        if (v[k][3] && !sent)
            return false;
        if (v[k][5] && (!sent || (strcmp(v[k][5], "dsn") && strcmp(v[k][5], "plain"))))
            return false;
    }
    return true;
}

static void check_result(const struct job *j, const struct attrs *a)
{
    for (size_t k = 0; k < j->n; k++) {
        const struct job_rcpt *r = &j->r[k];
        char want = !strcmp(r->status, "sent") ? '2' : !strcmp(r->status, "defer") ? '4'
                  : !strcmp(r->status, "bounce") ? '5' : 0;
        if (!want || r->dsn[0] != want || !dsn_ok(r->dsn) || !r->reason || strlen(r->reason) > 1000)
            abort();
        if (r->forward && want != '2')
            abort();
        if (strcmp(r->status, attrs_get_indexed(a, "status", k)) != 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct job j = {.n = 1 + data[0] % 8};
    struct job_rcpt r[8];
    memset(r, 0, sizeof r);
    j.r = r;
    struct attrs a = {0};
    size_t used = 0;
    char *err = NULL;
    if (ipc_decode((const char *)data + 1, size - 1, &a, &used, &err) == 1) {
        bool ok = deliver_parse_reply(&j, &a, &err) == 0;
        if (ok != acceptable(&a, j.n))
            abort();
        if (ok)
            check_result(&j, &a);
    }
    for (size_t k = 0; k < 8; k++)
        free(r[k].reason), free(r[k].forward), free(r[k].relay);
    attrs_free(&a);
    free(err);
    return 0;
}
