/* imap_caps.c - the CAPABILITY lists (see imap_caps.h). */
#include "imap_caps.h"

/* Both stages: the revisions and what works before and after login alike. */
#define CAPS_COMMON "IMAP4rev1 IMAP4rev2 SASL-IR ID ENABLE LITERAL+"

void imap_caps_prelogin(struct buf *out, bool starttls, bool may_auth)
{
    buf_puts(out, CAPS_COMMON);
    if (starttls)
        buf_puts(out, " STARTTLS");
    buf_puts(out, may_auth ? " AUTH=PLAIN AUTH=LOGIN" : " LOGINDISABLED");
}

void imap_caps_postlogin(struct buf *out, unsigned long long appendlimit, bool compress)
{
    /* Only what imapd-mailbox implements (doc/imapd.md). */
    buf_puts(out, CAPS_COMMON " IDLE NAMESPACE UNSELECT CHILDREN ESEARCH UIDPLUS MOVE SPECIAL-USE"
                              " QUOTA QUOTA=RES-STORAGE");
    buf_puts(out, " CONDSTORE QRESYNC");
    buf_puts(out, " SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES SEARCHRES");
    buf_puts(out, " CONTEXT=SEARCH");
    buf_puts(out, " LIST-EXTENDED LIST-STATUS STATUS=SIZE MULTIAPPEND UTF8=ACCEPT BINARY");
    if (appendlimit)
        buf_printf(out, " APPENDLIMIT=%llu", appendlimit);
    if (compress)
        buf_puts(out, " COMPRESS=DEFLATE");
}

static bool id_string(const struct imap_arg *a)
{
    return a->type == IMAP_ARG_QUOTED || a->type == IMAP_ARG_LITERAL;
}

bool imap_id_params_valid(const struct imap_command *cmd)
{
    if (cmd->nargs != 1)
        return false;
    const struct imap_arg *a = &cmd->args[0];
    if (a->type == IMAP_ARG_NIL)
        return true;
    if (a->type != IMAP_ARG_LIST || a->n % 2 != 0)
        return false;
    for (size_t i = 0; i < a->n; i += 2)
        if (!id_string(&a->list[i]) || !(id_string(&a->list[i + 1]) || a->list[i + 1].type == IMAP_ARG_NIL))
            return false;
    return true;
}
