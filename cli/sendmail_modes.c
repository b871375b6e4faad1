/* sendmail_modes.c - sendmail -q (flush the queue; -qR SITE only the mail for a domain) and
 * -bv (verify the recipients), for root and the instance's user directly, for everyone
 * else through the pickup service (doc/pickup.md). */
#include "sendmail.h"
#include "mem.h"
#include "pickup_client.h"
#include "privs.h"
#include "queue_run.h"
#include "resolve.h"
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

static int timeout_ms(struct cli *c)
{
    return (int)(config_int(cli_config(c), PARAM(pickup_timeout)) * 1000);
}

int sm_flush(struct cli *c, const char *site)
{
    bool root = privs_is_root();
    if (root && site) /* before becoming mail_owner, as sm_submit */
        cli_log_open(c, "sendmail");
    if (sm_direct_access(c) && site) {
        struct queue_run r = {.c = c, .prog = "sendmail", .op = queue_op_find("flush")};
        if (!root)
            cli_log_open(c, "sendmail");
        queue_run_site(&r, site[0] == '@' ? site + 1 : site);
        queue_run_finish(&r);
        return r.failed ? EX_TEMPFAIL : EX_OK;
    }
    if (sm_direct_access(c))
        return cli_flush(c, true) == 0 ? EX_OK : EX_TEMPFAIL;
    char *err = NULL;
    int rc = pickup_flush(cli_spool(c), timeout_ms(c), &err);
    if (rc != EX_OK)
        sm_err("flush: %s", err);
    free(err);
    return rc;
}

/* The verdicts of addrs, directly from the tables: EX_OK, or EX_TEMPFAIL (printed). */
static int verify_direct(struct cli *c, char **addrs, size_t n, int *verdict, char **text)
{
    char *err = NULL;
    struct resolver *r = resolver_open(cli_config(c), &err);
    if (!r) {
        sm_err("%s", err);
        free(err);
        return EX_TEMPFAIL;
    }
    for (size_t i = 0; i < n; i++)
        verdict[i] = local_submit_verify(r, addrs[i], &text[i]);
    resolver_close(r);
    return EX_OK;
}

int sm_verify_one(struct cli *c, const char *addr, char **text)
{
    int verdict = EX_TEMPFAIL;
    char *err = NULL, *a = (char *)addr;
    *text = NULL;
    int rc = sm_direct_access(c) ? verify_direct(c, &a, 1, &verdict, text)
                                 : pickup_verify(cli_spool(c), timeout_ms(c), &a, 1, &verdict, text, &err);
    free(err);
    return rc == EX_OK ? verdict : EX_TEMPFAIL;
}

/* "addr... text" per recipient, as sendmail -bv prints; 67 when one is unknown, 75 when
 * one cannot be decided now. */
int sm_verify(struct cli *c, const struct sm_opts *o)
{
    struct config *cfg = cli_config(c);
    if (o->nrcpts == 0) {
        sm_err("-bv needs the addresses to verify");
        return EX_USAGE;
    }
    char **addrs = xcalloc(o->nrcpts, sizeof *addrs), **text = xcalloc(o->nrcpts, sizeof *text);
    int *verdict = xcalloc(o->nrcpts, sizeof *verdict);
    int rc = EX_OK;
    for (size_t i = 0; i < o->nrcpts && rc == EX_OK; i++)
        if (!(addrs[i] = local_submit_address(cfg, o->rcpts[i], false))) {
            sm_err("bad recipient address \"%s\"", o->rcpts[i]);
            rc = EX_DATAERR;
        }
    char *err = NULL;
    if (rc == EX_OK && sm_direct_access(c))
        rc = verify_direct(c, addrs, o->nrcpts, verdict, text);
    else if (rc == EX_OK && (rc = pickup_verify(cli_spool(c), timeout_ms(c), addrs, o->nrcpts,
                                                verdict, text, &err)) != EX_OK)
        sm_err("%s", err);
    int worst = EX_OK;
    for (size_t i = 0; rc == EX_OK && i < o->nrcpts; i++) {
        printf("%s... %s\n", addrs[i], text[i]);
        if (verdict[i] != EX_OK && worst != EX_TEMPFAIL)
            worst = verdict[i];
    }
    for (size_t i = 0; i < o->nrcpts; i++)
        free(addrs[i]), free(text[i]);
    free(addrs), free(text), free(verdict), free(err);
    return rc == EX_OK ? worst : rc;
}
