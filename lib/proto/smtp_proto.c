/* smtp_proto.c - SMTP command, path and ESMTP parameter parsing (see smtp_proto.h).
 * Grammar references are RFC 5321 sec 4.1.2 unless noted. */
#include "smtp_proto.h"
#include "address.h"
#include "utf8.h"
#include "xtext.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    enum smtp_verb verb;
} verbs[] = {
    {"HELO", SMTP_HELO}, {"EHLO", SMTP_EHLO}, {"MAIL", SMTP_MAIL}, {"RCPT", SMTP_RCPT},
    {"DATA", SMTP_DATA}, {"BDAT", SMTP_BDAT}, {"RSET", SMTP_RSET}, {"NOOP", SMTP_NOOP},
    {"QUIT", SMTP_QUIT}, {"VRFY", SMTP_VRFY}, {"EXPN", SMTP_EXPN}, {"HELP", SMTP_HELP},
    {"STARTTLS", SMTP_STARTTLS}, {"AUTH", SMTP_AUTH}, {"ETRN", SMTP_ETRN},
};

enum smtp_verb smtp_parse_command(const char *line, const char **args)
{
    size_t n = 0;
    while (line[n] && line[n] != ' ')
        n++;
    const char *a = line + n;
    while (*a == ' ')
        a++;
    *args = a;
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strlen(verbs[i].name) == n && strncasecmp(line, verbs[i].name, n) == 0)
            return verbs[i].verb;
    return SMTP_UNKNOWN;
}

const char *smtp_verb_name(enum smtp_verb v)
{
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (verbs[i].verb == v)
            return verbs[i].name;
    return "UNKNOWN";
}

static bool fail(struct smtp_error *err, int code, const char *status, const char *text)
{
    err->code = code;
    err->status = status;
    err->text = text;
    return false;
}

/* --- paths --- */

struct scan {
    const unsigned char *p;
    bool utf8;
};

