/* names.c - syntax checks for the domains and addresses `posthorn` stores. They are
 * stricter than RFC 5321 allows on the wire because they become directory names under
 * virtual_mailbox_base: no '/', no leading dot, no "..". Both lowercase in place. */
#include "cli.h"
#include "address.h"
#include "idn.h"
#include "mem.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* RFC 1035 section 2.3.1 host names (LDH labels); IDNs in their xn-- form. */
bool valid_domain(char *d)
{
    lower(d);
    return idn_ldh_name(d, 253);
}

/* Local part: RFC 5322 dot-atom characters (minus '/') or UTF-8 (RFC 6531). */
static bool valid_local(const char *s, size_t len)
{
    if (len == 0 || len > 64 || s[0] == '.' || s[len - 1] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '.' && s[i + 1] == '.')
            return false;
        if (ch >= 0x80 || isalnum(ch) || strchr("!#$%&'*+-=?^_`{|}~.", ch))
            continue;
        return false;
    }
    return true;
}

char *idn_input(const char *s)
{
    const char *at = strrchr(s, '@');
    char *dom = idn_domain_ascii(at ? at + 1 : s);
    if (!dom)
        return xstrdup(s); /* not a valid IDN: the syntax check refuses it */
    char *r = at ? xasprintf("%.*s@%s", (int)(at - s), s, dom) : xstrdup(dom);
    free(dom);
    return r;
}

bool valid_address(char *addr, char **domain_out)
{
    lower(addr);
    char *at = strrchr(addr, '@');
    if (!at || !valid_local(addr, (size_t)(at - addr)) || !valid_domain(at + 1))
        return false;
    if (domain_out)
        *domain_out = at + 1;
    return true;
}
