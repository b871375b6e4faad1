/* smtp_ehlo.c - the extensions a server announces in its EHLO reply (see smtp_ehlo.h). */
#include "smtp_ehlo.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    unsigned bit;
} keywords[] = {
    {"PIPELINING", SMTP_EXT_PIPELINING}, {"SIZE", SMTP_EXT_SIZE},
    {"8BITMIME", SMTP_EXT_8BITMIME},     {"SMTPUTF8", SMTP_EXT_SMTPUTF8},
    {"DSN", SMTP_EXT_DSN},               {"STARTTLS", SMTP_EXT_STARTTLS},
    {"AUTH", SMTP_EXT_AUTH},             {"CHUNKING", SMTP_EXT_CHUNKING},
    {"ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCEDSTATUSCODES},
};

static void copy_word(const char *s, size_t len, char *out, size_t outsize)
{
    size_t n = 0;
    while (n < len && s[n] != ' ' && s[n] != '\t' && n + 1 < outsize)
        n++;
    memcpy(out, s, n);
    out[n] = 0;
}

void smtp_reply_host(const struct smtp_reply *r, char *out, size_t outsize)
{
    const char *nl = memchr(r->text, '\n', r->text_len);
    copy_word(r->text, nl ? (size_t)(nl - r->text) : r->text_len, out, outsize);
}

/* SIZE's parameter: decimal, no sign; anything else (or an overflow) means "no limit
 * given" (RFC 1870 sec 4: the parameter is optional). */
static unsigned long long parse_size(const char *p, size_t len)
{
    unsigned long long v = 0;
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (i == len)
        return 0;
    for (; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
        if (v > (~0ULL - 9) / 10)
            return 0;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    return i == len ? v : 0;
}

/* AUTH's mechanisms, appended space-separated (servers that announce both "AUTH" and the
 * old "AUTH=" form list the same mechanisms twice: harmless). */
static void add_auth(struct smtp_ehlo *e, const char *p, size_t len)
{
    size_t have = strlen(e->auth);
    while (len > 0 && (*p == ' ' || *p == '\t'))
        p++, len--;
    if (len == 0 || have + 1 + len + 1 > sizeof e->auth)
        return;
    if (have)
        e->auth[have++] = ' ';
    memcpy(e->auth + have, p, len);
    e->auth[have + len] = 0;
}

static void keyword_line(struct smtp_ehlo *e, const char *line, size_t len)
{
    size_t k = 0;
    while (k < len && line[k] != ' ' && line[k] != '\t' && line[k] != '=')
        k++;
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++) {
        if (strlen(keywords[i].name) != k || strncasecmp(line, keywords[i].name, k) != 0)
            continue;
        if (line[k] == '=' && keywords[i].bit != SMTP_EXT_AUTH)
            return; /* "X=Y" is only the old AUTH form */
        e->ext |= keywords[i].bit;
        if (keywords[i].bit == SMTP_EXT_SIZE)
            e->size = parse_size(line + k, len - k);
        else if (keywords[i].bit == SMTP_EXT_AUTH && k < len)
            add_auth(e, line + k + 1, len - k - 1);
        return;
    }
}

void smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ehlo *out)
{
    memset(out, 0, sizeof *out);
    smtp_reply_host(r, out->host, sizeof out->host);
    const char *p = memchr(r->text, '\n', r->text_len), *end = r->text + r->text_len;
    while (p && p < end) {
        p++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        keyword_line(out, p, len);
        p = nl;
    }
}