static bool is_atext(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* Consume one UTF-8 non-ASCII character (RFC 6531 UTF8-non-ascii). */
static bool take_utf8(struct scan *s)
{
    size_t n = utf8_sequence_length(s->p, strnlen((const char *)s->p, 4));
    if (n < 2)
        return false;
    s->p += n;
    s->utf8 = true;
    return true;
}

/* Domain = sub-domain *("." sub-domain); U-labels allowed (RFC 6531 sec 3.3). */
static bool scan_domain(struct scan *s)
{
    for (;;) {
        const unsigned char *start = s->p;
        unsigned char last = 0;
        while (isalnum(*s->p) || *s->p == '-' || *s->p >= 0x80) {
            if (*s->p >= 0x80) {
                if (!take_utf8(s))
                    return false;
                last = 'x';
                continue;
            }
            last = *s->p++;
        }
        if (s->p == start || *start == '-' || last == '-')
            return false;
        if (*s->p != '.')
            return true;
        s->p++;
    }
}

static bool valid_ipv6_literal(const char *lit, size_t len)
{
    char tmp[64];
    struct in6_addr a6;
    if (len >= sizeof tmp)
        return false;
    memcpy(tmp, lit, len);
    tmp[len] = 0;
    return inet_pton(AF_INET6, tmp, &a6) == 1;
}

/* address-literal = "[" ( IPv4 / "IPv6:" IPv6 / Standardized-tag ":" 1*dcontent ) "]" */
static bool scan_address_literal(struct scan *s)
{
    const char *start = (const char *)s->p + 1;
    const char *end = strchr(start, ']');
    if (!end)
        return false;
    size_t len = (size_t)(end - start);
    char tmp[64];
    struct in_addr a4;
    if (len > 0 && len < sizeof tmp && isdigit((unsigned char)start[0])) {
        memcpy(tmp, start, len);
        tmp[len] = 0;
        if (inet_pton(AF_INET, tmp, &a4) != 1)
            return false;
    } else if (len > 5 && strncasecmp(start, "IPv6:", 5) == 0) {
        if (!valid_ipv6_literal(start + 5, len - 5))
            return false;
    } else {
        const char *colon = memchr(start, ':', len);
        if (!colon || colon == start || colon == end - 1)
            return false;
        for (const char *q = start; q < colon; q++)
            if (!isalnum((unsigned char)*q) && *q != '-')
                return false;
        for (const char *q = colon + 1; q < end; q++)
            if (*q < 33 || *q > 126 || *q == '[' || *q == '\\')
                return false;
    }
    s->p = (const unsigned char *)end + 1;
    return true;
}

/* Dot-string, unquoted (RFC 5321 sec 4.1.2: Atom *("." Atom)): no leading, trailing or
 * doubled dot. */
static bool scan_dot_string(struct scan *s, char *out, size_t outsize)
{
    size_t o = 0;
    while (is_atext(*s->p) || *s->p == '.' || *s->p >= 0x80) {
        const unsigned char *c = s->p;
        if (*c == '.' && (o == 0 || out[o - 1] == '.'))
            return false;
        if (*c >= 0x80) {
            if (!take_utf8(s))
                return false;
        } else {
            s->p++;
        }
        size_t n = (size_t)(s->p - c);
        if (o + n >= outsize)
            return false;
        memcpy(out + o, c, n);
        o += n;
    }
    out[o] = 0;
    return o > 0 && out[o - 1] != '.';
}

/* Quoted-string: qtextSMTP (%d32-33 / %d35-91 / %d93-126 / UTF-8) and quoted pairs. */
static bool scan_quoted(struct scan *s, char *out, size_t outsize)
{
    size_t o = 0;
    s->p++;
    for (;;) {
        unsigned char c = *s->p;
        const unsigned char *from = s->p;
        if (c == '"') {
            s->p++;
            break;
        }
        if (c == '\\') {
            if (s->p[1] < 32 || s->p[1] > 126)
                return false;
            from = s->p + 1;
            s->p += 2;
        } else if (c >= 0x80) {
            if (!take_utf8(s))
                return false;
        } else if (c >= 32 && c <= 126) {
            s->p++;
        } else {
            return false; /* control characters, NUL (end of input) */
        }
        size_t n = (size_t)(s->p - from);
        if (o + n >= outsize)
            return false;
        memcpy(out + o, from, n);
        o += n;
    }
    out[o] = 0;
    return true;
}

/* A-d-l ":" before the mailbox; accepted and ignored (RFC 5321 sec 4.1.2, appendix C). */
static bool scan_route(struct scan *s)
{
    for (;;) {
        if (*s->p != '@')
            return false;
        s->p++;
        if (!scan_domain(s))
            return false;
        if (*s->p == ':') {
            s->p++;
            return true;
        }
        if (*s->p != ',')
            return false;
        s->p++;
    }
}

static bool scan_mailbox(struct scan *s, struct smtp_path *p)
{
    if (*s->p == '"') {
        p->quoted = true;
        if (!scan_quoted(s, p->local, sizeof p->local))
            return false;
    } else if (!scan_dot_string(s, p->local, sizeof p->local)) {
        return false;
    }
    if (*s->p != '@')
        return !p->quoted && *s->p == '>'; /* "<postmaster>" form; caller decides */
    s->p++;
    const unsigned char *d = s->p;
    if (*d == '[' ? !scan_address_literal(s) : !scan_domain(s))
        return false;
    size_t n = (size_t)(s->p - d);
    if (n >= sizeof p->domain)
        return false;
    memcpy(p->domain, d, n);
    p->domain[n] = 0;
    return true;
}

bool smtp_parse_path(const char **str, struct smtp_path *p, struct smtp_error *err)
{
    memset(p, 0, sizeof *p);
    struct scan s = {(const unsigned char *)*str, false};
    if (*s.p != '<')
        return fail(err, 501, "5.5.4", "Syntax: address must be in angle brackets");
    s.p++;
    if (*s.p == '>') {
        p->null = true;
        *str = (const char *)s.p + 1;
        return true;
    }
    if (*s.p == '@') {
        if (!scan_route(&s))
            return fail(err, 501, "5.1.3", "Bad address syntax");
        p->route = true;
    }
    if (!scan_mailbox(&s, p) || *s.p != '>')
        return fail(err, 501, "5.1.3", "Bad address syntax");
    if (p->route && !p->domain[0])
        return fail(err, 501, "5.1.3", "Bad address syntax");
    p->utf8 = s.utf8;
    /* The canonical form (lib/mail/address.h): the local part stays quoted when it is not a
     * Dot-string, so no writer can turn "x> Bcc: <v@evil"@d into header text. */
    size_t n = address_quote_local(p->local, strlen(p->local), p->addr, sizeof p->addr);
    if (p->domain[0] && n < sizeof p->addr)
        n += (size_t)snprintf(p->addr + n, sizeof p->addr - n, "@%s", p->domain);
    if (n >= sizeof p->addr)
        return fail(err, 501, "5.1.3", "Address too long");
    *str = (const char *)s.p + 1;
    return true;
}

bool smtp_local_part_routes(const char *local)
{
    return strpbrk(local, "%!@") != NULL;
}

/* --- ESMTP parameters --- */

struct param {
    const char *key;
    size_t keylen;
    const char *val; /* NULL when the parameter has no "=" */
    size_t vallen;
};

static bool key_is(const struct param *pm, const char *name)
{
    return strlen(name) == pm->keylen && strncasecmp(pm->key, name, pm->keylen) == 0;
}

static bool val_is(const struct param *pm, const char *word)
{
    return pm->val && strlen(word) == pm->vallen && strncasecmp(pm->val, word, pm->vallen) == 0;
}

/* Next "keyword[=value]" at *s (RFC 5321 sec 4.1.2 esmtp-param; RFC 6531 allows UTF-8 in
 * values). Returns 1 with *pm, 0 at end, -1 on bad syntax. */
static int next_param(const char **s, struct param *pm)
{
    const char *p = *s;
    while (*p == ' ')
        p++;
    if (*p == 0)
        return 0;
    pm->key = p;
    if (!isalnum((unsigned char)*p))
        return -1;
    while (isalnum((unsigned char)*p) || *p == '-')
        p++;
    pm->keylen = (size_t)(p - pm->key);
    pm->val = NULL;
    pm->vallen = 0;
    if (*p == '=') {
        pm->val = ++p;
        while (*p && *p != ' ' && *p != '=' && (unsigned char)*p >= 33 && *p != 127)
            p++;
        pm->vallen = (size_t)(p - pm->val);
        if (pm->vallen == 0 || !utf8_valid(pm->val, pm->vallen))
            return -1;
    }
    if (*p != 0 && *p != ' ')
        return -1;
    *s = p;
    return 1;
}

static bool parse_size(const struct param *pm, long long *out)
{
    if (!pm->val || pm->vallen > 18)
        return false;
    long long v = 0;
    for (size_t i = 0; i < pm->vallen; i++) {
        if (!isdigit((unsigned char)pm->val[i]))
            return false;
        v = v * 10 + (pm->val[i] - '0');
    }
    *out = v;
    return true;
}

static bool mail_param(struct smtp_mail *m, const struct param *pm, unsigned *seen,
                       struct smtp_error *err)
{
    static const char *const names[] = {"SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH"};
    int k = -1;
    for (int i = 0; i < 6; i++)
        if (key_is(pm, names[i]))
            k = i;
    if (k < 0)
        return fail(err, 555, "5.5.4", "Unsupported option in MAIL FROM");
    if (*seen & (1u << k))
        return fail(err, 501, "5.5.4", "Duplicate parameter in MAIL FROM");
    *seen |= 1u << k;
    switch (k) {
    case 0:
        if (!parse_size(pm, &m->size))
            return fail(err, 501, "5.5.4", "Bad SIZE parameter syntax");
        return true;
    case 1:
        if (val_is(pm, "7BIT"))
            m->body = SMTP_BODY_7BIT;
        else if (val_is(pm, "8BITMIME"))
            m->body = SMTP_BODY_8BITMIME;
        else if (val_is(pm, "BINARYMIME"))
            return fail(err, 555, "5.5.4", "BODY=BINARYMIME is not supported");
        else
            return fail(err, 501, "5.5.4", "Bad BODY parameter value");
        return true;
    case 2:
        if (pm->val)
            return fail(err, 501, "5.5.4", "SMTPUTF8 takes no value");
        m->smtputf8 = true;
        return true;
    case 3:
        if (val_is(pm, "FULL"))
            m->ret = SMTP_RET_FULL;
        else if (val_is(pm, "HDRS"))
            m->ret = SMTP_RET_HDRS;
        else
            return fail(err, 501, "5.5.4", "Bad RET parameter value");
        return true;
    case 5:
        /* RFC 4954 sec 5: AUTH=<> or AUTH=xtext, the identity a relaying client vouches
         * for. Taken and not passed on: nothing here trusts a client's word for it (sec 5
         * allows treating every value as <>). */
        if (!pm->val || pm->vallen > 3 * SMTP_ADDR_MAX)
            return fail(err, 501, "5.5.4", "Bad AUTH parameter syntax");
        if ((pm->vallen == 2 && memcmp(pm->val, "<>", 2) == 0) || xtext_valid(pm->val, pm->vallen))
            return true;
        return fail(err, 501, "5.5.4", "Bad AUTH parameter syntax");
    default:
        if (!pm->val || pm->vallen > SMTP_ENVID_MAX || !xtext_valid(pm->val, pm->vallen))
            return fail(err, 501, "5.5.4", "Bad ENVID parameter syntax");
        memcpy(m->envid, pm->val, pm->vallen);
        m->envid[pm->vallen] = 0;
        return true;
    }
}

/* "FROM:" / "TO:" then optional spaces (tolerated, as most servers do). */
static bool skip_prefix(const char **s, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncasecmp(*s, prefix, n) != 0)
        return false;
    *s += n;
    while (**s == ' ')
        (*s)++;
    return true;
}

