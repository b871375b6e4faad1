/* recipient.c - RCPT TO policy: mail is accepted only for users and aliases of our own
 * domains (lib/resolve.h). No open relay under any address trick:
 *   - source routes were already stripped by the parser (RFC 5321 sec 4.1.2 / appendix C),
 *     so <@ours:user@other> is judged as user@other, i.e. remote;
 *   - local parts with '%', '!' or '@' (user%other@ours, other!user@ours, "a@b"@ours)
 *     are relay attempts whatever the domain: another MTA might route on them;
 *   - address literals ([192.0.2.1]) are never our domains;
 *   - <postmaster> without a domain is accepted as RFC 5321 sec 4.5.1 requires. */
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

static enum rcpt_class classify(struct session *s, const char *addr)
{
    if (!smtpd_resolver_ready(s->d))
        return RCPT_TEMPFAIL;
    char *result = NULL, *ext = NULL;
    enum rcpt_class c = resolve_recipient(s->d->resolver, addr, &result, &ext);
    free(result);
    free(ext);
    return c;
}

/* "<postmaster>": postmaster@$myorigin if that is ours, else postmaster@ our first domain. */
static char *postmaster_address(struct session *s)
{
    char *a = xasprintf("postmaster@%s", s->d->p.myorigin);
    if (classify(s, a) != RCPT_REMOTE || !s->d->p.first_domain[0])
        return a;
    free(a);
    return xasprintf("postmaster@%s", s->d->p.first_domain);
}

bool recipient_check(struct session *s, const struct smtp_path *p, char **stored,
                     struct buf *reply, bool *temporary)
{
    *temporary = false;
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
