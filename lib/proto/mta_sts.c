/* mta_sts.c - MTA-STS record and policy parsing, MX matching (see mta_sts.h). */
#include "mta_sts.h"
#include "mem.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WSP(c) ((c) == ' ' || (c) == '\t')

const char *mta_sts_mode_name(enum mta_sts_mode m)
{
    switch (m) {
    case MTA_STS_ENFORCE: return "enforce";
    case MTA_STS_TESTING: return "testing";
    case MTA_STS_NONE: break;
    }
    return "none";
}

static bool is_alnum(unsigned char c) { return isascii(c) && isalnum(c); }

/* sts-ext-name / sts-policy-ext-name: (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".") */
static bool ext_name(const char *s, size_t n)
{
    if (n == 0 || n > 32 || !is_alnum((unsigned char)s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_alnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
            return false;
    return true;
}

/* --- the TXT record (sec 3.1) --- */

/* sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E): no space, ';' or '='. */
static bool txt_value_char(unsigned char c) { return c >= 0x21 && c <= 0x7e && c != ';' && c != '='; }

int mta_sts_txt_parse(const char *txt, size_t len, char id[MTA_STS_ID_MAX + 1], const char **err)
{
    static const char version[] = "v=STSv1";
    size_t vl = sizeof version - 1, i = vl;
    if (len < vl || memcmp(txt, version, vl) != 0 || (len > vl && !WSP(txt[vl]) && txt[vl] != ';'))
        return 0;
    id[0] = 0;
    bool fields = false;
    while (i < len) {
        while (i < len && WSP(txt[i]))
            i++;
        if (i == len || txt[i] != ';') {
            *err = "fields must be separated by \";\"";
            return -1;
        }
        i++;
        while (i < len && WSP(txt[i]))
            i++;
        if (i == len)
            break; /* a final delimiter */
        size_t name = i;
        while (i < len && txt[i] != '=' && txt[i] != ';' && !WSP(txt[i]))
            i++;
        if (i == len || txt[i] != '=' || !ext_name(txt + name, i - name)) {
            *err = "a field is not name=value";
            return -1;
        }
        size_t nlen = i - name, value = ++i;
        while (i < len && txt_value_char((unsigned char)txt[i]))
            i++;
        size_t vlen = i - value;
        if (vlen == 0) {
            *err = "a field has an empty value";
            return -1;
        }
        fields = true;
        if (nlen == 2 && memcmp(txt + name, "id", 2) == 0 && !id[0]) { /* the first one counts */
            for (size_t k = 0; k < vlen; k++)
                if (!is_alnum((unsigned char)txt[value + k]))
                    vlen = 0;
            if (vlen == 0 || vlen > MTA_STS_ID_MAX) {
                *err = "the id is not 1 to 32 letters and digits";
                return -1;
            }
            memcpy(id, txt + value, vlen);
            id[vlen] = 0;
        }
    }
    if (!fields || !id[0]) {
        *err = "the record has no id";
        return -1;
    }
    return 1;
}

int mta_sts_txt_select(const char *const *txts, const size_t *lens, size_t n,
                       char id[MTA_STS_ID_MAX + 1], const char **err)
{
    size_t found = 0;
    int result = 0;
    char one[MTA_STS_ID_MAX + 1];
    for (size_t i = 0; i < n; i++) {
        const char *e = NULL;
        int r = mta_sts_txt_parse(txts[i], lens[i], one, &e);
        if (r == 0)
            continue;
        if (++found > 1) {
            *err = "more than one \"v=STSv1\" record";
            return -1;
        }
        result = r;
        if (r < 0)
            *err = e;
        else
            memcpy(id, one, sizeof one);
    }
    return result;
}

/* --- the policy (sec 3.2) --- */

void mta_sts_policy_free(struct mta_sts_policy *p)
{
    for (size_t i = 0; i < p->nmx; i++)
        free(p->mx[i]);
    free(p->mx);
    memset(p, 0, sizeof *p);
}

/* RFC 5321 Domain: labels of letters, digits and inner hyphens, 1-63 bytes, 253 in all. */
static bool domain_ok(const char *s, size_t n)
{
    if (n == 0 || n > 253)
        return false;
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        unsigned char c = (unsigned char)s[i];
        if (!is_alnum(c) && !(c == '-' && label > 0))
            return false;
        label++;
    }
    return true;
}

/* sts-policy-vchar: VCHAR or a byte of UTF-8; inner spaces (values of extensions). */
static bool value_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || (c == ' ' && (i == 0 || i == n - 1)))
            return false;
    }
    return n > 0;
}

struct seen {
    bool version, mode, max_age;
};

static char *line_error(size_t line, const char *what)
{
    return xasprintf("policy line %zu: %s", line, what);
}