static bool path_ok_ascii(const struct smtp_path *p, bool smtputf8, struct smtp_error *err)
{
    if (p->utf8 && !smtputf8)
        return fail(err, 553, "5.6.7", "Must declare SMTPUTF8 to send unicode address");
    return true;
}

bool smtp_parse_mail(const char *args, struct smtp_mail *m, struct smtp_error *err)
{
    memset(m, 0, sizeof *m);
    m->size = -1;
    const char *s = args;
    if (!skip_prefix(&s, "FROM:") || *s != '<')
        return fail(err, 501, "5.5.4", "Syntax: MAIL FROM:<address>");
    if (!smtp_parse_path(&s, &m->from, err))
        return fail(err, 501, "5.1.7", "Bad sender address syntax");
    if (!m->from.null && !m->from.domain[0])
        return fail(err, 501, "5.1.7", "Bad sender address syntax: domain required");
    if (*s != 0 && *s != ' ')
        return fail(err, 501, "5.5.4", "Syntax: MAIL FROM:<address> [parameters]");
    struct param pm;
    unsigned seen = 0;
    int r;
    while ((r = next_param(&s, &pm)) > 0)
        if (!mail_param(m, &pm, &seen, err))
            return false;
    if (r < 0)
        return fail(err, 501, "5.5.4", "Bad MAIL FROM parameter syntax");
    return path_ok_ascii(&m->from, m->smtputf8, err);
}

