/* fuzz_mastercf.c - libFuzzer target: master.cf parsing. Every row of an accepted master.cf
 * must have valid fields (checked here on their own, not with the parser's helpers), and the
 * table must print and re-parse to the same rows. */
#include "buf.h"
#include "fuzz_common.h"
#include "mastercf.h"
#include <ctype.h>
#include <stdbool.h>

static bool word(const char *s)
{
    return s && *s && !strpbrk(s, " \t\r\n");
}

static bool name_chars(const char *s)
{
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("-_.", *s))
            return false;
    return true;
}

static void check_inet(const char *service)
{
    char *host, *port;
    if (mastercf_inet_split(service, &host, &port) != 0)
        abort();
    if (!*port || strchr(port, ':') || strchr(port, ']'))
        abort();
    char *end;
    long n = strtol(port, &end, 10);
    if (*end == 0 && (n < 1 || n > 65535))
        abort();
    free(host), free(port);
}

static void check_entry(const struct mastercf *m, size_t i)
{
    const struct mastercf_entry *e = &m->v[i];
    if (!word(e->service) || !word(e->command) || !word(e->where))
        abort();
    bool inet = !strcmp(e->type, "inet");
    if (!inet && strcmp(e->type, "unix") != 0)
        abort();
    if (inet)
        check_inet(e->service);
    else if (strlen(e->service) > 64 || !name_chars(e->service))
        abort();
    if (!name_chars(e->command) || !strcmp(e->command, ".") || !strcmp(e->command, ".."))
        abort();
    if (e->maxproc < 0 || e->maxproc > 100000 || e->args[e->nargs] != NULL)
        abort();
    for (size_t a = 0; a < e->nargs; a++) {
        if (!word(e->args[a]))
            abort();
        if (!strcmp(e->args[a], "-o")) {
            if (a + 1 >= e->nargs || !strchr(e->args[a + 1], '=') || e->args[a + 1][0] == '=')
                abort();
            a++;
        }
    }
    for (size_t j = 0; j < i; j++)
        if (!strcmp(m->v[j].service, e->service) && !strcmp(m->v[j].type, e->type))
            abort();
}

static void print_entry(const struct mastercf_entry *e, struct buf *out)
{
    buf_printf(out, "%s %s %s - n - ", e->service, e->type, e->private_ ? "y" : "n");
    if (e->maxproc)
        buf_printf(out, "%d", e->maxproc);
    else
        buf_puts(out, "-");
    buf_printf(out, " %s", e->command);
    for (size_t a = 0; a < e->nargs; a++)
        /* some on continuation lines (a word there may not start a comment) */
        buf_printf(out, "%s%s", a % 2 && e->args[a][0] != '#' ? "\n  " : " ", e->args[a]);
    buf_putc(out, '\n');
}

static void check_reprint(const struct mastercf *m)
{
    struct buf text = BUF_INIT;
    for (size_t i = 0; i < m->n; i++)
        print_entry(&m->v[i], &text);
    const char *path = fuzz_file("master2.cf", (const uint8_t *)(text.data ? text.data : ""),
                                 text.len);
    struct errlist errs = {0};
    struct mastercf again;
    if (mastercf_load(path, &again, &errs) != 0 || again.n != m->n)
        abort();
    for (size_t i = 0; i < m->n; i++) {
        const struct mastercf_entry *a = &m->v[i], *b = &again.v[i];
        if (strcmp(a->service, b->service) || strcmp(a->type, b->type) ||
            a->private_ != b->private_ || a->maxproc != b->maxproc ||
            strcmp(a->command, b->command) || a->nargs != b->nargs)
            abort();
        for (size_t k = 0; k < a->nargs; k++)
            if (strcmp(a->args[k], b->args[k]) != 0)
                abort();
    }
    mastercf_free(&again);
    errlist_free(&errs);
    buf_free(&text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("master.cf", data, size);
    struct errlist errs = {0};
    struct mastercf m;
    int rc = mastercf_load(path, &m, &errs);
    for (size_t i = 0; i < m.n; i++)
        check_entry(&m, i);
    if (rc == 0)
        check_reprint(&m);
    mastercf_free(&m);
    errlist_free(&errs);
    return 0;
}
