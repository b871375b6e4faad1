/* request.c - imapd-mailbox's checks of a login handoff request's fields (user, service,
 * session id, the login command's tag, pipelined input): the login process is trusted to have
 * authenticated the user, not to send well-formed data. */
#include "auth_check.h"
#include "base64.h"
#include "imap_mailbox.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

/* RFC 9051 sec 9: tag = 1*<any ASTRING-CHAR except "+">. */
static bool valid_tag(const char *tag)
{
    size_t n = tag ? strlen(tag) : 0;
    if (n == 0 || n > IMAP_TAG_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)tag[i];
        if (c <= ' ' || c >= 0x7f || strchr("(){%*\"\\+", c))
            return false;
    }
    return true;
}

const char *imap_check_request(const struct attrs *req, struct buf *input)
{
    const char *user = attrs_get(req, "user"), *svc = attrs_get(req, "service");
    const char *in = attrs_get(req, "input");
    char *norm = user ? auth_user_name(user, NULL) : NULL;
    bool ok = norm && strcmp(norm, user) == 0 && strchr(user, '@');
    free(norm);
    if (!ok)
        return "bad user name";
    if (!svc || strcmp(svc, "imap") != 0)
        return "not an IMAP session";
    if (!handoff_session_id_valid(attrs_get(req, "session")))
        return "bad session id";
    if (!valid_tag(attrs_get(req, "tag")))
        return "bad tag";
    if (in && !base64_decode(in, strlen(in), input))
        return "bad input";
    return NULL;
}
