/* msgkeys.c - the SORT and THREAD keys of a message from its header (RFC 5256 sec 3, RFC
 * 5957), as sort keys (lib/mail/collate.h). The first field of each name counts, as in
 * ENVELOPE:
 *   SUBJECT      the base subject (lib/mail/base_subject.h), and whether it marks a reply;
 *   FROM TO CC   the addr-mailbox (local part) of the field's first address, or the name of
 *                its first group, as ENVELOPE's mailbox element shows it;
 *   DISPLAYFROM, DISPLAYTO  that address's display name, RFC 2047 decoded, or without one
 *                its addr-spec, "local@domain" (RFC 5957 sec 3);
 *   DATE         the Date: field in UTC, or the INTERNALDATE without a usable one (sec 2.2);
 *   THREAD       Message-ID; References, or the first identifier of In-Reply-To when
 *                References holds none (lib/mail/msgid.h).
 * A missing field gives an empty key. */
#include "addrlist.h"
#include "base_subject.h"
#include "collate.h"
#include "date.h"
#include "header_span.h"
#include "mem.h"
#include "msgid.h"
#include "rfc2047.h"
#include "scan.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum field { F_SUBJECT, F_FROM, F_TO, F_CC, F_DATE, F_MESSAGE_ID, F_REFERENCES, F_IN_REPLY_TO, F_COUNT };

static const char *const field_names[F_COUNT] = {
    "Subject", "From", "To", "Cc", "Date", "Message-ID", "References", "In-Reply-To",
};

struct fields {
    struct buf v[F_COUNT]; /* unfolded values */
    bool seen[F_COUNT];
};

static void find_fields(struct fields *f, const char *hdr, size_t len)
{
    struct header_span_iter it;
    struct header_span h;
    header_span_init(&it, hdr, len);
    while (header_span_next(&it, &h))
        for (int i = 0; i < F_COUNT; i++)
            if (!f->seen[i] && header_span_is(&h, field_names[i])) {
                f->seen[i] = true;
                header_unfold(h.value, h.value_len, &f->v[i]);
            }
}

static void set_key(struct scan_msg *m, enum scan_key k, const char *s, size_t len, size_t limit)
{
    struct buf key = BUF_INIT;
    mail_collate_key(s, len, limit, &key);
    m->keylen[k] = key.len;
    m->key[k] = key.data ? buf_steal(&key) : xstrdup("");
}

/* The first address of a field: its mailbox (addr-mailbox) and its display form. */
static void address_keys(struct scan_msg *m, const struct buf *v, enum scan_key mbox, enum scan_key disp,
                         unsigned need, size_t limit)
{
    struct addrlist l;
    addrlist_init(&l);
    addrlist_parse(&l, v->data ? v->data : "", v->len);
    struct buf local = BUF_INIT, display = BUF_INIT;
    if (l.n > 0 && l.v[0].kind == ADDRLIST_MAILBOX) {
        const struct addrlist_entry *e = &l.v[0];
        buf_append(&local, addrlist_str(&l, e->local), e->local.len);
        if (e->name.off != ADDRLIST_ABSENT && e->name.len > 0)
            rfc2047_decode(addrlist_str(&l, e->name), e->name.len, &display);
        if (display.len == 0) {
            buf_append(&display, local.data ? local.data : "", local.len);
            if (e->domain.len)
                buf_printf(&display, "@%s", addrlist_str(&l, e->domain));
        }
    } else if (l.n > 0 && l.v[0].name.off != ADDRLIST_ABSENT) { /* a group: (NIL NIL "name" NIL) */
        buf_append(&local, addrlist_str(&l, l.v[0].name), l.v[0].name.len);
        rfc2047_decode(local.data ? local.data : "", local.len, &display);
    }
    if (need & (1u << mbox))
        set_key(m, mbox, local.data ? local.data : "", local.len, limit);
    if (disp < SK_COUNT && (need & (1u << disp)))
        set_key(m, disp, display.data ? display.data : "", display.len, limit);
    buf_free(&local);
    buf_free(&display);
    addrlist_free(&l);
}

