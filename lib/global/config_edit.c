/* config_edit.c - `posthorn conf set` / `-e`: rewrite one parameter in main.cf, keeping
 * comments (a line setting one of its old names is rewritten to the new name); `conf -#`:
 * comment a parameter out. */
#include "config.h"
#include "buf.h"
#include "fileio.h"
#include "mem.h"
#include <ctype.h>
#include <errno.h>
#include <string.h>

/* Does this line start a definition of name? */
static bool defines(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    if (len < n || strncmp(line, name, n) != 0)
        return false;
    const char *p = line + n;
    while (p < line + len && (*p == ' ' || *p == '\t'))
        p++;
    return p < line + len && *p == '=';
}

/* Does this line define name or one of its old names (param_aliases)? */
static bool defines_param(const char *line, size_t len, const char *name)
{
    if (defines(line, len, name))
        return true;
    for (size_t i = 0; i < param_aliases_len; i++)
        if (strcmp(param_aliases[i].new_name, name) == 0 &&
            defines(line, len, param_aliases[i].old_name))
            return true;
    return false;
}

/* Rewrite file with name's definition replaced by "name = value", or (value NULL) commented
 * out. */
static char *rewrite(const char *file, const char *name, const char *value)
{
    struct buf in = BUF_INIT, out = BUF_INIT;
    if (read_file(file, 16 * 1024 * 1024, &in) < 0 && errno != ENOENT) {
        char *err = xasprintf("%s: %s", file, strerror(errno));
        buf_free(&in);
        return err;
    }
    bool replaced = false, skipping = false;
    const char *p = in.data ? in.data : "";
    const char *end = p + in.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        bool cont = len > 0 && (p[0] == ' ' || p[0] == '\t');
        if (skipping && cont) {
            if (!value) { /* commented out with the line they continue */
                buf_putc(&out, '#');
                buf_append(&out, p, len);
                buf_putc(&out, '\n');
            } /* else dropped with the value being replaced */
        } else if (defines_param(p, len, name)) {
            skipping = true;
            if (!value) {
                buf_putc(&out, '#');
                buf_append(&out, p, len);
                buf_putc(&out, '\n');
            } else if (!replaced)
                buf_printf(&out, "%s = %s\n", name, value);
            replaced = true;
        } else {
            skipping = false;
            buf_append(&out, p, len);
            buf_putc(&out, '\n');
        }
        p += len + (nl ? 1 : 0);
    }
    if (!replaced && !value) { /* nothing to comment out: leave the file alone */
        buf_free(&in);
        buf_free(&out);
        return NULL;
    }
    if (!replaced)
        buf_printf(&out, "%s = %s\n", name, value);
    char *err = NULL;
    if (write_file_atomic(file, out.data, out.len, 0644) < 0)
        err = xasprintf("%s: cannot write: %s", file, strerror(errno));
    buf_free(&in);
    buf_free(&out);
    return err;
}

char *config_edit_file(const char *file, const char *name, const char *value)
{
    if (strchr(value, '\n') || strchr(name, '\n'))
        return xstrdup("a value may not contain a newline");
    return rewrite(file, name, value);
}

char *config_comment_out(const char *file, const char *name)
{
    return rewrite(file, name, NULL);
}
