/* send_limit.h - the per-user sending limits of submission (doc/submission.md, "Limits"):
 * how many messages and recipients one authenticated user may send per time unit, and the
 * hard limits past which the user's mail is put on hold. One counter per user; the anvil
 * service keeps them for every submission process (doc/anvil.md), and a submission process
 * keeps its own while anvil cannot be asked. Pure arithmetic on a struct: no I/O, no
 * logging, no allocation. */
#ifndef POSTHORN_SEND_LIMIT_H
#define POSTHORN_SEND_LIMIT_H
#include <stdbool.h>

struct send_limits {
    long long unit_ms;                       /* submission_rate_time_unit */
    unsigned max_messages, max_recipients;   /* per unit; 0: none */
    unsigned hard_messages, hard_recipients; /* tried per unit; 0: none */
    long long hold_ms;                       /* submission_hold_time */
};

/* What one user sent in the current unit. Zeroed: nothing yet. */
struct send_count {
    bool started;                /* start_ms is set (0 is a valid monotonic time) */
    long long start_ms;          /* start of the current unit */
    unsigned messages, recipients; /* accepted in it */
    unsigned tried_messages, tried_recipients; /* accepted or refused */
    long long held_until;        /* the user's mail is held until then; 0: never tripped */
};

struct send_verdict {
    bool ok;        /* within the limits: counted */
    bool held;      /* the user's mail goes on hold */
    bool tripped;   /* this event went past a hard limit (the hold starts now) */
    unsigned messages, recipients; /* accepted in the current unit, this event included */
};

/* Count messages and recipients about to be accepted at now_ms: refused (not counted as
 * accepted, but as tried) when they would pass max_messages or max_recipients. */
void send_count_add(struct send_count *c, long long now_ms, const struct send_limits *lim,
                    unsigned messages, unsigned recipients, struct send_verdict *v);
/* Until when the counter still matters (the current unit, or the hold). */
long long send_count_keep_until(const struct send_count *c, const struct send_limits *lim);

#endif
