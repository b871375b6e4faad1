/* msgid.c - message identifiers for THREAD=REFERENCES (see msgid.h). */
#include "msgid.h"
#include <string.h>

/* Past the comment that starts at s[i] ('('), nested comments and quoted pairs included. */
static size_t skip_comment(const char *s, size_t len, size_t i)
{
    unsigned depth = 0;
    for (; i < len; i++) {
        if (s[i] == '\\' && i + 1 < len)
            i++;
        else if (s[i] == '(')
            depth++;
        else if (s[i] == ')' && --depth == 0)
            return i + 1;
    }
    return len;
}

/* Past a quoted string that starts at s[i] ('"'). */
static size_t skip_quoted(const char *s, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (s[i] == '\\' && i + 1 < len)
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return len;
}

static bool valid(const struct buf *id)
{
    const char *at = id->len ? memchr(id->data, '@', id->len) : NULL;
    return at && at > id->data && at < id->data + id->len - 1;
}

bool mail_msgid_next(const char *s, size_t len, size_t *pos, struct buf *id)
{
    size_t i = *pos;
    while (i < len) {
        if (s[i] == '(') {
            i = skip_comment(s, len, i);
            continue;
        }
        if (s[i] == '"') {
            i = skip_quoted(s, len, i);
            continue;
        }
        if (s[i++] != '<')
            continue;
        buf_reset(id);
        while (i < len && s[i] != '>' && s[i] != '<') {
            if (s[i] == '(') {
                i = skip_comment(s, len, i);
                continue;
            }
            if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
                buf_putc(id, s[i]);
            i++;
        }
        if (i < len && s[i] == '>' && valid(id)) {
            *pos = i + 1;
            buf_cstr(id);
            return true;
        }
    }
    *pos = len;
    return false;
}
