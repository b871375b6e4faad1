/* send_limit.c - per-user sending limits (see send_limit.h). */
#include "send_limit.h"

static bool over(unsigned have, unsigned adding, unsigned limit)
{
    return limit && adding && have + adding > limit;
}

void send_count_add(struct send_count *c, long long now_ms, const struct send_limits *lim,
                    unsigned messages, unsigned recipients, struct send_verdict *v)
{
    /* A unit starts at the user's first event, not at 0 of the monotonic clock (on a
     * machine up for less than a unit, a zeroed start would put every user in one unit
     * that began at boot). */
    if (!c->started || now_ms - c->start_ms >= lim->unit_ms || now_ms < c->start_ms) {
        c->started = true;
        c->start_ms = now_ms;
        c->messages = c->recipients = c->tried_messages = c->tried_recipients = 0;
    }
    c->tried_messages += messages;
    c->tried_recipients += recipients;
    bool held = c->held_until > now_ms;
    v->tripped = !held && (over(c->tried_messages - messages, messages, lim->hard_messages) ||
                           over(c->tried_recipients - recipients, recipients, lim->hard_recipients));
    if (v->tripped)
        c->held_until = now_ms + lim->hold_ms;
    v->held = c->held_until > now_ms;
    v->ok = !over(c->messages, messages, lim->max_messages) &&
            !over(c->recipients, recipients, lim->max_recipients);
    if (v->ok) {
        c->messages += messages;
        c->recipients += recipients;
    }
    v->messages = c->messages;
    v->recipients = c->recipients;
}

long long send_count_keep_until(const struct send_count *c, const struct send_limits *lim)
{
    long long unit_end = c->start_ms + lim->unit_ms;
    return c->held_until > unit_end ? c->held_until : unit_end;
}
