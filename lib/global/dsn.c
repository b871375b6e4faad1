/* dsn.c - RFC 3464 delivery status notifications: composing the report (see dsn.h).
 * Queueing it is dsn_queue.c. */
#include "dsn.h"
#include "address.h"
#include "date.h"
#include "header.h"
#include "mem.h"
#include "utf8.h"
#include "xtext.h"
#include <bsd/stdlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Every field is bounded, so that one recipient group always fits in DSN_NOTICE_MIN and the
 * report's header in DSN_FRAME_MAX (dsn.h; t/unit/global/test_dsn.c checks both). */
#define DIAG_MAX 500           /* longest diagnostic text copied into a report */
#define ADDR_SHOWN_MAX 1024    /* longest address written (smtpd takes < 512 bytes, forward
                                  lists 998): longer ones are cut */
#define ADDR_TYPE_MAX 32       /* address and diagnostic types ("rfc822", "smtp") */
#define DNS_NAME_MAX 255       /* RFC 1035 section 2.3.4: host names in the text */
#define LOCAL_PART_MAX 64      /* RFC 5321 section 4.5.3.1.1: bounce_notice_sender */
#define UNLISTED_NOTE_MAX 160  /* "N more recipients are not listed" in both parts */

bool dsn_notify_wants(const char *notify, enum dsn_kind kind)
{
    if (!notify || !*notify)
        return kind == DSN_FAILURE;
    static const char *const words[] = {[DSN_FAILURE] = "FAILURE", [DSN_DELAY] = "DELAY",
                                        [DSN_SUCCESS] = "SUCCESS"};
    const char *p = notify;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == strlen(words[kind]) && strncasecmp(p, words[kind], n) == 0)
            return true;
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

static bool has_8bit(const char *s, size_t len)
{
    return !utf8_is_ascii(s, len);
}

bool dsn_status_hdrs_only(const char *status)
{
    return status && (strcmp(status, "5.4.6") == 0 || strncmp(status, "5.7.", 4) == 0);
}

/* Printable ASCII only, bounded: diagnostic text comes from other programs and peers. */
static void put_clean(struct buf *out, const char *s, size_t max)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && n < max; p++, n++)
        buf_putc(out, *p >= 32 && *p < 127 ? (char)*p : (*p == '\t' ? ' ' : '?'));
}

/* An address for a header field or report: re-quoted as RFC 5321 writes it (a local part
 * that is not a Dot-string stays quoted, lib/mail/address.h), control characters replaced,
 * at most max bytes: a longer one is cut at a character boundary and ends in "...". */
static void put_addr_max(struct buf *out, const char *s, size_t max)
{
    char *q = address_requote(s);
    size_t len = strlen(q);
    bool cut = len > max;
    if (cut) {
        len = max - 3;
        while (len > 0 && ((unsigned char)q[len] & 0xC0) == 0x80)
            len--; /* not inside a UTF-8 sequence */
    }
    for (size_t i = 0; i < len; i++)
        buf_putc(out, (unsigned char)q[i] < 32 || q[i] == 127 ? '?' : q[i]);
    if (cut)
        buf_puts(out, "...");
    free(q);
}

static void put_addr(struct buf *out, const char *s)
{
    put_addr_max(out, s, ADDR_SHOWN_MAX);
}

bool dsn_report_is_global(const struct dsn_report *r)
{
    if (has_8bit(r->sender, strlen(r->sender)))
        return true;
    for (size_t i = 0; i < r->nrcpts; i++)
        if (has_8bit(r->rcpts[i].addr, strlen(r->rcpts[i].addr)))
            return true;
    return false;
}

static const char *kind_subject(enum dsn_kind k)
{
    return k == DSN_FAILURE ? "Delivery failure report"
           : k == DSN_DELAY ? "Delivery delay report"
                            : "Delivery success report";
}

/* The human-readable part up to the list of recipients. */
static void put_human_head(struct buf *b, const struct dsn_report *r, bool full)
{
    buf_printf(b, "This is the mail system at host %.*s.\n\n", DNS_NAME_MAX, r->hostname);
    if (r->kind == DSN_FAILURE) {
        buf_puts(b, "Your message could not be delivered to the recipients listed below.\n"
                    "The failure is permanent: the mail system will not try again.\n");
        buf_printf(b, "Attached are a delivery report and %s.\n",
                   full ? "your original message" : "the headers of your original message");
    } else if (r->kind == DSN_DELAY) {
        buf_puts(b, "Your message has not been delivered yet to the recipients listed below.\n"
                    "The mail system keeps trying; you do not need to send it again.\n");
    } else {
        buf_puts(b, "Your message was delivered to the recipients listed below, as you\n"
                    "requested with a delivery status notification (NOTIFY=SUCCESS).\n");
    }
    buf_printf(b, "\nFor help, write to postmaster@%.*s and include this report.\n\n",
               DNS_NAME_MAX, r->origin ? r->origin : r->hostname);
}

