/* local_submit.c - queueing a locally submitted message (see local_submit.h). */
#include "local_submit.h"
#include "address.h"
#include "buf.h"
#include "date.h"
#include "dkim_client.h"
#include "log.h"
#include "mem.h"
#include "resolve.h"
#include "smtp_proto.h"
#include "trigger.h"
#include "xtext.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>

/* RFC 5321 mailbox in[0..len) as the canonical address, or NULL. */
static char *parse_mailbox(struct config *cfg, const char *in, size_t len)
{
    /* The RFC 5321 parser wants the brackets; anything after the closing one is junk. */
    char *path = xasprintf("<%.*s>", (int)len, in);
    const char *s = path;
    struct smtp_path p;
    struct smtp_error e;
    bool ok = smtp_parse_path(&s, &p, &e) && *s == 0 && !p.null && !p.route;
    free(path);
    if (!ok)
        return NULL;
    return p.domain[0] ? xstrdup(p.addr)
                       : xasprintf("%s@%s", p.addr, config_str(cfg, PARAM(myorigin)));
}

/* A sender given as plain text whose local part needs quoting ("-f a,b@example.com", as
 * Postfix's sendmail takes it): the local part is quoted, the domain must be one. */
static char *quote_sender(struct config *cfg, const char *in, size_t len)
{
    const char *at = memrchr(in, '@', len);
    if (!at || at == in)
        return NULL;
    for (const char *p = in; p < at; p++)
        if ((unsigned char)*p < 0x21 || *p == 0x7f || *p == '<' || *p == '>' || *p == '"' ||
            *p == '\\')
            return NULL;
    char *probe = xasprintf("x%.*s", (int)(len - (size_t)(at - in)), at);
    char *domain_ok = parse_mailbox(cfg, probe, strlen(probe));
    free(probe);
    if (!domain_ok)
        return NULL;
    free(domain_ok);
    char *raw = xstrndup(in, len);
    char *addr = address_requote(raw);
    free(raw);
    return addr;
}

char *local_submit_address(struct config *cfg, const char *in, bool null_ok)
{
    size_t len = strlen(in);
    if (len >= 2 && in[0] == '<' && in[len - 1] == '>')
        in++, len -= 2;
    if (len == 0)
        return null_ok ? xstrdup("") : NULL;
    if (len >= SMTP_ADDR_MAX)
        return NULL;
    char *addr = parse_mailbox(cfg, in, len);
    if (!addr && null_ok)
        addr = quote_sender(cfg, in, len);
    if (addr && strlen(addr) >= SMTP_ADDR_MAX) {
        free(addr);
        return NULL;
    }
    return addr;
}

bool local_submit_notify(const char *notify, char out[64])
{
    static const char *const words[] = {"SUCCESS", "DELAY", "FAILURE"};
    bool seen[3] = {false};
    if (strcasecmp(notify, "never") == 0) {
        snprintf(out, 64, "NEVER");
        return true;
    }
    const char *p = notify;
    out[0] = 0;
    while (*p) {
        size_t n = strcspn(p, ",");
        size_t k = 0;
        while (k < 3 && !(strlen(words[k]) == n && strncasecmp(p, words[k], n) == 0))
            k++;
        if (k == 3 || seen[k])
            return false;
        seen[k] = true;
        p += n;
        if (*p == ',' && *++p == 0)
            return false;
    }
    for (size_t k = 0; k < 3; k++)
        if (seen[k])
            snprintf(out + strlen(out), 64 - strlen(out), "%s%s", out[0] ? "," : "", words[k]);
    return out[0] != 0;
}

bool local_submit_envid(const char *envid)
{
    size_t n = strlen(envid);
    return n > 0 && n <= SMTP_ENVID_MAX && xtext_valid(envid, n);
}

void local_envelope_add(struct local_envelope *e, const char *addr, const char *orcpt,
                        const char *notify)
{
    for (size_t i = 0; i < e->nrcpts; i++)
        if (strcasecmp(e->rcpts[i].addr, addr) == 0)
            return;
    e->rcpts = xreallocarray(e->rcpts, e->nrcpts + 1, sizeof *e->rcpts);
    e->rcpts[e->nrcpts++] = (struct local_rcpt){xstrdup(addr), orcpt ? xstrdup(orcpt) : NULL,
                                                notify ? xstrdup(notify) : NULL};
}