static int add_mx(struct mta_sts_policy *p, const char *v, size_t n, size_t line, char **err)
{
    bool wild = n > 2 && v[0] == '*' && v[1] == '.';
    if (!domain_ok(v + (wild ? 2 : 0), n - (wild ? 2 : 0))) {
        *err = line_error(line, "mx is not a host name or \"*.\" and a domain");
        return -1;
    }
    if (p->nmx >= MTA_STS_MX_MAX) {
        *err = line_error(line, "too many mx patterns");
        return -1;
    }
    char *pat = xstrndup(v, n);
    for (char *q = pat; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    p->mx = xreallocarray(p->mx, p->nmx + 1, sizeof *p->mx);
    p->mx[p->nmx++] = pat;
    return 0;
}

static bool is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* One "key: value" field; unknown keys are extensions and ignored (sec 3.2). The first of
 * a repeated field counts, except mx, which may repeat. */
static int field(struct mta_sts_policy *p, struct seen *seen, const char *k, size_t kn,
                 const char *v, size_t vn, size_t line, char **err)
{
    if (is(k, kn, "mx"))
        return add_mx(p, v, vn, line, err);
    if (is(k, kn, "version")) {
        if (!seen->version && !is(v, vn, "STSv1")) {
            *err = line_error(line, "version is not STSv1");
            return -1;
        }
        seen->version = true;
    } else if (is(k, kn, "mode")) {
        enum mta_sts_mode m = is(v, vn, "enforce") ? MTA_STS_ENFORCE
                            : is(v, vn, "testing") ? MTA_STS_TESTING : MTA_STS_NONE;
        if (m == MTA_STS_NONE && !is(v, vn, "none")) {
            *err = line_error(line, "mode is not enforce, testing or none");
            return -1;
        }
        if (!seen->mode)
            p->mode = m;
        seen->mode = true;
    } else if (is(k, kn, "max_age")) {
        char digits[11];
        if (vn == 0 || vn > 10 || (memcpy(digits, v, vn), digits[vn] = 0,
                                   strspn(digits, "0123456789") < vn)) {
            *err = line_error(line, "max_age is not a number of at most 10 digits");
            return -1;
        }
        long age = strtol(digits, NULL, 10);
        if (!seen->max_age) /* sec 3.2: at most 31557600; more is kept at that */
            p->max_age = age > MTA_STS_MAX_AGE_MAX ? MTA_STS_MAX_AGE_MAX : age;
        seen->max_age = true;
    }
    return 0;
}

static int parse_line(struct mta_sts_policy *p, struct seen *seen, const char *s, size_t n,
                      size_t line, char **err)
{
    const char *colon = memchr(s, ':', n);
    if (!colon || !ext_name(s, (size_t)(colon - s))) {
        *err = line_error(line, "not \"key: value\"");
        return -1;
    }
    const char *v = colon + 1, *end = s + n;
    while (v < end && WSP(*v))
        v++;
    while (end > v && WSP(end[-1]))
        end--;
    if (!value_ok(v, (size_t)(end - v))) {
        *err = line_error(line, "empty or invalid value");
        return -1;
    }
    return field(p, seen, s, (size_t)(colon - s), v, (size_t)(end - v), line, err);
}

/* The end of the fields: trailing empty lines are tolerated, nothing else after them. */
static size_t content_end(const char *text, size_t len)
{
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    return len;
}

int mta_sts_policy_parse(const char *text, size_t len, struct mta_sts_policy *p, char **err)
{
    struct seen seen = {0};
    memset(p, 0, sizeof *p);
    size_t end = content_end(text, len), line = 0;
    int rc = 0;
    if (len > MTA_STS_POLICY_MAX) {
        *err = xasprintf("policy larger than %d bytes", MTA_STS_POLICY_MAX);
        return -1;
    }
    for (size_t i = 0; i < end && rc == 0;) {
        const char *nl = memchr(text + i, '\n', end - i);
        size_t stop = nl ? (size_t)(nl - text) : end, n = stop - i;
        if (n > 0 && text[i + n - 1] == '\r') /* sts-policy-term: LF or CRLF */
            n--;
        line++;
        if (memchr(text + i, '\r', n) || memchr(text + i, 0, n))
            rc = -1, *err = line_error(line, "stray CR or NUL");
        else
            rc = parse_line(p, &seen, text + i, n, line, err);
        i = stop + 1;
    }
    if (rc == 0 && (!seen.version || !seen.mode || !seen.max_age)) {
        *err = xasprintf("policy without %s", !seen.version ? "version" : !seen.mode ? "mode" : "max_age");
        rc = -1;
    }
    if (rc == 0 && p->nmx == 0 && p->mode != MTA_STS_NONE) {
        *err = xstrdup("policy without mx patterns");
        rc = -1;
    }
    if (rc < 0)
        mta_sts_policy_free(p);
    return rc;
}

/* --- MX matching (sec 4.1) --- */

bool mta_sts_pattern_match(const char *pattern, const char *host)
{
    size_t hn = strlen(host);
    if (hn > 0 && host[hn - 1] == '.')
        hn--;
    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *dot = memchr(host, '.', hn);
        if (!dot || dot == host) /* "*." needs one non-empty leftmost label */
            return false;
        size_t rest = hn - (size_t)(dot + 1 - host);
        return strlen(pattern + 2) == rest && strncasecmp(dot + 1, pattern + 2, rest) == 0;
    }
    return strlen(pattern) == hn && strncasecmp(host, pattern, hn) == 0;
}

bool mta_sts_mx_match(const struct mta_sts_policy *p, const char *host)
{
    for (size_t i = 0; i < p->nmx; i++)
        if (mta_sts_pattern_match(p->mx[i], host))
            return true;
    return false;
}