static void put_human_rcpt(struct buf *b, const struct dsn_rcpt *rc)
{
    buf_puts(b, "<");
    put_addr(b, rc->addr);
    buf_puts(b, ">: ");
    put_clean(b, rc->diag ? rc->diag : rc->action, DIAG_MAX);
    buf_puts(b, "\n");
}

/* "Original-Recipient: rfc822;addr" from the ORCPT as received (RFC 3461 section 6.3 (d):
 * present whenever ORCPT was given, the xtext encoding removed). Nothing when ORCPT is
 * absent or malformed. RFC 3461 section 4.2 lets ORCPT be 500 characters, more than any
 * address (RFC 5321 section 4.5.3.1.3: a path is at most 256 octets): the address is cut
 * to DSN_ORCPT_SHOWN bytes rather than copied 500 times into one report. */
static void put_original_recipient(struct buf *b, const char *orcpt)
{
    const char *semi = orcpt ? strchr(orcpt, ';') : NULL;
    if (!semi || semi == orcpt)
        return;
    char *addr = xtext_decode(semi + 1);
    if (!addr)
        return;
    size_t tlen = (size_t)(semi - orcpt);
    buf_puts(b, "Original-Recipient: ");
    put_clean(b, orcpt, tlen < ADDR_TYPE_MAX ? tlen : ADDR_TYPE_MAX);
    buf_puts(b, ";");
    put_addr_max(b, addr, DSN_ORCPT_SHOWN);
    buf_puts(b, "\n");
    free(addr);
}

/* A reason in smtp-client's shape, "host NAME[ADDR] said: REPLY (in reply to CMD command)"
 * (smtpc_said), came from a remote MTA: *host and *reply point into it (lengths in *hlen
 * and *rlen). */
static bool smtp_said(const char *reason, const char **host, size_t *hlen, const char **reply,
                      size_t *rlen)
{
    static const char said[] = "] said: ", tail[] = " command)";
    if (!reason || strncmp(reason, "host ", 5) != 0)
        return false;
    const char *end = strstr(reason, said), *bracket;
    if (!end)
        return false;
    for (bracket = end; bracket > reason + 5 && *bracket != '['; bracket--) {
    }
    if (*bracket != '[' || bracket == reason + 5)
        return false;
    *host = reason + 5;
    *hlen = (size_t)(bracket - *host);
    *reply = end + sizeof said - 1;
    *rlen = strlen(*reply);
    const char *in = strstr(*reply, " (in reply to ");
    size_t n = strlen(*reply), t = sizeof tail - 1;
    if (in && n >= t && strcmp(*reply + n - t, tail) == 0)
        *rlen = (size_t)(in - *reply);
    return *rlen > 0;
}

/* RFC 3464 sec 2.3.5 and 2.3.6: for an SMTP server's answer, Remote-MTA names it and the
 * Diagnostic-Code is of type smtp, the reply itself; other reasons are x-posthorn text. */
static void put_diagnostic(struct buf *b, const struct dsn_rcpt *rc)
{
    const char *host, *reply;
    size_t hlen, rlen;
    if (!rc->diag_type && smtp_said(rc->diag, &host, &hlen, &reply, &rlen)) {
        buf_puts(b, "Remote-MTA: dns; ");
        put_clean(b, host, hlen < DNS_NAME_MAX ? hlen : DNS_NAME_MAX);
        buf_puts(b, "\nDiagnostic-Code: smtp; ");
        put_clean(b, reply, rlen < DIAG_MAX ? rlen : DIAG_MAX);
        buf_puts(b, "\n");
        return;
    }
    buf_puts(b, "Diagnostic-Code: ");
    put_clean(b, rc->diag_type ? rc->diag_type : "x-posthorn", ADDR_TYPE_MAX);
    buf_puts(b, "; ");
    put_clean(b, rc->diag, DIAG_MAX);
    buf_puts(b, "\n");
}