void local_envelope_free(struct local_envelope *e)
{
    for (size_t i = 0; i < e->nrcpts; i++) {
        free(e->rcpts[i].addr);
        free(e->rcpts[i].orcpt);
        free(e->rcpts[i].notify);
    }
    free(e->rcpts);
    free(e->sender);
    e->rcpts = NULL;
    e->sender = NULL;
    e->nrcpts = 0;
}

/* A display name as an RFC 5322 phrase: as it is when it is atoms, else a quoted string. */
static void put_phrase(struct buf *b, const char *name)
{
    bool plain = true;
    for (const char *p = name; *p; p++)
        if (strchr("()<>[]:;@\\,.\"", *p))
            plain = false;
    if (plain) {
        buf_puts(b, name);
        return;
    }
    buf_putc(b, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_putc(b, '\\');
        if (*p != '\n' && *p != '\r')
            buf_putc(b, *p);
    }
    buf_putc(b, '"');
}

/* The header lines to add: Received: on top, missing From:/Date:/Message-ID: at the end. */
static void make_headers(struct config *cfg, const char *id, const struct local_envelope *e,
                         const struct submit_message *m, struct buf *top, struct buf *bottom)
{
    char date[MAIL_DATE_SIZE], stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    mail_date_format(date, sizeof date, now);
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm); /* the Message-ID's time part */
    const char *host = config_str(cfg, PARAM(myhostname));
    buf_printf(top, "Received: by %s (Posthorn, from userid %ld)\n\tid %s; %s\n", host,
               (long)e->uid, id, date);
    if (!m->has_from) {
        const char *who = *e->sender ? e->sender : "MAILER-DAEMON";
        buf_puts(bottom, "From: ");
        if (e->fullname && *e->fullname) {
            put_phrase(bottom, e->fullname);
            buf_printf(bottom, " <%s>\n", who);
        } else {
            buf_printf(bottom, "%s\n", who);
        }
    }
    if (!m->has_date)
        buf_printf(bottom, "Date: %s\n", date);
    if (!m->has_message_id)
        buf_printf(bottom, "Message-ID: <%s.%s@%s>\n", stamp, id, host);
}

static bool non_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return true;
    return false;
}

static void put_envelope(struct queue_writer *w, const struct local_envelope *e,
                         const struct submit_message *m)
{
    queue_put_str(w, REC_SENDER, e->sender);
    if (m->eight_bit)
        queue_put_attr(w, "body", "8BITMIME");
    if (e->envid)
        queue_put_attr(w, "envid", e->envid);
    if (e->ret)
        queue_put_attr(w, "ret", e->ret);
    bool utf8 = non_ascii(e->sender);
    for (size_t i = 0; i < e->nrcpts; i++) {
        const struct local_rcpt *r = &e->rcpts[i];
        queue_put_rcpt(w, r->addr, r->orcpt ? r->orcpt : "", r->notify ? r->notify : "");
        utf8 |= non_ascii(r->addr);
    }
    if (utf8)
        queue_put_attr(w, "smtputf8", "yes");
}

int local_submit_queue(struct config *cfg, const char *spool, const struct local_envelope *e,
                       const struct submit_message *m, char id[QUEUE_ID_SIZE], char **err)
{
    struct queue_writer *w = queue_create(spool, err);
    if (!w)
        return EX_TEMPFAIL;
    snprintf(id, QUEUE_ID_SIZE, "%s", queue_writer_id(w));
    put_envelope(w, e, m);
    struct buf top = BUF_INIT, bottom = BUF_INIT;
    make_headers(cfg, id, e, m, &top, &bottom);
    queue_begin_message(w);
    queue_write_body(w, top.data ? top.data : "", top.len);
    queue_write_body(w, m->headers.data ? m->headers.data : "", m->headers.len);
    queue_write_body(w, bottom.data ? bottom.data : "", bottom.len);
    queue_write_body(w, m->body.data ? m->body.data : "", m->body.len);
    buf_free(&top);
    buf_free(&bottom);
    /* Signed (doc/dkim.md) before it is queued: the signer reads the file being written. */
    struct dkim_client dc;
    dkim_client_init(&dc, cfg, spool);
    if (dkim_sign_writer(&dc, w, err) < 0) {
        queue_abort(w);
        return EX_TEMPFAIL;
    }
    if (queue_commit(w, true, err) < 0)
        return EX_TEMPFAIL;
    log_info("%s: uid=%ld from=<%s>", id, (long)e->uid, e->sender);
    trigger_qmgr(spool);
    return EX_OK;
}