static int64_t sent_date(const struct fields *f, uint64_t internaldate)
{
    struct tm tm;
    int zone;
    if (f->seen[F_DATE] && mail_date_parse(f->v[F_DATE].data ? f->v[F_DATE].data : "", f->v[F_DATE].len, &tm, &zone))
        return (int64_t)timegm(&tm) - (int64_t)zone * 60;
    return (int64_t)internaldate;
}

/* The identifiers of a field; keeps the last ones within limit bytes. */
static size_t identifiers(const struct buf *v, char ***out, size_t limit)
{
    size_t n = 0, pos = 0, bytes = 0;
    char **ids = NULL;
    struct buf id = BUF_INIT;
    while (mail_msgid_next(v->data ? v->data : "", v->len, &pos, &id)) {
        ids = xreallocarray(ids, n + 1, sizeof *ids);
        ids[n++] = xstrdup(id.data);
        bytes += id.len + 1;
    }
    size_t drop = 0;
    while (bytes > limit && drop < n)
        bytes -= strlen(ids[drop++]) + 1;
    for (size_t i = 0; i < drop; i++)
        free(ids[i]);
    if (drop) /* ids is NULL when there are none: no arithmetic on it */
        memmove(ids, ids + drop, (n - drop) * sizeof *ids);
    buf_free(&id);
    *out = ids;
    return n - drop;
}

static void thread_keys(struct scan_msg *m, const struct fields *f, size_t limit)
{
    char **ids;
    size_t n = identifiers(&f->v[F_MESSAGE_ID], &ids, limit);
    if (n > 0)
        m->msgid = ids[0];
    for (size_t i = 1; i < n; i++)
        free(ids[i]);
    free(ids);
    m->nrefs = identifiers(&f->v[F_REFERENCES], &m->refs, limit);
    if (m->nrefs == 0) { /* RFC 5256 sec 3: In-Reply-To's first valid identifier */
        free(m->refs);
        n = identifiers(&f->v[F_IN_REPLY_TO], &ids, SIZE_MAX);
        m->refs = ids;
        m->nrefs = n > 0;
        for (size_t i = 1; i < n; i++)
            free(ids[i]);
    }
}

void scan_keys(struct scan_msg *m, unsigned need, const char *hdr, size_t len, uint64_t internaldate,
               size_t limit)
{
    struct fields f = {0};
    find_fields(&f, hdr, len);
    if (need & (1u << SK_SUBJECT)) {
        struct buf base = BUF_INIT;
        m->reply = mail_base_subject(f.v[F_SUBJECT].data ? f.v[F_SUBJECT].data : "", f.v[F_SUBJECT].len, &base);
        set_key(m, SK_SUBJECT, base.data ? base.data : "", base.len, limit);
        buf_free(&base);
    }
    if (need & ((1u << SK_FROM) | (1u << SK_DISPLAYFROM)))
        address_keys(m, &f.v[F_FROM], SK_FROM, SK_DISPLAYFROM, need, limit);
    if (need & ((1u << SK_TO) | (1u << SK_DISPLAYTO)))
        address_keys(m, &f.v[F_TO], SK_TO, SK_DISPLAYTO, need, limit);
    if (need & (1u << SK_CC))
        address_keys(m, &f.v[F_CC], SK_CC, SK_COUNT, need, limit);
    if (need & SCAN_DATE)
        m->sent = sent_date(&f, internaldate);
    if (need & SCAN_REFS)
        thread_keys(m, &f, limit);
    for (int i = 0; i < F_COUNT; i++)
        buf_free(&f.v[i]);
}

void scan_msg_free(struct scan_msg *m)
{
    for (int k = 0; k < SK_COUNT; k++)
        free(m->key[k]);
    free(m->msgid);
    for (size_t i = 0; i < m->nrefs; i++)
        free(m->refs[i]);
    free(m->refs);
}
