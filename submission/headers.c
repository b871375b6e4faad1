/* headers.c - the header section of a submitted message: the header From (and Sender) must
 * be addresses the user owns (sender.c), checked when the section ends, which the engine
 * (lib/smtpserver/message.c) reports while DATA or BDAT still streams; a refusal is given
 * after the end of the data (553 5.7.1), and nothing is queued. With
 * submission_header_from_mismatch = sender a foreign From is kept and a Sender: naming the
 * user is added instead (RFC 5322 sec 3.6.2). RFC 6409 sec 8 fixes: a Date (8.2) and a
 * Message-ID (8.3) when missing, and a From naming the envelope sender (or the user) when
 * there is none (RFC 5322 sec 3.6 requires one). Added fields go in before the line that
 * ends the section. */
#include "addrlist.h"
#include "date.h"
#include "log.h"
#include "mem.h"
#include "submission.h"
#include <bsd/stdlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void headers_reset(struct header_check *hc)
{
    free(hc->bad_addr);
    memset(hc, 0, sizeof *hc);
}

/* Every mailbox of the field must be the user's; a field without one names nobody the user
 * owns either, and one the scanner could not keep whole (longer than its bound, or cut by the
 * end of the message) cannot be shown to be the user's. Sets *bad and remembers the first
 * address. */
static void check_owned(struct session *s, const struct header_field *f, bool *bad)
{
    struct header_check *hc = &ss_of(s)->hc;
    if (f->truncated) { /* too long for the scanner, or cut by the end of the message */
        *bad = true;
        if (!hc->bad_addr)
            hc->bad_addr = xstrdup("");
        return;
    }
    struct buf value = BUF_INIT;
    struct addrlist l;
    header_field_value(f, &value);
    addrlist_init(&l);
    addrlist_parse(&l, value.data ? value.data : "", value.len);
    /* Junk beside the addresses ("a@x <b@y>", "a@x b@y", an open comment, a bare CR) is
     * what other readers may take for the address: a field not read whole is nobody's. */
    if (l.malformed && !*bad) {
        *bad = true;
        if (!hc->bad_addr)
            hc->bad_addr = xstrdup("");
    }
    size_t mailboxes = 0;
    for (size_t i = 0; i < l.n && !*bad; i++) {
        const struct addrlist_entry *e = &l.v[i];
        if (e->kind != ADDRLIST_MAILBOX)
            continue;
        mailboxes++;
        char *addr = e->domain.len ? xasprintf("%s@%s", addrlist_str(&l, e->local),
                                               addrlist_str(&l, e->domain))
                                   : xstrdup(addrlist_str(&l, e->local));
        /* a mailbox without a domain ("bob", "<>", a bare phrase) is nobody's */
        enum owner o = e->domain.len == 0 || e->local.len == 0 ? OWNER_NO
                                                               : sender_owner(s, s->auth_user, addr);
        if (o != OWNER_YES) {
            *bad = true;
            hc->tempfail |= o == OWNER_TEMPFAIL;
            if (!hc->bad_addr)
                hc->bad_addr = xstrdup(addr);
        }
        free(addr);
    }
    if (mailboxes == 0 && !*bad) {
        *bad = true;
        if (!hc->bad_addr)
            hc->bad_addr = xstrdup("");
    }
    addrlist_free(&l);
    buf_free(&value);
}

void headers_field(struct session *s, const struct header_field *f)
{
    struct header_check *hc = &ss_of(s)->hc;
    if (!s->auth_user)
        return;
    if (f->name_len == 0) /* a folded line before any field (RFC 5322 sec 2.2) */
        hc->malformed = true;
    else if (header_field_is(f, "From")) {
        hc->has_from = true;
        check_owned(s, f, &hc->from_bad);
    } else if (header_field_is(f, "Sender")) {
        hc->has_sender = true;
        check_owned(s, f, &hc->sender_bad);
    } else if (header_field_is(f, "Message-ID")) {
        hc->has_msgid = true;
    } else if (header_field_is(f, "Date")) {
        hc->has_date = true;
    }
}

/* The refusal of a header address, in the shape of Postfix's sender refusals. */
static const char *refused(struct session *s, const char *field)
{
    struct header_check *hc = &ss_of(s)->hc;
    static char reply[512];
    if (hc->tempfail)
        return "451 4.3.0 Error: temporary lookup failure";
    if (hc->bad_addr[0])
        snprintf(reply, sizeof reply, "553 5.7.1 <%.300s>: header %s address rejected: not owned "
                 "by user %.100s", hc->bad_addr, field, s->auth_user);
    else /* no address, or a field that cannot be read whole */
        snprintf(reply, sizeof reply, "553 5.7.1 header %s address rejected: not owned by user "
                 "%.100s", field, s->auth_user);
    log_info("%s: header %s <%s> not owned by sasl_username=%s", msg_queue_id(s), field,
             hc->bad_addr, s->auth_user);
    return reply;
}

/* RFC 6409 sec 8.3: a unique id, from the queue ID, randomness and our host name. */
static void add_message_id(struct session *s, struct buf *add)
{
    buf_printf(add, "Message-ID: <%s.%08X@%s>\n", msg_queue_id(s), arc4random(),
               s->d->p.hostname);
}

const char *headers_end(struct session *s, struct buf *add)
{
    struct sub_session *ss = ss_of(s);
    struct header_check *hc = &ss->hc;
    if (!s->auth_user)
        return NULL;
    if (hc->malformed) { /* it would continue the Received: field we put above it */
        log_info("%s: header section starts with a folded line; refused", msg_queue_id(s));
        return "554 5.6.0 Malformed header: the message starts with a folded line";
    }
    if (hc->from_bad && (!ss->sub->add_sender || hc->tempfail))
        return refused(s, "From");
    if (hc->sender_bad)
        return refused(s, "Sender");
    if (!hc->has_from) {
        const struct smtp_mail *m = s->txn.mail;
        buf_printf(add, "From: <%s>\n", m->from.null ? s->auth_user : m->from.addr);
    }
    if (hc->from_bad && !hc->has_sender) /* submission_header_from_mismatch = sender */
        buf_printf(add, "Sender: <%s>\n", s->auth_user);
    if (!hc->has_date) {
        char date[MAIL_DATE_SIZE];
        mail_date_format(date, sizeof date, time(NULL));
        buf_printf(add, "Date: %s\n", date);
    }
    if (!hc->has_msgid)
        add_message_id(s, add);
    return NULL;
}
