/* recipient.c - RCPT TO policy: mail is accepted only for users and aliases of our own
 * domains (lib/global/resolve.h). No open relay under any address trick:
 *   - source routes were already stripped by the parser (RFC 5321 sec 4.1.2 / appendix C),
 *     so <@ours:user@other> is judged as user@other, i.e. remote;
 *   - local parts with '%', '!' or '@' (user%other@ours, other!user@ours, "a@b"@ours)
 *     are relay attempts whatever the domain: another MTA might route on them;
 *   - address literals ([192.0.2.1]) are never our domains;
 *   - <postmaster> without a domain is accepted as RFC 5321 sec 4.5.1 requires.
 * Before all of this, as Postfix's client restrictions come before its recipient ones,
 * smtpd_reject_unknown_client_hostname may refuse a client without a host name (peername.c).
 * A session whose role lets it relay (submission once authenticated, smtpd for a client
 * in mynetworks) may send to remote addresses too; the address tricks above are still
 * refused. */
#include "log.h"
#include "mem.h"
#include "resolve.h"
#include "smtpd.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void refuse(struct buf *reply, const char *code, const char *addr, const char *text)
{
    buf_reset(reply);
    buf_printf(reply, "%s <%s>: %s", code, addr, text);
}

enum rcpt_class recipient_classify(struct session *s, const char *addr, char **result)
{
    *result = NULL;
    if (!smtpd_resolver_ready(s->d))
        return RCPT_TEMPFAIL;
    char *ext = NULL;
    enum rcpt_class c = resolve_recipient(s->d->resolver, addr, result, &ext);
    free(ext);
    return c;
}

static enum rcpt_class classify(struct session *s, const char *addr)
{
    char *result = NULL;
    enum rcpt_class c = recipient_classify(s, addr, &result);
    free(result);
    return c;
}

static int first_domain_fn(void *ctx, const char *domain)
{
    *(char **)ctx = xstrdup(domain);
    return 1;
}

/* "<postmaster>": postmaster@ the first of $myorigin, $mydomain, virtual_mailbox_domains and
 * the account database's domains that is one of ours. */
static char *postmaster_address(struct session *s)
{
    const struct smtpd_params *p = &s->d->p;
    char *db_domain = NULL;
    if (smtpd_resolver_ready(s->d))
        accounts_domain_list(resolver_accounts(s->d->resolver), first_domain_fn, &db_domain);
    const char *cand[] = {p->myorigin, p->mydomain, p->first_domain, db_domain};
    char *a = NULL;
    for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++) {
        if (!cand[i] || !cand[i][0])
            continue;
        free(a);
        a = xasprintf("postmaster@%s", cand[i]);
        if (classify(s, a) != RCPT_REMOTE)
            break;
    }
    free(db_domain);
    return a ? a : xasprintf("postmaster@%s", p->myorigin);
}

bool recipient_check(struct session *s, const struct smtp_path *p, char **stored,
                     struct buf *reply, bool *temporary)
{
    *temporary = false;
    char refusal[160];
    if (peername_refusal(s, refusal, sizeof refusal)) { /* Postfix's client restriction */
        *temporary = true;
        buf_reset(reply);
        buf_puts(reply, refusal);
        return false;
    }
    char *addr;
    if (!p->domain[0]) {
        if (strcasecmp(p->local, "postmaster") != 0) {
            refuse(reply, "501 5.1.3", p->addr, "Bad recipient address syntax: domain required");
            return false;
        }
        addr = postmaster_address(s);
    } else {
        addr = xstrdup(p->addr);
    }
    if (smtp_local_part_routes(p->local) || p->domain[0] == '[') {
        refuse(reply, "554 5.7.1", p->addr, "Relay access denied");
        free(addr);
        return false;
    }
    switch (classify(s, addr)) {
    case RCPT_USER:
    case RCPT_ALIAS:
        *stored = addr;
        return true;
    case RCPT_UNKNOWN:
        refuse(reply, "550 5.1.1", p->addr,
               "Recipient address rejected: User unknown in virtual mailbox table");
        break;
    case RCPT_REMOTE:
        if (s->d->hooks->relay && s->d->hooks->relay(s)) {
            *stored = addr;
            return true;
        }
        refuse(reply, "554 5.7.1", p->addr, "Relay access denied");
        break;
    default:
        *temporary = true;
        refuse(reply, "451 4.3.0", p->addr, "Temporary lookup failure");
        break;
    }
    free(addr);
    return false;
}
