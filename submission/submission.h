/* submission.h - submission, the message submission agent (RFC 6409) on 587 (STARTTLS) and
 * 465 (TLS from the first byte, RFC 8314): the SMTP server engine (lib/smtpserver/smtpd.h)
 * with a role of its own (doc/submission.md):
 *   - auth.c: SASL AUTH PLAIN and LOGIN (RFC 4954) under the login limits every login
 *     process shares (lib/auth/auth_attempt.h), only under TLS;
 *   - sender.c: which addresses a user owns, for MAIL FROM and the header From;
 *   - limits.c: messages and recipients per user and time unit (counted by anvil, or by
 *     this process while anvil cannot be asked), and the hold past a hard limit;
 *   - headers.c: the header checks and the RFC 6409 sec 8 fields (Message-ID, Date,
 *     Sender, a From when there is none);
 *   - role.c: the engine's hooks, tying them together.
 * Event loop thread only. */
#ifndef SUBMISSION_SUBMISSION_H
#define SUBMISSION_SUBMISSION_H
#include "auth_attempt.h"
#include "dkim_client.h"
#include "map.h"
#include "sasl.h"
#include "send_limit.h"
#include "smtpd.h"
#include <stdbool.h>

struct local_counts;

/* The process's part (smtpd->role). */
struct submission {
    struct smtpd *d;
    struct auth_guard *guard;
    long long failure_delay_ms;     /* login_failure_delay: a failed AUTH's reply waits */
    bool plaintext_loopback;        /* submission_plaintext_auth_loopback */
    const char *sender_maps_spec;   /* submission_sender_login_maps ("" none) */
    struct map *sender_maps;        /* opened when first needed */
    long long sender_maps_retry_ms;
    bool add_sender;                /* submission_header_from_mismatch = sender */
    unsigned recipient_limit;       /* submission_recipient_limit */
    long long alias_depth, alias_count; /* alias_recursion_limit, alias_expansion_limit */
    struct send_limits lim;
    struct local_counts *local;     /* the counts while anvil cannot be asked */
    struct dkim_client dkim;        /* the signer of authenticated users' mail */
};

/* What the header section showed (headers.c). */
struct header_check {
    bool has_from, has_sender, has_msgid, has_date;
    bool from_bad, sender_bad;      /* an address the user does not own */
    bool tempfail;                  /* a table could not be read */
    bool malformed;                 /* the section starts with a folded line */
    char *bad_addr;                 /* the first such address, for the reply and the log */
};

/* The session's part (session->role). */
struct sub_session {
    struct submission *sub;
    struct sasl_exchange sasl;
    struct auth_attempt *attempt;   /* an AUTH being checked */
    struct anvil_req *req;          /* a limit asked of anvil */
    bool rcpt;                      /* the limit asked about is a RCPT's (else MAIL's) */
    bool held;                      /* this transaction's message goes to hold/ */
    struct header_check hc;
};

static inline struct submission *sub_of(const struct session *s) { return s->d->role; }
static inline struct sub_session *ss_of(const struct session *s) { return s->role; }

/* role.c */
extern const struct smtpd_hooks submission_hooks;

/* auth.c */
void auth_ehlo(struct session *s);
void auth_command(struct session *s, const char *args);
bool auth_line(struct session *s, const char *line, size_t len);
/* The session ends or TLS starts: drop the exchange and any check under way. */
void auth_forget(struct session *s);

/* sender.c */
enum owner { OWNER_YES, OWNER_NO, OWNER_TEMPFAIL };
/* Does user own addr: the account itself, an address that delivers to it (its extensions,
 * aliases leading to it, within alias_recursion_limit and alias_expansion_limit), or an
 * entry of submission_sender_login_maps naming it? */
enum owner sender_owner(struct session *s, const char *user, const char *addr);

/* limits.c */
struct local_counts *local_counts_new(void);
void local_counts_tick(struct local_counts *lc, long long now_ms);
/* MAIL (rcpt NULL: one message) or RCPT (one recipient, rcpt): SMTPD_WAIT while anvil is
 * asked, else decided now with this process's count (refused: replied). */
enum smtpd_verdict limits_check(struct session *s, const char *rcpt);
void limits_forget(struct session *s);

/* headers.c */
void headers_field(struct session *s, const struct header_field *f);
const char *headers_end(struct session *s, struct buf *add);
void headers_reset(struct header_check *hc);

#endif
