/* mailq_format.c - Postfix's mailq text and postqueue -j JSON for queue listings (see
 * mailq_format.h). */
#include "mailq_format.h"
#include "buf.h"
#include "utf8.h"
#include <string.h>
#include <time.h>

/* Postfix's long-queue-ID layout (postqueue -p), the ID column widened to hold an
 * 18-character ID and its status character. */
#define ID_COLUMN 19
#define REASON_END 76 /* "(reason)" is right-aligned so that it ends in column 78 */
#define EMPTY_SENDER "MAILER-DAEMON"

void mailq_out_init(struct mailq_out *o, FILE *out, enum mailq_style style)
{
    memset(o, 0, sizeof *o);
    o->out = out;
    o->style = style;
}

/* s made safe for a terminal (json false) or for a JSON string body (json true): each
 * well-formed UTF-8 sequence is kept, except C0 and C1 controls and DEL, which become '?'
 * (JSON: "\n"-style or \u00XX escapes, with '"' and '\\' escaped too); every byte that is
 * not well-formed UTF-8 becomes '?'. */
static void put_clean(struct buf *b, const char *s, bool json)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    while (len > 0) {
        size_t n = utf8_sequence_length(p, len);
        unsigned cp = n == 1 ? p[0] : n == 2 ? ((p[0] & 0x1Fu) << 6) | (p[1] & 0x3Fu) : 0x100;
        bool control = n && n <= 2 && (cp < 0x20 || (cp >= 0x7F && cp < 0xA0));
        if (n == 0) {
            buf_putc(b, '?');
            n = 1;
        } else if (json && control) {
            const char *esc = cp == '\n' ? "\\n" : cp == '\r' ? "\\r" : cp == '\t' ? "\\t"
                            : cp == '\b' ? "\\b" : cp == '\f' ? "\\f" : NULL;
            if (esc)
                buf_puts(b, esc);
            else
                buf_printf(b, "\\u%04X", cp);
        } else if (control) {
            buf_putc(b, '?');
        } else {
            if (json && (cp == '"' || cp == '\\'))
                buf_putc(b, '\\');
            buf_append(b, p, n);
        }
        p += n;
        len -= n;
    }
}

static const char *clean(struct buf *b, const char *s, bool json)
{
    buf_reset(b);
    put_clean(b, s, json);
    return buf_cstr(b);
}

static void text_msg(struct mailq_out *o, const struct qlist_msg *m)
{
    if (o->count == 0)
        fprintf(o->out, "%-*s %8s %-19s %s\n", ID_COLUMN, "----Queue ID-----", "--Size--",
                "---Arrival Time----", "--Sender/Recipient------");
    else
        fputc('\n', o->out);
    char id[64];
    snprintf(id, sizeof id, "%.32s%s%s", m->id,
             strcmp(m->queue, "active") == 0 ? "*" : strcmp(m->queue, "hold") == 0 ? "!" : "",
             m->forced_expire ? "#" : "");
    char when[64] = "?";
    time_t t = (time_t)m->arrival_time;
    struct tm tm;
    if (localtime_r(&t, &tm))
        strftime(when, sizeof when, "%a %b %e %H:%M:%S", &tm); /* asctime(3)'s shape */
    struct buf b = BUF_INIT;
    fprintf(o->out, "%-*s %8lld %19.19s %s\n", ID_COLUMN, id, m->size, when,
            clean(&b, *m->sender ? m->sender : EMPTY_SENDER, false));
    const char *prev = "";
    for (size_t i = 0; i < m->nrcpts; i++) {
        const struct qlist_rcpt *r = &m->rcpts[i];
        if (strcmp(prev, r->reason) != 0) {
            prev = r->reason;
            const char *shown = clean(&b, *prev ? prev : "reason unavailable", false);
            int pad = REASON_END - (int)strlen(shown);
            fprintf(o->out, "%*s(%s)\n", pad > 0 ? pad : 0, "", shown);
        }
        fprintf(o->out, "%-*s %8s %-19s %s\n", ID_COLUMN, "", "", "", clean(&b, r->address, false));
    }
    buf_free(&b);
}

static void json_msg(struct mailq_out *o, const struct qlist_msg *m)
{
    struct buf b = BUF_INIT;
    bool postfix = o->style == MAILQ_JSON_LINES;
    if (!postfix)
        fputs(o->count ? ",\n  " : "[\n  ", o->out);
    fprintf(o->out, "{\"queue_name\": \"%s\", ", clean(&b, m->queue, true));
    fprintf(o->out, "\"queue_id\": \"%s\", ", clean(&b, m->id, true));
    fprintf(o->out, "\"arrival_time\": %lld, \"message_size\": %lld, \"forced_expire\": %s, ",
            m->arrival_time, m->size, m->forced_expire ? "true" : "false");
    const char *sender = *m->sender || !postfix ? m->sender : EMPTY_SENDER;
    fprintf(o->out, "\"sender\": \"%s\", \"recipients\": [", clean(&b, sender, true));
    for (size_t i = 0; i < m->nrcpts; i++) {
        fprintf(o->out, "%s{\"address\": \"%s\"", i ? ", " : "", clean(&b, m->rcpts[i].address, true));
        if (*m->rcpts[i].reason)
            fprintf(o->out, ", \"delay_reason\": \"%s\"", clean(&b, m->rcpts[i].reason, true));
        fputc('}', o->out);
    }
    fputs(postfix ? "]}\n" : "]}", o->out);
    buf_free(&b);
}

void mailq_out_msg(struct mailq_out *o, const struct qlist_msg *m)
{
    if (o->style == MAILQ_TEXT)
        text_msg(o, m);
    else
        json_msg(o, m);
    o->count++;
    o->bytes += m->size > 0 ? (unsigned long long)m->size : 0;
}

void mailq_out_end(struct mailq_out *o, const char *empty_text)
{
    if (o->style == MAILQ_JSON_ARRAY)
        fputs(o->count ? "\n]\n" : "[]\n", o->out);
    else if (o->style == MAILQ_JSON_LINES)
        ;
    else if (o->count == 0)
        fprintf(o->out, "%s\n", empty_text);
    else /* Postfix rounds down */
        fprintf(o->out, "\n-- %llu Kbytes in %lu Request%s.\n", o->bytes / 1024, o->count,
                o->count == 1 ? "" : "s");
}
