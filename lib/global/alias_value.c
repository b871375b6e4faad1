/* alias_value.c - aliases(5) values and keys (see alias_value.h).
 *
 * Scanning: a target starts at the first character that is not a separator (',' or white
 * space). "<...>" runs to its '>'; a quoted string followed by a separator (or the end) is
 * the whole target, unquoted before it is classified; a command ('|' first) runs to the
 * next comma outside double quotes; anything else runs to the next separator outside
 * double quotes (so "a b"@example.com is one address). */
#include "alias_value.h"
#include "address.h"
#include "buf.h"
#include "idn.h"
#include "mem.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_sep(char c) { return c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

const char *alias_kind_name(enum alias_kind kind)
{
    static const char *const names[] = {"address", "mailbox", "command", "file", "include"};
    return names[kind];
}

bool alias_address_valid(const char *addr)
{
    size_t len = strlen(addr);
    const char *at = strrchr(addr, '@');
    if (len == 0 || len > ALIAS_ADDRESS_MAX)
        return false;
    if (!at)
        return address_local_is_valid(addr, len);
    if (!address_local_is_valid(addr, (size_t)(at - addr)))
        return false;
    char *dom = idn_domain_ascii(at + 1);
    bool ok = dom && idn_ldh_name(dom, 253);
    free(dom);
    return ok;
}

const char *alias_key_check(const char *key, size_t len)
{
    if (len == 0)
        return "empty name";
    char *k = xstrndup(key, len);
    const char *why = NULL;
    if (k[0] == '@') {
        char *dom = idn_domain_ascii(k + 1);
        if (!dom || !idn_ldh_name(dom, 253))
            why = "\"@domain\" without a valid domain";
        free(dom);
    } else if (!alias_address_valid(k)) {
        why = "not an address, a local part or \"@domain\"";
    }
    free(k);
    return why;
}

/* The end of the quoted string that starts at p ('"'), just past its closing quote, or
 * NULL when it is not closed. */
static const char *quoted_end(const char *p)
{
    for (p++; *p; p++) {
        if (*p == '\\' && p[1])
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* The end of the target starting at p: *err on an unterminated quote or bracket. */
static const char *target_end(const char *p, char **err)
{
    if (*p == '<') {
        const char *gt = strchr(p, '>');
        if (!gt)
            *err = xstrdup("'<' without '>'");
        return gt ? gt + 1 : NULL;
    }
    if (*p == '"') {
        const char *q = quoted_end(p);
        if (q && (!*q || is_sep(*q)))
            return q; /* one quoted string: the whole target */
    }
    bool command = *p == '|';
    while (*p && !(command ? *p == ',' : is_sep(*p))) {
        if (*p == '"') {
            const char *q = quoted_end(p);
            if (!q) {
                *err = xstrdup("unterminated quoted string");
                return NULL;
            }
            p = q;
        } else {
            p++;
        }
    }
    return p;
}

/* The content of the quoted string s[0..len) (quotes at both ends), pairs unescaped. */
static char *unquote(const char *s, size_t len)
{
    struct buf b = BUF_INIT;
    for (size_t i = 1; i + 1 < len; i++) {
        if (s[i] == '\\' && i + 2 < len)
            i++;
        buf_putc(&b, s[i]);
    }
    return buf_steal(&b);
}

static int bad(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(char **err, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    *err = buf_steal(&b);
    return -1;
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < ' ' || *s == 0x7f)
            return true;
    return false;
}

/* Classify one target (quotes and brackets already removed) into t. */
static int classify(char *text, bool bracketed, struct alias_target *t, char **err)
{
    t->text = NULL;
    if (has_control(text))
        return bad(err, "control character in a target");
    if (!bracketed && text[0] == '|') {
        t->kind = ALIAS_COMMAND;
        size_t len = strlen(text);
        while (len > 1 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
            len--;
        if (len == 1)
            return bad(err, "empty command");
        t->text = xstrndup(text + 1, len - 1);
        return 0;
    }
    if (!bracketed && text[0] == '/') {
        if (text[strlen(text) - 1] == '/')
            return bad(err, "\"%s\": a directory (Maildir) is not a file target", text);
        t->kind = ALIAS_FILE;
        t->text = xstrdup(text);
        return 0;
    }
    if (!bracketed && strncasecmp(text, ":include:", 9) == 0) {
        if (text[9] != '/' || text[strlen(text) - 1] == '/')
            return bad(err, "\"%s\": an include file needs an absolute path", text);
        t->kind = ALIAS_INCLUDE;
        t->text = xstrdup(text + 9);
        return 0;
    }
    t->kind = ALIAS_ADDRESS;
    if (!bracketed && text[0] == '\\') {
        t->kind = ALIAS_MAILBOX;
        text++;
    }
    if (!alias_address_valid(text))
        return bad(err, "\"%s\" is not a valid address", text);
    t->text = xstrdup(text);
    return 0;
}

static int parse_target(const char *start, const char *end, struct alias_list *list, char **err)
{
    size_t len = (size_t)(end - start);
    bool bracketed = start[0] == '<';
    char *text;
    if (bracketed)
        text = xstrndup(start + 1, len - 2);
    else if (start[0] == '"' && quoted_end(start) == end)
        text = unquote(start, len); /* wholly quoted: one target, whatever it holds */
    else
        text = xstrndup(start, len);
    struct alias_target t;
    int rc = classify(text, bracketed, &t, err);
    free(text);
    if (rc < 0)
        return -1;
    list->v = xreallocarray(list->v, list->n + 1, sizeof *list->v);
    list->v[list->n++] = t;
    return 0;
}

int alias_value_parse(const char *value, struct alias_list *list, char **err)
{
    *err = NULL;
    const char *p = value;
    for (;;) {
        while (is_sep(*p))
            p++;
        if (!*p)
            return 0;
        const char *end = target_end(p, err);
        if (!end)
            return -1;
        if (*end && !is_sep(*end))
            return bad(err, "\"%.*s\": text after '>'", (int)(end - p) + 1, p);
        if (parse_target(p, end, list, err) < 0)
            return -1;
        p = end;
    }
}

void alias_list_free(struct alias_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->v[i].text);
    free(list->v);
    list->v = NULL;
    list->n = 0;
}
