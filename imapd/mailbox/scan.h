/* scan.h - what SORT and THREAD (RFC 5256) do before they sort: run the search program
 * over the selected mailbox and read the keys of each matching message from its header
 * (msgkeys.c). Big mailboxes must not hold up the process's other sessions, so the work is
 * done a slice at a time (a few milliseconds, then the event loop serves the others and a
 * timer brings the job back); the session takes no command meanwhile (its pause, like a
 * FETCH's). Only the header is read (up to imapd_sort_header_limit bytes, through the
 * store's message files), unless a search key read the whole message already; each key
 * keeps at most imapd_sort_key_limit bytes, so memory is bounded per message. */
#ifndef IMAPD_MAILBOX_SCAN_H
#define IMAPD_MAILBOX_SCAN_H
#include "imap_mailbox.h"
#include "search.h"

/* The string keys (collate.h sort keys). */
enum scan_key { SK_SUBJECT, SK_FROM, SK_TO, SK_CC, SK_DISPLAYFROM, SK_DISPLAYTO, SK_COUNT };

/* What to read: a bit per string key, and: */
enum { SCAN_DATE = 1 << SK_COUNT, SCAN_REFS = 2 << SK_COUNT };

/* One matching message and its keys (those asked for; others empty). */
struct scan_msg {
    size_t pos;                 /* in the view */
    char *key[SK_COUNT];        /* NUL-terminated, NULL when not read */
    size_t keylen[SK_COUNT];
    bool reply;                 /* SK_SUBJECT: a reply or forward (RFC 5256 sec 3) */
    int64_t sent;               /* SCAN_DATE: Date: in UTC, else INTERNALDATE (sec 2.2) */
    char *msgid;                /* SCAN_REFS: Message-ID, NULL for none valid */
    char **refs;                /* References, else In-Reply-To's first; oldest first */
    size_t nrefs;
};

/* msgkeys.c: the keys of need from a header section hdr[0..len) (the message's internal
 * date for the sent date's fallback), each cut to limit bytes. */
void scan_keys(struct scan_msg *m, unsigned need, const char *hdr, size_t len, uint64_t internaldate,
               size_t limit);
void scan_msg_free(struct scan_msg *m);

/* Called once the mailbox is read, with the session's tag in place: write the response and
 * the tagged reply. msgs[0..n) in mailbox order. */
typedef void (*scan_done_fn)(struct imap_session *s, struct scan_msg *msgs, size_t n, void *ctx);

/* Run prog (taken over, resolved already) for the session's view; done(ctx) at the end,
 * then free_ctx(ctx). The first slice runs now; done may be called before this returns. */
void scan_start(struct imap_session *s, struct search_program *prog, unsigned need,
                scan_done_fn done, void (*free_ctx)(void *ctx), void *ctx);

#endif
