/* sasl_client.c - SASL PLAIN and LOGIN responses for a client (see sasl_client.h). */
#include "sasl_client.h"
#include "base64.h"
#include <bsd/string.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SASL_FIELD_MAX 255 /* RFC 4616 sec 2: 1*SAFE up to 255 octets */

static bool offers(const char *list, const char *mech)
{
    size_t n = strlen(mech);
    for (const char *p = list; *p;) {
        p += strspn(p, " \t");
        size_t len = strcspn(p, " \t");
        if (len == n && strncasecmp(p, mech, n) == 0)
            return true;
        p += len;
    }
    return false;
}

enum sasl_client_mech sasl_client_pick(const char *offered)
{
    if (offers(offered, "PLAIN"))
        return SASL_CLIENT_PLAIN;
    if (offers(offered, "LOGIN"))
        return SASL_CLIENT_LOGIN;
    return SASL_CLIENT_NONE;
}

static bool field_ok(const char *s, bool may_be_empty)
{
    size_t n = strlen(s);
    return (n > 0 || may_be_empty) && n <= SASL_FIELD_MAX;
}

bool sasl_client_plain(const char *authzid, const char *authcid, const char *passwd,
                       struct buf *out)
{
    if (!authzid)
        authzid = "";
    if (!field_ok(authzid, true) || !field_ok(authcid, false) || !field_ok(passwd, false))
        return false;
    /* Three strings of at most 255 octets and two NULs. */
    char msg[3 * SASL_FIELD_MAX + 2];
    size_t zl = strlen(authzid), cl = strlen(authcid), pl = strlen(passwd), n = 0;
    memcpy(msg + n, authzid, zl);
    n += zl;
    msg[n++] = '\0';
    memcpy(msg + n, authcid, cl);
    n += cl;
    msg[n++] = '\0';
    memcpy(msg + n, passwd, pl);
    n += pl;
    base64_encode(msg, n, out);
    explicit_bzero(msg, sizeof msg);
    return true;
}

bool sasl_client_login(unsigned step, const char *authcid, const char *passwd, struct buf *out)
{
    const char *value = step == 0 ? authcid : step == 1 ? passwd : NULL;
    if (!value || !field_ok(value, false))
        return false;
    base64_encode(value, strlen(value), out);
    return true;
}
