/* zone.c - zone-file records (see zone.h). */
#include "zone.h"
#include "cli.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

/* The length of the next string of value: at most ZONE_STRING_MAX bytes of data. */
static size_t piece(const char *value)
{
    size_t len = strlen(value);
    return len < ZONE_STRING_MAX ? len : ZONE_STRING_MAX;
}

static void put_string(struct buf *out, const char *s, size_t len)
{
    buf_putc(out, '"');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\')
            buf_putc(out, '\\');
        buf_putc(out, s[i]);
    }
    buf_putc(out, '"');
}

void zone_txt(struct buf *out, const char *prefix, const char *name, const char *value)
{
    size_t first = piece(value);
    buf_printf(out, "%s%s. IN TXT ", prefix, name);
    if (first == strlen(value)) {
        put_string(out, value, first);
        buf_putc(out, '\n');
        return;
    }
    buf_puts(out, "( ");
    for (const char *p = value; *p;) {
        size_t n = piece(p);
        if (p != value)
            buf_printf(out, "%s\t", prefix);
        put_string(out, p, n);
        p += n;
        buf_puts(out, *p ? "\n" : " )\n");
    }
}

void zone_record(struct buf *out, const char *prefix, const char *name, const char *type,
                 const char *data)
{
    buf_printf(out, "%s%s. IN %s %s\n", prefix, name, type, data);
}

void zone_txt_json(FILE *out, const char *value)
{
    fputc('[', out);
    for (const char *p = value; *p;) {
        size_t n = piece(p);
        char *s = xstrndup(p, n);
        if (p != value)
            fputs(", ", out);
        json_string(out, s);
        free(s);
        p += n;
    }
    fputc(']', out);
}
