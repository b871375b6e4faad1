/* request.c - pop3d-mailbox's checks of a login handoff request's fields (user, service,
 * session id, pipelined input): apart from box.c so t/fuzz/fuzz_handoff.c can link them. */
#include "base64.h"
#include "mem.h"
#include "pop3_mailbox.h"
#include <stdlib.h>
#include <string.h>

/* The request's fields, checked again here: the login process is trusted to have
 * authenticated the user, not to send well-formed data. NULL or what is wrong. */
const char *box_check_request(const struct attrs *req, struct buf *input)
{
    const char *user = attrs_get(req, "user"), *svc = attrs_get(req, "service");
    const char *in = attrs_get(req, "input");
    char *norm = user ? auth_user_name(user, NULL) : NULL;
    bool ok = norm && strcmp(norm, user) == 0 && strchr(user, '@');
    free(norm);
    if (!ok)
        return "bad user name";
    if (!svc || strcmp(svc, "pop3") != 0)
        return "not a POP3 session";
    if (!handoff_session_id_valid(attrs_get(req, "session")))
        return "bad session id";
    if (in && !base64_decode(in, strlen(in), input))
        return "bad input";
    return NULL;
}
