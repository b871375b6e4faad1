/* main.c - pickup: queues the mail local users submit with sendmail(1) when they may not
 * write the spool themselves (doc/pickup.md).
 *
 * Protocol (doc/ipc.md, "pickup"): on SPOOL/public/pickup, which every local user may
 * connect to, it announces protocol=pickup version=1; sendmail sends request=submit with
 * the envelope (sender, nrcpt, rcpt_i, optional orcpt_i, notify_i, ret, envid, fullname)
 * and the message attached as a descriptor (a sealed memfd), and gets status=0 with
 * queue_id, or status=N (a sysexits code: 65 bad data, 75 try again) with a reason. Also
 * request=flush (sendmail -q: qmgr is asked to deliver deferred mail) and request=verify
 * (sendmail -bv: verdict_i and text_i for each rcpt_i). Connections are
 * served start to end in blocking style (lib/global/ipc_server.h); master.cf maxproc
 * processes share the listener.
 *
 * SECURITY: runs as mail_owner and trusts nothing the peer says about itself: the
 * submitting uid comes from SO_PEERCRED and is what the Received field and the log line
 * name. Every address is parsed again (RFC 5321 mailboxes, qualified here), the recipient
 * count is bounded by pickup_recipient_limit, the message is read only from a regular file
 * descriptor no larger than message_size_limit, and the queue file is written, signed and
 * committed by the same code sendmail uses for root (lib/submit/local_submit.h). Any local
 * user may claim any envelope sender, as with Postfix's sendmail; the uid in the Received
 * field and the log tells who it was. */
#include "ipc_server.h"
#include "local_submit.h"
#include "log.h"
#include "mem.h"
#include "peercred.h"
#include "pickup_client.h"
#include "resolve.h"
#include "server.h"
#include "smtp_proto.h"
#include "trigger.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#define PICKUP_MAX_RCPT 100000 /* pickup_recipient_limit's upper bound */

struct pickup_conn {
    struct server *srv;
    uid_t uid; /* the peer's, from SO_PEERCRED */
};

/* Only the names of the protocol (request, nrcpt and rcpt_i alone for verify), each once;
 * rcpt_0 .. rcpt_{nrcpt-1} all there. */
static int check_names(const struct attrs *a, size_t nrcpt, bool rcpt_only, char **err)
{
    static const char *const plain[] = {"request", "sender", "nrcpt", "ret", "envid",
                                        "fullname"};
    size_t k, n;
    for (size_t i = 0; i < a->n; i++) {
        const char *nm = a->v[i].name;
        bool known = attrs_name_indexed(nm, "rcpt", &k) || attrs_name_indexed(nm, "orcpt", &k) ||
                     attrs_name_indexed(nm, "notify", &k);
        for (size_t j = 0; j < sizeof plain / sizeof plain[0] && !known; j++)
            known = strcmp(nm, plain[j]) == 0;
        if (rcpt_only)
            known = attrs_name_indexed(nm, "rcpt", &k) || strcmp(nm, "request") == 0 ||
                    strcmp(nm, "nrcpt") == 0;
        if (!known || attrs_get(a, nm) != a->v[i].value) {
            *err = xasprintf("unknown or repeated attribute \"%s\"", nm);
            return -1;
        }
    }
    if (attrs_group_count(a, "rcpt", &n, err) < 0 ||
        attrs_group_check_sparse(a, "orcpt", nrcpt, err) < 0 ||
        attrs_group_check_sparse(a, "notify", nrcpt, err) < 0)
        return -1;
    if (n != nrcpt) {
        *err = xasprintf("%zu recipients where nrcpt says %zu", n, nrcpt);
        return -1;
    }
    return 0;
}

