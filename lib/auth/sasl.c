/* sasl.c - the PLAIN/LOGIN mechanisms' message formats (see sasl.h). */
#include "sasl.h"
#include "mem.h"
#include <bsd/string.h>
#include <stdlib.h>
#include <string.h>

bool sasl_plain_parse(const char *msg, size_t len, struct sasl_creds *creds)
{
    const char *nul1 = memchr(msg, 0, len);
    if (!nul1)
        return false;
    const char *authc = nul1 + 1;
    size_t left = len - (size_t)(authc - msg);
    const char *nul2 = memchr(authc, 0, left);
    if (!nul2)
        return false;
    size_t alen = (size_t)(nul2 - authc), zlen = (size_t)(nul1 - msg);
    const char *pw = nul2 + 1;
    size_t plen = len - (size_t)(pw - msg);
    if (alen == 0 || alen > 255 || plen == 0 || plen > 255 || zlen > 255 || memchr(pw, 0, plen))
        return false;
    creds->authzid = zlen ? xstrndup(msg, zlen) : NULL;
    creds->authcid = xstrndup(authc, alen);
    creds->passwd = xstrndup(pw, plen);
    return true;
}

static void wipe(char **s)
{
    if (*s) {
        explicit_bzero(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

void sasl_creds_free(struct sasl_creds *creds)
{
    wipe(&creds->authzid);
    wipe(&creds->authcid);
    wipe(&creds->passwd);
}
