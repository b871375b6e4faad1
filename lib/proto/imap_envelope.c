/* imap_envelope.c - ENVELOPE (RFC 3501 sec 7.4.2 and 9, RFC 9051 sec 7.5.2 and 9): one pass
 * over the header finds the first field of each of the ten names, then each member is
 * written as an nstring or an address list (addrlist.h). */
#include "addrlist.h"
#include "header_span.h"
#include "imap_struct_int.h"
#include <string.h>

enum env_field {
    ENV_DATE, ENV_SUBJECT, ENV_FROM, ENV_SENDER, ENV_REPLY_TO, ENV_TO, ENV_CC, ENV_BCC,
    ENV_IN_REPLY_TO, ENV_MESSAGE_ID, ENV_COUNT
};

static const char *const env_names[ENV_COUNT] = {
    "date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc", "in-reply-to",
    "message-id",
};

struct env_values {
    const char *v[ENV_COUNT]; /* the raw (folded) value, NULL when the field is missing */
    size_t len[ENV_COUNT];
};

static void find_fields(const char *hdr, size_t len, struct env_values *ev)
{
    struct header_span_iter it;
    struct header_span f;
    size_t found = 0;
    memset(ev, 0, sizeof *ev);
    header_span_init(&it, hdr, len);
    while (found < ENV_COUNT && header_span_next(&it, &f)) {
        for (size_t i = 0; i < ENV_COUNT; i++) {
            if (!ev->v[i] && header_span_is(&f, env_names[i])) {
                ev->v[i] = f.value;
                ev->len[i] = f.value_len;
                found++;
                break;
            }
        }
    }
}

static void put_text(struct buf *out, const struct addrlist *l, struct addrlist_text t,
                     unsigned flags)
{
    imap_put_nstring(out, addrlist_str(l, t), t.len, flags);
}

static void put_address(struct buf *out, const struct addrlist *l,
                        const struct addrlist_entry *e, unsigned flags)
{
    switch (e->kind) {
    case ADDRLIST_GROUP_START:
        buf_append(out, "(NIL NIL ", 9);
        put_text(out, l, e->name, flags);
        buf_append(out, " NIL)", 5);
        break;
    case ADDRLIST_GROUP_END:
        buf_append(out, "(NIL NIL NIL NIL)", 17);
        break;
    case ADDRLIST_MAILBOX:
        buf_putc(out, '(');
        put_text(out, l, e->name, flags);
        buf_putc(out, ' ');
        put_text(out, l, e->route, flags);
        buf_putc(out, ' ');
        put_text(out, l, e->local, flags);
        buf_putc(out, ' ');
        put_text(out, l, e->domain, flags);
        buf_putc(out, ')');
        break;
    }
}

/* The address list of a field (NIL when missing or without addresses); returns whether it
 * held any. Addresses follow each other without a space: "(" 1*address ")". */
static bool put_addresses(struct buf *out, const char *v, size_t len, unsigned flags)
{
    if (!v) {
        buf_append(out, "NIL", 3);
        return false;
    }
    struct buf unfolded = BUF_INIT;
    struct addrlist l;
    header_unfold(v, len, &unfolded);
    addrlist_init(&l);
    addrlist_parse(&l, unfolded.data, unfolded.len);
    if (l.n == 0) {
        buf_append(out, "NIL", 3);
    } else {
        buf_putc(out, '(');
        for (size_t i = 0; i < l.n; i++)
            put_address(out, &l, &l.v[i], flags);
        buf_putc(out, ')');
    }
    bool any = l.n > 0;
    addrlist_free(&l);
    buf_free(&unfolded);
    return any;
}

static void put_value(struct buf *out, const char *v, size_t len, unsigned flags)
{
    if (!v) {
        buf_append(out, "NIL", 3);
        return;
    }
    struct buf unfolded = BUF_INIT;
    header_unfold(v, len, &unfolded);
    imap_put_string(out, unfolded.data, unfolded.len, flags);
    buf_free(&unfolded);
}

/* Sender or Reply-To: its own list, or From's when it is missing or holds no address. */
static void put_defaulted(struct buf *out, const struct env_values *ev, enum env_field f,
                          const struct buf *from, unsigned flags)
{
    size_t mark = out->len;
    if (!put_addresses(out, ev->v[f], ev->len[f], flags)) {
        buf_truncate(out, mark);
        buf_append(out, from->data, from->len);
    }
}

void imap_envelope_of(const struct imap_message *m, size_t idx, unsigned flags,
                      struct buf *out)
{
    const struct mime_part *pt = &m->parts[idx];
    struct env_values ev;
    find_fields(m->data + pt->header_offset, pt->header_size, &ev);
    struct buf from = BUF_INIT;
    put_addresses(&from, ev.v[ENV_FROM], ev.len[ENV_FROM], flags);
    buf_putc(out, '(');
    put_value(out, ev.v[ENV_DATE], ev.len[ENV_DATE], flags);
    buf_putc(out, ' ');
    put_value(out, ev.v[ENV_SUBJECT], ev.len[ENV_SUBJECT], flags);
    buf_putc(out, ' ');
    buf_append(out, from.data, from.len);
    buf_putc(out, ' ');
    put_defaulted(out, &ev, ENV_SENDER, &from, flags);
    buf_putc(out, ' ');
    put_defaulted(out, &ev, ENV_REPLY_TO, &from, flags);
    for (enum env_field f = ENV_TO; f <= ENV_BCC; f++) {
        buf_putc(out, ' ');
        put_addresses(out, ev.v[f], ev.len[f], flags);
    }
    buf_putc(out, ' ');
    put_value(out, ev.v[ENV_IN_REPLY_TO], ev.len[ENV_IN_REPLY_TO], flags);
    buf_putc(out, ' ');
    put_value(out, ev.v[ENV_MESSAGE_ID], ev.len[ENV_MESSAGE_ID], flags);
    buf_putc(out, ')');
    buf_free(&from);
}

void imap_envelope_nil(struct buf *out)
{
    buf_puts(out, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
}

void imap_envelope(const struct imap_message *m, unsigned flags, struct buf *out)
{
    imap_envelope_of(m, 0, flags, out);
}
