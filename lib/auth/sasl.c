/* sasl.c - the PLAIN/LOGIN mechanisms' message formats and exchanges (see sasl.h). */
#include "sasl.h"
#include "buf.h"
#include "mem.h"
#include <bsd/string.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* --- exchanges --- */

static void wipe_buf(struct buf *b)
{
    if (b->data)
        explicit_bzero(b->data, b->len);
    buf_free(b);
}

void sasl_exchange_reset(struct sasl_exchange *x)
{
    wipe(&x->user);
    x->state = SASL_IDLE;
}

bool sasl_exchange_active(const struct sasl_exchange *x) { return x->state != SASL_IDLE; }

/* RFC 4616: [authzid] NUL authcid NUL passwd; acting as another user is not supported. */
static enum sasl_status plain_response(struct sasl_exchange *x, const char *b64,
                                       struct sasl_creds *creds)
{
    struct buf msg = BUF_INIT;
    enum sasl_status st = SASL_DONE;
    sasl_exchange_reset(x);
    if (!base64_decode(b64, strlen(b64), &msg)) {
        st = SASL_BAD_BASE64;
    } else if (!sasl_plain_parse(msg.data ? msg.data : "", msg.len, creds)) {
        st = SASL_MALFORMED;
    } else if (creds->authzid && strcasecmp(creds->authzid, creds->authcid) != 0) {
        char *authcid = creds->authcid; /* kept: the failed login names who tried */
        creds->authcid = NULL;
        sasl_creds_free(creds);
        creds->authcid = authcid;
        st = SASL_MALFORMED;
    }
    wipe_buf(&msg);
    return st;
}

/* One base64 field of LOGIN (not empty, no NUL), or NULL. */
static char *login_field(const char *b64)
{
    struct buf b = BUF_INIT;
    char *v = NULL;
    if (base64_decode(b64, strlen(b64), &b) && b.len > 0 && !memchr(b.data, 0, b.len))
        v = xstrdup(buf_cstr(&b));
    wipe_buf(&b);
    return v;
}

static enum sasl_status login_response(struct sasl_exchange *x, const char *b64,
                                       struct sasl_creds *creds, const char **challenge)
{
    char *v = login_field(b64);
    if (!v) {
        sasl_exchange_reset(x);
        return SASL_BAD_BASE64;
    }
    if (x->state != SASL_WANT_LOGIN_PASS) {
        x->user = v;
        x->state = SASL_WANT_LOGIN_PASS;
        *challenge = SASL_LOGIN_PASS_PROMPT;
        return SASL_CHALLENGE;
    }
    *creds = (struct sasl_creds){.authcid = x->user, .passwd = v};
    x->user = NULL;
    x->state = SASL_IDLE;
    return SASL_DONE;
}

enum sasl_status sasl_exchange_start(struct sasl_exchange *x, const char *mech,
                                     const char *initial, struct sasl_creds *creds,
                                     const char **challenge)
{
    sasl_exchange_reset(x);
    const char *response = initial && strcmp(initial, "=") == 0 ? "" : initial;
    if (strcasecmp(mech, "PLAIN") == 0) {
        x->mech = "PLAIN";
        if (response)
            return plain_response(x, response, creds);
        x->state = SASL_WANT_PLAIN;
        *challenge = "";
        return SASL_CHALLENGE;
    }
    if (strcasecmp(mech, "LOGIN") == 0) {
        x->mech = "LOGIN";
        x->state = SASL_WANT_LOGIN_USER;
        if (response)
            return login_response(x, response, creds, challenge);
        *challenge = SASL_LOGIN_USER_PROMPT;
        return SASL_CHALLENGE;
    }
    return SASL_UNSUPPORTED;
}

enum sasl_status sasl_exchange_step(struct sasl_exchange *x, const char *line,
                                    struct sasl_creds *creds, const char **challenge)
{
    if (strcmp(line, "*") == 0) {
        sasl_exchange_reset(x);
        return SASL_CANCELLED;
    }
    switch (x->state) {
    case SASL_WANT_PLAIN:
        return plain_response(x, line, creds);
    case SASL_WANT_LOGIN_USER:
    case SASL_WANT_LOGIN_PASS:
        return login_response(x, line, creds, challenge);
    case SASL_IDLE:
        break;
    }
    return SASL_CANCELLED;
}