static bool parse_notify(const struct param *pm, unsigned *out)
{
    static const struct {
        const char *w;
        unsigned bit;
    } words[] = {{"NEVER", SMTP_NOTIFY_NEVER},
                 {"SUCCESS", SMTP_NOTIFY_SUCCESS},
                 {"FAILURE", SMTP_NOTIFY_FAILURE},
                 {"DELAY", SMTP_NOTIFY_DELAY}};
    if (!pm->val)
        return false;
    unsigned bits = 0;
    const char *p = pm->val, *end = pm->val + pm->vallen;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
        unsigned bit = 0;
        for (size_t i = 0; i < 4; i++)
            if (strlen(words[i].w) == n && strncasecmp(p, words[i].w, n) == 0)
                bit = words[i].bit;
        if (bit == 0 || (bits & bit))
            return false;
        bits |= bit;
        if (!comma)
            break;
        p = comma + 1;
        if (p == end)
            return false; /* trailing comma */
    }
    /* RFC 3461 sec 4.1: NEVER stands alone. */
    if ((bits & SMTP_NOTIFY_NEVER) && bits != SMTP_NOTIFY_NEVER)
        return false;
    *out = bits;
    return bits != 0;
}

/* ORCPT=addr-type ";" xtext (RFC 3461 sec 4.2); "utf-8" addresses (RFC 6533) are UTF-8
 * with \x{HEX} escapes, checked here only for UTF-8 validity. */
static bool parse_orcpt(const struct param *pm, char *out, size_t outsize)
{
    if (!pm->val || pm->vallen > SMTP_ORCPT_MAX || pm->vallen >= outsize)
        return false;
    const char *semi = memchr(pm->val, ';', pm->vallen);
    if (!semi || semi == pm->val)
        return false;
    for (const char *q = pm->val; q < semi; q++)
        if (!isalnum((unsigned char)*q) && *q != '-')
            return false;
    size_t typelen = (size_t)(semi - pm->val);
    const char *addr = semi + 1;
    size_t addrlen = pm->vallen - typelen - 1;
    if (addrlen == 0)
        return false;
    if (typelen == 5 && strncasecmp(pm->val, "utf-8", 5) == 0) {
        if (!utf8_valid(addr, addrlen))
            return false;
    } else if (!xtext_valid(addr, addrlen)) {
        return false;
    }
    memcpy(out, pm->val, pm->vallen);
    out[pm->vallen] = 0;
    return true;
}

