/* limits.c - per-user sending limits (doc/submission.md, "Limits"; the arithmetic is
 * lib/global/send_limit.h): every MAIL counts a message and every RCPT a recipient of the
 * authenticated user, across every submission process through anvil (request=send,
 * doc/anvil.md), or in this process's own table while anvil cannot be asked (the limits
 * then hold per process). Over submission_message_rate_limit or
 * submission_recipient_rate_limit the command gets 450 4.7.1; a user who goes past a hard
 * limit gets an alert line in the log, and its mail goes into hold/ for
 * submission_hold_time. */
#include "log.h"
#include "mem.h"
#include "strhash.h"
#include "submission.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOCAL_BUCKETS 256
#define LOCAL_MAX 100000 /* users counted at once by one process without anvil */

struct local_count {
    struct local_count *next;
    struct send_count c;
    long long keep_until;
    char user[];
};

struct local_counts {
    struct local_count *b[LOCAL_BUCKETS];
    size_t n;
};

struct local_counts *local_counts_new(void) { return xcalloc(1, sizeof(struct local_counts)); }

static unsigned hash(const char *s) { return str_hash(s) % LOCAL_BUCKETS; }

/* The user's counter, created when missing; NULL when the table is full. */
static struct local_count *local_get(struct local_counts *lc, const char *user)
{
    struct local_count **head = &lc->b[hash(user)];
    for (struct local_count *e = *head; e; e = e->next)
        if (strcmp(e->user, user) == 0)
            return e;
    if (lc->n >= LOCAL_MAX)
        return NULL;
    size_t len = strlen(user);
    struct local_count *e = xcalloc(1, sizeof *e + len + 1);
    memcpy(e->user, user, len + 1);
    e->next = *head;
    *head = e;
    lc->n++;
    return e;
}

void local_counts_tick(struct local_counts *lc, long long now_ms)
{
    for (size_t i = 0; i < LOCAL_BUCKETS; i++)
        for (struct local_count **pp = &lc->b[i]; *pp;) {
            struct local_count *e = *pp;
            if (now_ms > e->keep_until) {
                *pp = e->next;
                free(e);
                lc->n--;
            } else {
                pp = &e->next;
            }
        }
}

/* The verdict for the command being asked about (ss->rcpt: RCPT, else MAIL). */
static const char *judge(struct session *s, const struct send_verdict *v)
{
    struct sub_session *ss = ss_of(s);
    if (v->tripped)
        log_warn("alert: sasl_username=%s went past a hard sending limit "
                 "(submission_message_hard_limit %u, submission_recipient_hard_limit %u per "
                 "%llds): its mail is held for %llds; client=%s",
                 s->auth_user, sub_of(s)->lim.hard_messages, sub_of(s)->lim.hard_recipients,
                 sub_of(s)->lim.unit_ms / 1000, sub_of(s)->lim.hold_ms / 1000, s->client);
    if (v->held)
        ss->held = true;
    if (v->ok)
        return NULL;
    return ss->rcpt ? "450 4.7.1 Error: too many recipients from this user, try again later"
                    : "450 4.7.1 Error: too many messages from this user, try again later";
}

static void decided(struct session *s, const char *refusal)
{
    if (ss_of(s)->rcpt)
        session_rcpt_decided(s, refusal);
    else
        session_mail_decided(s, refusal);
}

static void local_verdict(struct session *s, unsigned messages, unsigned recipients,
                          struct send_verdict *v)
{
    struct submission *sub = sub_of(s);
    long long now = event_now_ms();
    struct local_count *e = local_get(sub->local, s->auth_user);
    if (!e) { /* the table is full: nothing can be counted, so nothing is held back */
        *v = (struct send_verdict){.ok = true};
        return;
    }
    send_count_add(&e->c, now, &sub->lim, messages, recipients, v);
    e->keep_until = send_count_keep_until(&e->c, &sub->lim);
}

static void on_anvil(void *ctx, const struct anvil_reply *r)
{
    struct session *s = ctx;
    struct sub_session *ss = ss_of(s);
    ss->req = NULL;
    struct send_verdict v;
    if (r->status == ANVIL_OK || r->status == ANVIL_REFUSE)
        v = (struct send_verdict){.ok = r->status == ANVIL_OK, .held = r->held,
                                  .tripped = r->tripped};
    else
        local_verdict(s, !ss->rcpt, ss->rcpt, &v);
    decided(s, judge(s, &v));
}

enum smtpd_verdict limits_check(struct session *s, const char *rcpt)
{
    struct sub_session *ss = ss_of(s);
    ss->rcpt = rcpt != NULL;
    if (s->d->anvil) {
        ss->req = anvil_send(s->d->anvil, s->auth_user, !rcpt, rcpt != NULL, &sub_of(s)->lim,
                             on_anvil, s);
        return SMTPD_WAIT;
    }
    struct send_verdict v;
    local_verdict(s, !rcpt, rcpt != NULL, &v);
    const char *refusal = judge(s, &v);
    if (!refusal)
        return SMTPD_ACCEPT;
    session_reject(s, rcpt ? "RCPT" : "MAIL", rcpt, refusal);
    return SMTPD_REFUSED;
}

void limits_forget(struct session *s)
{
    struct sub_session *ss = ss_of(s);
    anvil_cancel(ss->req);
    ss->req = NULL;
}
