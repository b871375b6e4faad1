/* mastercf.c - master.cf parser (see mastercf.h). */
#include "mastercf.h"
#include "buf.h"
#include "mem.h"
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MASTERCF_FIELDS 8

static char **split_words(char *s, size_t *n)
{
    char **w = NULL;
    *n = 0;
    /* CR is white space too: only a trailing one is stripped as a line end, and one left
     * inside a line must not become part of a field (an argument, an -o value). */
    for (char *tok = strtok(s, " \t\r"); tok; tok = strtok(NULL, " \t\r")) {
        w = xreallocarray(w, *n + 2, sizeof *w);
        w[(*n)++] = tok;
        w[*n] = NULL;
    }
    return w;
}

static int yes_no(const char *v, bool dflt, bool *out)
{
    if (strcmp(v, "-") == 0)
        *out = dflt;
    else if (strcmp(v, "y") == 0)
        *out = true;
    else if (strcmp(v, "n") == 0)
        *out = false;
    else
        return -1;
    return 0;
}

int mastercf_inet_split(const char *service, char **host, char **port)
{
    const char *colon;
    if (service[0] == '[') {
        const char *close = strchr(service, ']');
        if (!close || close[1] != ':' || close[2] == 0)
            return -1;
        *host = xstrndup(service + 1, (size_t)(close - service - 1));
        *port = xstrdup(close + 2);
        return 0;
    }
    colon = strrchr(service, ':');
    if (colon) {
        if (colon[1] == 0 || strchr(service, ':') != colon)
            return -1;
        *host = xstrndup(service, (size_t)(colon - service));
        *port = xstrdup(colon + 1);
    } else {
        *host = xstrdup("");
        *port = xstrdup(service);
    }
    return 0;
}

static bool valid_unix_name(const char *s)
{
    if (!*s || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return false;
    return true;
}

static bool valid_port(const char *s)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (*s && *end == 0)
        return n >= 1 && n <= 65535;
    return getservbyname(s, "tcp") != NULL;
}