static bool rcpt_param(struct smtp_rcpt *r, const struct param *pm, unsigned *seen,
                       struct smtp_error *err)
{
    if (key_is(pm, "NOTIFY")) {
        if (*seen & 1)
            return fail(err, 501, "5.5.4", "Duplicate NOTIFY parameter");
        *seen |= 1;
        if (!parse_notify(pm, &r->notify))
            return fail(err, 501, "5.5.4", "Bad NOTIFY parameter syntax");
        return true;
    }
    if (key_is(pm, "ORCPT")) {
        if (*seen & 2)
            return fail(err, 501, "5.5.4", "Duplicate ORCPT parameter");
        *seen |= 2;
        if (!parse_orcpt(pm, r->orcpt, sizeof r->orcpt))
            return fail(err, 501, "5.5.4", "Bad ORCPT parameter syntax");
        return true;
    }
    return fail(err, 555, "5.5.4", "Unsupported option in RCPT TO");
}

bool smtp_parse_rcpt(const char *args, bool smtputf8, struct smtp_rcpt *r, struct smtp_error *err)
{
    memset(r, 0, sizeof *r);
    const char *s = args;
    if (!skip_prefix(&s, "TO:") || *s != '<')
        return fail(err, 501, "5.5.4", "Syntax: RCPT TO:<address>");
    if (!smtp_parse_path(&s, &r->to, err))
        return fail(err, 501, "5.1.3", "Bad recipient address syntax");
    if (r->to.null)
        return fail(err, 501, "5.1.3", "Bad recipient address syntax");
    if (*s != 0 && *s != ' ')
        return fail(err, 501, "5.5.4", "Syntax: RCPT TO:<address> [parameters]");
    struct param pm;
    unsigned seen = 0;
    int rc;
    while ((rc = next_param(&s, &pm)) > 0)
        if (!rcpt_param(r, &pm, &seen, err))
            return false;
    if (rc < 0)
        return fail(err, 501, "5.5.4", "Bad RCPT TO parameter syntax");
    return path_ok_ascii(&r->to, smtputf8, err);
}

bool smtp_parse_bdat(const char *args, unsigned long long *size, bool *last)
{
    const char *p = args;
    if (!isdigit((unsigned char)*p))
        return false;
    unsigned long long v = 0;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *last = false;
    while (*p == ' ')
        p++;
    if (strncasecmp(p, "LAST", 4) == 0) {
        *last = true;
        p += 4;
        while (*p == ' ')
            p++;
    }
    if (*p != 0)
        return false;
    *size = v;
    return true;
}

bool smtp_helo_valid(const char *arg)
{
    /* RFC 5321 sec 4.5.3.1.2: a domain is at most 255 octets (an address literal is shorter). */
    if (*arg == 0 || strlen(arg) > 255)
        return false;
    for (const char *p = arg; *p; p++)
        if ((unsigned char)*p < 33 || (unsigned char)*p > 126)
            return false;
    return true;
}

const char *smtp_notify_text(unsigned n, char *out, size_t outsize)
{
    if (n & SMTP_NOTIFY_NEVER) {
        snprintf(out, outsize, "NEVER");
        return out;
    }
    snprintf(out, outsize, "%s%s%s%s%s", n & SMTP_NOTIFY_SUCCESS ? "SUCCESS" : "",
             (n & SMTP_NOTIFY_SUCCESS) && (n & (SMTP_NOTIFY_DELAY | SMTP_NOTIFY_FAILURE)) ? "," : "",
             n & SMTP_NOTIFY_DELAY ? "DELAY" : "",
             (n & SMTP_NOTIFY_DELAY) && (n & SMTP_NOTIFY_FAILURE) ? "," : "",
             n & SMTP_NOTIFY_FAILURE ? "FAILURE" : "");
    return out;
}

bool smtp_orcpt_valid(const char *orcpt)
{
    size_t n = strlen(orcpt);
    const char *semi = strchr(orcpt, ';');
    if (!semi || semi == orcpt || n > SMTP_ORCPT_MAX)
        return false;
    for (const char *p = orcpt; p < semi; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-'))
            return false;
    return xtext_valid(semi + 1, strlen(semi + 1));
}
