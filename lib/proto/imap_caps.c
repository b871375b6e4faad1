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
