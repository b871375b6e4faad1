/* mailstore_append.c - IMAP APPEND (RFC 3501 6.3.11; UIDPLUS RFC 4315 APPENDUID): a
 * delivery (mailstore_deliver.c) with flags, keywords and INTERNALDATE, into a mailbox
 * that must exist (MS_NONEXISTENT lets imapd answer NO [TRYCREATE]); INBOX always exists. */
#include "mailstore_int.h"

enum mailstore_result mailbox_append(struct mail_user *mu, const char *mailbox, long long quota,
                                     int (*fill)(void *ctx, int fd), void *ctx, uint32_t flags,
                                     uint64_t keywords, uint64_t internaldate, uint32_t *uid,
                                     uint32_t *uidvalidity, char **err)
{
    struct ms_deliver_args a = {.mailbox = mailbox, .quota = quota, .append = true,
                                .flags = flags, .keywords = keywords,
                                .internaldate = internaldate};
    enum mailstore_result r = ms_deliver(mu, &a, fill, ctx, err);
    if (r == MS_OK) {
        *uid = a.uid;
        if (uidvalidity)
            *uidvalidity = a.uidvalidity;
    }
    return r;
}