static void put_rcpt_fields(struct buf *b, const struct dsn_rcpt *rc, bool global)
{
    char date[MAIL_DATE_SIZE];
    /* RFC 6533 section 3: "utf-8" address type for internationalized addresses. */
    bool u8 = global && has_8bit(rc->addr, strlen(rc->addr));
    buf_printf(b, "\nFinal-Recipient: %s; ", u8 ? "utf-8" : "rfc822");
    put_addr(b, rc->addr);
    buf_puts(b, "\n");
    put_original_recipient(b, rc->orcpt);
    buf_puts(b, "Action: ");
    put_clean(b, rc->action, 16);
    buf_puts(b, "\nStatus: ");
    put_clean(b, rc->status, 16);
    buf_puts(b, "\n");
    if (rc->diag && *rc->diag)
        put_diagnostic(b, rc);
    if (rc->last_attempt) {
        mail_date_format(date, sizeof date, (time_t)rc->last_attempt);
        buf_printf(b, "Last-Attempt-Date: %s\n", date);
    }
    if (rc->will_retry_until) {
        mail_date_format(date, sizeof date, (time_t)rc->will_retry_until);
        buf_printf(b, "Will-Retry-Until: %s\n", date);
    }
}

/* RFC 3464 section 2.2 per-message fields (the per-recipient blocks follow). */
static void put_status_head(struct buf *b, const struct dsn_report *r)
{
    char date[MAIL_DATE_SIZE];
    buf_printf(b, "Reporting-MTA: dns; %.*s\n", DNS_NAME_MAX, r->hostname);
    buf_puts(b, "X-Posthorn-Queue-ID: ");
    put_clean(b, r->queue_id, QUEUE_ID_SIZE);
    buf_puts(b, "\nX-Posthorn-Sender: rfc822; ");
    put_addr(b, r->sender);
    buf_puts(b, "\n");
    if (r->envid && *r->envid) {
        char *envid = xtext_decode(r->envid);
        if (envid) {
            buf_puts(b, "Original-Envelope-Id: ");
            put_clean(b, envid, 100);
            buf_puts(b, "\n");
            free(envid);
        }
    }
    mail_date_format(date, sizeof date, (time_t)r->arrival);
    buf_printf(b, "Arrival-Date: %s\n", date);
}

/* The notice: the human-readable part and the delivery-status part, together at most
 * max(notice_limit, DSN_NOTICE_MIN) bytes (dsn.h). Recipients are listed in order while
 * they fit (the first always does: its fields are bounded, see DSN_NOTICE_MIN); the rest
 * are counted in both parts. */
static void put_notice(struct buf *human, struct buf *status, const struct dsn_report *r,
                       bool full, bool global)
{
    size_t limit = r->notice_limit > DSN_NOTICE_MIN ? r->notice_limit : DSN_NOTICE_MIN;
    struct buf lines = BUF_INIT, blocks = BUF_INIT, h = BUF_INIT, s = BUF_INIT;
    put_human_head(human, r, full);
    put_status_head(status, r);
    size_t fixed = human->len + status->len + UNLISTED_NOTE_MAX, listed = 0;
    for (; listed < r->nrcpts; listed++) {
        buf_reset(&h);
        buf_reset(&s);
        put_human_rcpt(&h, &r->rcpts[listed]);
        put_rcpt_fields(&s, &r->rcpts[listed], global);
        if (listed > 0 && fixed + lines.len + blocks.len + h.len + s.len > limit)
            break;
        buf_append(&lines, h.data, h.len);
        buf_append(&blocks, s.data, s.len);
    }
    size_t unlisted = r->nrcpts - listed;
    buf_append(human, lines.data, lines.len);
    if (unlisted) {
        buf_printf(human, "\n%zu more recipient%s not listed: this report is limited to %zu "
                          "bytes.\n", unlisted, unlisted == 1 ? " is" : "s are", limit);
        /* RFC 3464 section 2.2: an extension field among the per-message fields. */
        buf_printf(status, "X-Posthorn-Unlisted-Recipients: %zu\n", unlisted);
    }
    buf_append(status, blocks.data, blocks.len);
    buf_free(&lines);
    buf_free(&blocks);
    buf_free(&h);
    buf_free(&s);
}

/* How much of content to return: all of it, or the header section (up to the empty line),
 * cut at a line end when it does not fit the limit. */