static bool valid_program(const char *s)
{
    if (!*s || strchr(s, '/') || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return false;
    return true;
}

/* Validate the -o options among args; returns false after reporting. */
static bool check_args(char **args, size_t nargs, const char *where, struct errlist *errs)
{
    for (size_t i = 0; i < nargs; i++) {
        if (strcmp(args[i], "-o") == 0) {
            if (i + 1 >= nargs || !strchr(args[i + 1], '=') || args[i + 1][0] == '=') {
                errlist_add(errs, "%s: -o needs a name=value word after it", where);
                return false;
            }
            i++;
        }
    }
    return true;
}

static void parse_entry(struct mastercf *m, char *line, const char *path, int lineno,
                        struct errlist *errs)
{
    size_t n;
    char **w = split_words(line, &n);
    char where[600];
    snprintf(where, sizeof where, "%s:%d", path, lineno);
    struct mastercf_entry e = {0};
    bool priv = true, unpriv = true, chroot_ = false;
    if (n < MASTERCF_FIELDS) {
        errlist_add(errs, "%s: expected 8 fields (service type private unpriv chroot wakeup maxproc command), found %zu", where, n);
        goto out;
    }
    if (strcmp(w[1], "inet") != 0 && strcmp(w[1], "unix") != 0) {
        errlist_add(errs, "%s: unknown service type \"%s\" (inet or unix)", where, w[1]);
        goto out;
    }
    if (yes_no(w[2], true, &priv) < 0 || yes_no(w[3], true, &unpriv) < 0 ||
        yes_no(w[4], false, &chroot_) < 0) {
        errlist_add(errs, "%s: private, unpriv and chroot must be y, n or -", where);
        goto out;
    }
    if (chroot_) {
        errlist_add(errs, "%s: chroot y is not supported; use n", where);
        goto out;
    }
    if (!unpriv) {
        errlist_add(errs, "%s: unpriv n is not supported: every service drops privileges", where);
        goto out;
    }
    if (strcmp(w[5], "-") != 0 && strcmp(w[5], "0") != 0) {
        errlist_add(errs, "%s: wakeup must be - or 0", where);
        goto out;
    }
    if (strcmp(w[6], "-") == 0) {
        e.maxproc = 0;
    } else {
        char *end;
        long mp = strtol(w[6], &end, 10);
        if (*end || mp < 1 || mp > 100000) {
            errlist_add(errs, "%s: maxproc \"%s\" must be - or a number from 1 to 100000", where, w[6]);
            goto out;
        }
        e.maxproc = (int)mp;
    }
    if (!valid_program(w[7])) {
        errlist_add(errs, "%s: bad command name \"%s\" (a program in daemon_directory)", where, w[7]);
        goto out;
    }
    if (strcmp(w[1], "inet") == 0) {
        char *host, *port;
        if (mastercf_inet_split(w[0], &host, &port) < 0) {
            errlist_add(errs, "%s: bad inet service \"%s\" (use [host:]port)", where, w[0]);
            goto out;
        }
        bool port_ok = valid_port(port);
        if (!port_ok)
            errlist_add(errs, "%s: bad port \"%s\" (1-65535 or a service name)", where, port);
        free(host);
        free(port);
        if (!port_ok)
            goto out;
    } else if (!valid_unix_name(w[0])) {
        errlist_add(errs, "%s: bad unix service name \"%s\"", where, w[0]);
        goto out;
    }
    if (!check_args(w + 8, n - 8, where, errs))
        goto out;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->v[i].service, w[0]) == 0 && strcmp(m->v[i].type, w[1]) == 0) {
            errlist_add(errs, "%s: duplicate service \"%s\" (first at %s)", where, w[0], m->v[i].where);
            goto out;
        }
    e.service = xstrdup(w[0]);
    e.type = xstrdup(w[1]);
    e.private_ = priv;
    e.command = xstrdup(w[7]);
    e.nargs = n - 8;
    e.args = xcalloc(e.nargs + 1, sizeof *e.args);
    for (size_t i = 0; i < e.nargs; i++)
        e.args[i] = xstrdup(w[8 + i]);
    e.where = xstrdup(where);
    for (int i = 0; i < 5; i++)
        e.columns[i] = xstrdup(w[2 + i]);
    m->v = xreallocarray(m->v, m->n + 1, sizeof *m->v);
    m->v[m->n++] = e;
out:
    free(w);
}

int mastercf_load(const char *path, struct mastercf *m, struct errlist *errs)
{
    memset(m, 0, sizeof *m);
    size_t errors_before = errlist_errors(errs);
    FILE *f = fopen(path, "re");
    if (!f) {
        errlist_add(errs, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct buf entry = BUF_INIT;
    int entry_line = 0, lineno = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        char *t = line;
        while (*t == ' ' || *t == '\t')
            t++;
        if (*t == '#' || *t == 0)
            continue;
        if (t != line) {
            if (!entry_line) {
                errlist_add(errs, "%s:%d: continuation line without an entry before it", path, lineno);
                continue;
            }
            buf_putc(&entry, ' ');
            buf_puts(&entry, t);
            continue;
        }
        if (entry_line)
            parse_entry(m, entry.data, path, entry_line, errs);
        buf_reset(&entry);
        buf_puts(&entry, line);
        entry_line = lineno;
    }
    if (entry_line)
        parse_entry(m, entry.data, path, entry_line, errs);
    free(line);
    buf_free(&entry);
    fclose(f);
    return errlist_errors(errs) > errors_before ? -1 : 0;
}

void mastercf_free(struct mastercf *m)
{
    for (size_t i = 0; i < m->n; i++) {
        struct mastercf_entry *e = &m->v[i];
        free(e->service);
        free(e->type);
        free(e->command);
        for (size_t j = 0; j < e->nargs; j++)
            free(e->args[j]);
        free(e->args);
        free(e->where);
        for (int j = 0; j < 5; j++)
            free(e->columns[j]);
    }
    free(m->v);
    memset(m, 0, sizeof *m);
}
