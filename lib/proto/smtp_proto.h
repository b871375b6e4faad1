/* smtp_proto.h - pure parsers for the SMTP protocol: command lines, RFC 5321 paths,
 * ESMTP parameters of MAIL and RCPT (SIZE, BODY, SMTPUTF8, RET, ENVID, NOTIFY, ORCPT).
 * The xtext of ENVID/ORCPT is checked with lib/mail/xtext.h, UTF-8 (RFC 6531 SMTPUTF8)
 * with lib/util/utf8.h.
 *
 * Nothing here does I/O, logs or allocates: results go into caller-provided structs with
 * fixed bounds, and every parser returns an error with the SMTP reply (basic code, enhanced
 * status, text) the server should send, so the same rules are used by smtpd and, later, the
 * submission service. Shared with the SMTP client for parsing replies is not in scope. */
#ifndef POSTHORN_SMTP_PROTO_H
#define POSTHORN_SMTP_PROTO_H
#include <stdbool.h>
#include <stddef.h>

enum smtp_verb {
    SMTP_UNKNOWN,
    SMTP_HELO,
    SMTP_EHLO,
    SMTP_MAIL,
    SMTP_RCPT,
    SMTP_DATA,
    SMTP_BDAT,
    SMTP_RSET,
    SMTP_NOOP,
    SMTP_QUIT,
    SMTP_VRFY,
    SMTP_EXPN,
    SMTP_HELP,
    SMTP_STARTTLS,
    SMTP_AUTH,
    SMTP_ETRN,
};

/* Split a command line (no CRLF, NUL-terminated). The verb is matched case-insensitively and
 * must be followed by end of line or a space; *args then points after the spaces that follow
 * it (or at the terminating NUL). An empty or unknown verb gives SMTP_UNKNOWN. */
enum smtp_verb smtp_parse_command(const char *line, const char **args);
const char *smtp_verb_name(enum smtp_verb v);

/* A parse failure and the reply it calls for ("501", "5.1.7", "Bad sender address syntax"). */
struct smtp_error {
    int code;
    const char *status;
    const char *text;
};

#define SMTP_ADDR_MAX 512   /* a mailbox; RFC 5321 sec 4.5.3.1.3 asks for at least 256 */
#define SMTP_ENVID_MAX 100  /* RFC 3461 sec 4.4 */
#define SMTP_ORCPT_MAX 500  /* RFC 3461 sec 4.2 */

struct smtp_path {
    bool null;          /* "<>" */
    bool route;         /* an RFC 5321 source route was present (and removed) */
    bool quoted;        /* the local part was a quoted string */
    bool utf8;          /* non-ASCII (valid UTF-8) somewhere in the address */
    char local[SMTP_ADDR_MAX];  /* local part, unquoted ("a b" for "\"a b\"") */
    char domain[SMTP_ADDR_MAX]; /* domain, or address literal with brackets; "" when none */
    char addr[SMTP_ADDR_MAX];   /* local@domain in the canonical form of lib/mail/address.h
                                 * (local part quoted unless a Dot-string: "a b"@d, while
                                 * "alice"@d is alice@d), "local" without a domain, "" for
                                 * the null path */
};

/* Parse "<...>" at *s; on success advance *s past '>' and return true. A mailbox without
 * "@domain" is accepted (p->domain is ""); callers allow it only for <postmaster>. */
bool smtp_parse_path(const char **s, struct smtp_path *p, struct smtp_error *err);

enum smtp_body { SMTP_BODY_NONE, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME };
enum smtp_ret { SMTP_RET_NONE, SMTP_RET_FULL, SMTP_RET_HDRS };

#define SMTP_NOTIFY_NEVER 1u
#define SMTP_NOTIFY_SUCCESS 2u
#define SMTP_NOTIFY_FAILURE 4u
#define SMTP_NOTIFY_DELAY 8u
/* Is v a well-formed ORCPT value ("addr-type;xtext", at most SMTP_ORCPT_MAX bytes,
 * RFC 3461 sec 4.2)? */
bool smtp_orcpt_valid(const char *v);
/* NOTIFY bits as the parameter's text ("NEVER", "SUCCESS,DELAY,FAILURE", "" for none)
 * in out (at least 32 bytes); returns out. */
const char *smtp_notify_text(unsigned notify, char *out, size_t outsize);

struct smtp_mail {
    struct smtp_path from;
    long long size;       /* SIZE=, -1 when absent (RFC 1870) */
    enum smtp_body body;  /* BODY= (RFC 6152); BINARYMIME is refused */
    bool smtputf8;        /* SMTPUTF8 (RFC 6531) */
    enum smtp_ret ret;    /* RET= (RFC 3461 sec 4.3) */
    char envid[SMTP_ENVID_MAX + 1]; /* ENVID= as received (valid xtext), "" when absent */
};

struct smtp_rcpt {
    struct smtp_path to;
    unsigned notify;      /* SMTP_NOTIFY_* bits, 0 when absent (RFC 3461 sec 4.1) */
    char orcpt[SMTP_ORCPT_MAX + 1]; /* ORCPT= as received ("rfc822;a+40b"), "" when absent */
};

/* args: what follows "MAIL " / "RCPT ", i.e. "FROM:<a@b> SIZE=10". Space after the colon is
 * tolerated. Non-ASCII in the path is accepted only with SMTPUTF8 on MAIL; for RCPT the
 * caller passes whether the transaction declared SMTPUTF8. */
bool smtp_parse_mail(const char *args, struct smtp_mail *m, struct smtp_error *err);
bool smtp_parse_rcpt(const char *args, bool smtputf8, struct smtp_rcpt *r, struct smtp_error *err);

/* "BDAT size [LAST]" arguments (RFC 3030). */
bool smtp_parse_bdat(const char *args, unsigned long long *size, bool *last);

/* EHLO/HELO argument: one token of printable ASCII (a domain or an address literal; the
 * name is not checked further, as RFC 5321 sec 4.1.4 forbids refusing on it). */
bool smtp_helo_valid(const char *arg);

/* True if the local part holds characters that route mail elsewhere ('%', '!', '@'); such
 * recipients are relay attempts (the "percent hack", bang paths, quoted "a@b"@ours). */
bool smtp_local_part_routes(const char *local);

#endif