static size_t returned_length(const char *content, size_t len, size_t limit, bool full)
{
    if (full)
        return len;
    size_t n = len < limit ? len : limit, end;
    if (header_section_end(content, n, &end))
        return end;
    const char *nl = n ? memrchr(content, '\n', n) : NULL;
    return nl ? (size_t)(nl - content) + 1 : 0;
}

static void make_boundary(char *out, size_t size, const char *content, size_t len)
{
    do
        snprintf(out, size, "=_posthorn_%08X%08X", arc4random(), arc4random());
    while (memmem(content, len, out, strlen(out)) != NULL);
}

static void put_headers(struct buf *out, const struct dsn_report *r, const char *new_id,
                        const char *boundary, bool eightbit)
{
    char date[MAIL_DATE_SIZE];
    mail_date_format(date, sizeof date, (time_t)r->now);
    buf_printf(out, "Date: %s\n", date);
    buf_printf(out, "From: Mail Delivery System <%.*s@%.*s>\n", LOCAL_PART_MAX, r->from_local,
               DNS_NAME_MAX, r->origin ? r->origin : r->hostname);
    buf_puts(out, "To: <");
    put_addr(out, r->sender);
    buf_puts(out, ">\n");
    buf_printf(out, "Subject: %s\n", kind_subject(r->kind));
    buf_printf(out, "Message-Id: <%.*s.dsn@%.*s>\n", QUEUE_ID_SIZE, new_id, DNS_NAME_MAX,
               r->hostname);
    buf_puts(out, "Auto-Submitted: auto-replied\n"); /* RFC 3834 section 5 */
    buf_puts(out, "MIME-Version: 1.0\n");
    buf_printf(out, "Content-Type: multipart/report; report-type=delivery-status;\n"
                    "\tboundary=\"%s\"\n", boundary);
    if (eightbit)
        buf_puts(out, "Content-Transfer-Encoding: 8bit\n");
    buf_puts(out, "\nThis is a MIME-encapsulated delivery status notification.\n\n");
}

void dsn_compose(struct buf *out, const struct dsn_report *r, const char *new_id,
                 const char *content, size_t len, bool complete)
{
    bool full = r->kind == DSN_FAILURE && !r->ret_hdrs && !r->hdrs_only && complete &&
                len <= r->size_limit;
    size_t keep = returned_length(content, len, r->size_limit, full);
    bool global = dsn_report_is_global(r);
    bool content8 = has_8bit(content, keep);
    bool headers8 = has_8bit(content, returned_length(content, keep, keep, false));
    char boundary[64];
    make_boundary(boundary, sizeof boundary, content, keep);

    struct buf human = BUF_INIT, status = BUF_INIT;
    put_notice(&human, &status, r, full, global);
    bool eightbit = content8 || has_8bit(human.data, human.len) || has_8bit(status.data, status.len);

    put_headers(out, r, new_id, boundary, eightbit);
    buf_printf(out, "--%s\nContent-Description: Notification\n"
                    "Content-Type: text/plain; charset=%s\n%s\n",
               boundary, has_8bit(human.data, human.len) ? "utf-8" : "us-ascii",
               has_8bit(human.data, human.len) ? "Content-Transfer-Encoding: 8bit\n" : "");
    buf_append(out, human.data, human.len);
    buf_printf(out, "\n--%s\nContent-Description: Delivery report\nContent-Type: %s\n%s\n",
               boundary, global ? "message/global-delivery-status" : "message/delivery-status",
               has_8bit(status.data, status.len) ? "Content-Transfer-Encoding: 8bit\n" : "");
    buf_append(out, status.data, status.len);
    /* RFC 6533 section 3: internationalized headers travel as message/global(-headers). */
    const char *type = full ? (headers8 ? "message/global" : "message/rfc822")
                            : (headers8 ? "message/global-headers" : "text/rfc822-headers");
    const char *desc = full ? "Undelivered Message" : "Message Headers";
    if (r->kind == DSN_SUCCESS)
        desc = "Headers of the Delivered Message";
    else if (r->kind == DSN_DELAY)
        desc = "Headers of the Delayed Message";
    buf_printf(out, "\n--%s\nContent-Description: %s\nContent-Type: %s\n%s\n", boundary, desc,
               type, content8 ? "Content-Transfer-Encoding: 8bit\n" : "");
    buf_append(out, content, keep);
    if (keep == 0 || content[keep - 1] != '\n')
        buf_putc(out, '\n');
    buf_printf(out, "\n--%s--\n", boundary);
    buf_free(&human);
    buf_free(&status);
}