static bool fullname_ok(const char *s)
{
    if (strlen(s) > PICKUP_FULLNAME_MAX)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* The envelope of the request into e, checked and canonical; NULL, or why it is not
 * acceptable. */
static const char *read_envelope(struct config *cfg, const struct attrs *a, size_t nrcpt,
                                 struct local_envelope *e)
{
    const char *sender = attrs_get(a, "sender"), *ret = attrs_get(a, "ret");
    const char *envid = attrs_get(a, "envid"), *fullname = attrs_get(a, "fullname");
    if (!sender || !(e->sender = local_submit_address(cfg, sender, true)))
        return "bad sender address";
    if (ret && strcmp(ret, "FULL") != 0 && strcmp(ret, "HDRS") != 0)
        return "bad RET value";
    e->ret = ret;
    if (envid && !local_submit_envid(envid))
        return "bad ENVID";
    e->envid = envid;
    if (fullname && !fullname_ok(fullname))
        return "bad full name";
    e->fullname = fullname;
    for (size_t i = 0; i < nrcpt; i++) {
        const char *nt = attrs_get_indexed(a, "notify", i);
        const char *orcpt = attrs_get_indexed(a, "orcpt", i);
        char notify[64];
        if (nt && !local_submit_notify(nt, notify))
            return "bad NOTIFY value";
        if (orcpt && !smtp_orcpt_valid(orcpt))
            return "bad ORCPT value";
        char *addr = local_submit_address(cfg, attrs_get_indexed(a, "rcpt", i), false);
        if (!addr)
            return "bad recipient address";
        local_envelope_add(e, addr, orcpt, nt ? notify : NULL);
        free(addr);
    }
    return NULL;
}

/* The message from the descriptor the request brought: a regular file (sendmail's sealed
 * memfd), read from its start, no larger than message_size_limit. */
static const char *read_content(struct config *cfg, int mfd, struct submit_message *m)
{
    struct stat st;
    size_t limit = (size_t)config_int(cfg, PARAM(message_size_limit));
    if (mfd < 0 || fstat(mfd, &st) < 0 || !S_ISREG(st.st_mode))
        return "request without the message";
    if ((size_t)st.st_size > limit)
        return "message is larger than message_size_limit";
    int dfd = dup(mfd);
    FILE *f = dfd >= 0 ? fdopen(dfd, "r") : NULL;
    if (!f) {
        if (dfd >= 0)
            close(dfd);
        return "cannot read the message";
    }
    bool too_big;
    rewind(f);
    int r = submit_message_read(f, true, limit, m, &too_big);
    fclose(f);
    return r < 0 ? too_big ? "message is larger than message_size_limit" : "cannot read the message"
                 : NULL;
}

static void answer(struct attrs *reply, int status, const char *reason)
{
    attrs_addf(reply, "status", "%d", status);
    attrs_add(reply, "reason", reason);
}

/* request=submit: queue the message. */
static int submit(struct pickup_conn *pc, const struct attrs *req, size_t n, int mfd,
                  struct attrs *reply)
{
    struct config *cfg = pc->srv->cfg;
    long long max = config_int(cfg, PARAM(pickup_recipient_limit));
    if (n > (size_t)max) {
        answer(reply, EX_DATAERR, "too many recipients (pickup_recipient_limit)");
        return 0;
    }
    struct local_envelope e = {.uid = pc->uid};
    struct submit_message m = {0};
    const char *why = read_envelope(cfg, req, (size_t)n, &e);
    if (!why)
        why = read_content(cfg, mfd, &m);
    char id[QUEUE_ID_SIZE], *qerr = NULL;
    if (why) {
        log_warn("uid=%ld: refused: %s", (long)pc->uid, why);
        answer(reply, EX_DATAERR, why);
    } else {
        int st = local_submit_queue(cfg, config_str(cfg, PARAM(queue_directory)), &e, &m, id, &qerr);
        if (st == EX_OK) {
            attrs_add(reply, "status", "0");
            attrs_add(reply, "queue_id", id);
        } else {
            log_warn("uid=%ld: cannot queue the message: %s", (long)pc->uid, qerr);
            answer(reply, st, qerr);
        }
    }
    free(qerr);
    submit_message_free(&m);
    local_envelope_free(&e);
    return 0;
}

/* request=flush: sendmail -q (Postfix lets every user flush the queue). */
static void flush(struct pickup_conn *pc, struct attrs *reply)
{
    char *err = NULL;
    const char *spool = config_str(pc->srv->cfg, PARAM(queue_directory));
    if (trigger_qmgr_flush(spool, (int)(config_int(pc->srv->cfg, PARAM(pickup_timeout)) * 1000),
                           &err) < 0) {
        log_warn("uid=%ld: flush: %s", (long)pc->uid, err);
        answer(reply, EX_TEMPFAIL, "the queue manager is not answering");
    } else {
        log_info("uid=%ld: flush requested", (long)pc->uid);
        attrs_add(reply, "status", "0");
    }
    free(err);
}

/* request=verify: sendmail -bv, a verdict and its text per recipient. */
static void verify(struct pickup_conn *pc, const struct attrs *req, size_t n, struct attrs *reply)
{
    struct config *cfg = pc->srv->cfg;
    char *err = NULL;
    struct resolver *r = resolver_open(cfg, &err);
    if (!r) {
        log_warn("verify: %s", err);
        free(err);
        answer(reply, EX_TEMPFAIL, "the recipient tables cannot be read now");
        return;
    }
    attrs_add(reply, "status", "0");
    for (size_t i = 0; i < n; i++) {
        char *addr = local_submit_address(cfg, attrs_get_indexed(req, "rcpt", i), false);
        char *text = NULL;
        int v = addr ? local_submit_verify(r, addr, &text) : EX_DATAERR;
        char vb[8];
        snprintf(vb, sizeof vb, "%d", v);
        attrs_add_indexed(reply, "verdict", i, vb);
        attrs_add_indexed(reply, "text", i, text ? text : "undeliverable: bad address syntax");
        free(addr);
        free(text);
    }
    resolver_close(r);
}

static int on_request(void *ctx, const struct attrs *req, int mfd, struct attrs *reply, char **err)
{
    struct pickup_conn *pc = ctx;
    const char *r = attrs_get(req, "request");
    long long n = 0;
    if (r && strcmp(r, "flush") == 0 && req->n == 1) {
        flush(pc, reply);
        return 0;
    }
    bool is_submit = r && strcmp(r, "submit") == 0, is_verify = r && strcmp(r, "verify") == 0;
    if ((!is_submit && !is_verify) || !attrs_get_ll(req, "nrcpt", &n) || n < 1 ||
        n > PICKUP_MAX_RCPT) {
        *err = xstrdup("request=submit or verify with nrcpt, or request=flush, expected");
        return -1;
    }
    if (check_names(req, (size_t)n, is_verify, err) < 0)
        return -1;
    if (is_verify) {
        verify(pc, req, (size_t)n, reply);
        return 0;
    }
    return submit(pc, req, (size_t)n, mfd, reply);
}

static void on_accept(struct server *srv, int fd)
{
    struct peercred cred;
    if (peercred_get(fd, &cred) < 0) {
        log_warn("SO_PEERCRED: %m");
        close(fd);
        return;
    }
    struct pickup_conn pc = {.srv = srv, .uid = cred.uid};
    ipc_server_serve(fd, "pickup", (int)(config_int(srv->cfg, PARAM(pickup_timeout)) * 1000),
                     "pickup request", on_request, &pc);
}

SERVER_MAIN(.program = "pickup", .run_as = PARAM(mail_owner), .accept = on_accept)
