/* mailstore_subs.c - IMAP subscriptions (RFC 3501 6.3.6, 6.3.7; RFC 9051 6.3.7) in the
 * Maildir++ root's "subscriptions" file, in the format Dovecot reads and writes:
 *   version 1: one mailbox name per line ("Sent", "A.B");
 *   version 2: the header "V<TAB>2" and an empty line, then one name per line with the
 *              hierarchy levels separated by TAB instead of '.', each level escaped
 *              (0x01 -> 0x01 '1', TAB -> 0x01 't', CR -> 0x01 'r', LF -> 0x01 'n').
 * A file keeps its version when it is rewritten; a new file is written in version 1, as
 * Dovecot does. Updates happen with the index's writer lock held (an otherwise empty
 * write transaction), so concurrent sessions do not lose each other's changes, and
 * replace the file atomically (temporary file, fsync, rename, directory fsync). Names need
 * not exist, and deleting or renaming a mailbox leaves the file alone (RFC 3501 6.3.6). */
#include "fileio.h"
#include "mailstore_int.h"
#include "mem.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUBS_FILE "subscriptions"
#define SUBS_MAX (4 * 1024 * 1024)
static const char v2_header[] = "V\t2\n\n";

/* The file's lines (a copy of its text cut at newlines) and its version. */
struct subs {
    struct buf text;
    char **line;
    size_t n;
    int version;
};

static int subs_read_dir(const char *dir, struct subs *s)
{
    memset(s, 0, sizeof *s);
    s->version = 1;
    char *path = xasprintf("%s/" SUBS_FILE, dir);
    int rc = read_file(path, SUBS_MAX, &s->text) < 0 && errno != ENOENT ? errno : 0;
    free(path);
    char *p = (char *)buf_cstr(&s->text);
    if (strncmp(p, v2_header, sizeof v2_header - 1) == 0) {
        s->version = 2;
        p += sizeof v2_header - 1;
    }
    for (char *save = NULL, *l = strtok_r(p, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        s->line = xreallocarray(s->line, s->n + 1, sizeof *s->line);
        s->line[s->n++] = l;
    }
    return rc;
}

static void subs_free(struct subs *s)
{
    buf_free(&s->text);
    free(s->line);
}

/* A name as a line of a version-2 file, and back. */
static void escape_v2(const char *name, struct buf *out)
{
    for (const char *p = name; *p; p++) {
        switch (*p) {
        case '.': buf_putc(out, '\t'); break;
        case '\001': buf_puts(out, "\0011"); break;
        case '\t': buf_puts(out, "\001t"); break;
        case '\r': buf_puts(out, "\001r"); break;
        case '\n': buf_puts(out, "\001n"); break;
        default: buf_putc(out, *p);
        }
    }
}

static void unescape_v2(const char *line, struct buf *out)
{
    for (const char *p = line; *p; p++) {
        if (*p == '\t') {
            buf_putc(out, '.');
        } else if (*p == '\001' && p[1]) {
            p++;
            buf_putc(out, *p == 't' ? '\t' : *p == 'r' ? '\r' : *p == 'n' ? '\n' : *p == '1' ? '\001' : *p);
        } else {
            buf_putc(out, *p);
        }
    }
}

static void line_of(const struct subs *s, const char *name, struct buf *out)
{
    buf_reset(out);
    if (s->version == 2)
        escape_v2(name, out);
    else
        buf_puts(out, name);
}

static int subs_write(const struct mail_user *mu, const struct subs *s, const char *const *add, size_t nadd)
{
    struct buf b = BUF_INIT;
    if (s->version == 2)
        buf_puts(&b, v2_header);
    for (size_t i = 0; i < s->n; i++)
        if (s->line[i]) /* NULL: unsubscribed */
            buf_printf(&b, "%s\n", s->line[i]);
    for (size_t i = 0; i < nadd; i++)
        buf_printf(&b, "%s\n", add[i]);
    char *path = xasprintf("%s/" SUBS_FILE, mu->path);
    int rc = write_file_atomic(path, b.data ? b.data : "", b.len, 0600) < 0 ? errno : 0;
    free(path);
    buf_free(&b);
    return rc;
}

int ms_subs_update(struct mail_user *mu, const char *const *names, size_t n, bool on)
{
    struct subs s;
    int rc = subs_read_dir(mu->path, &s);
    char **add = NULL;
    size_t nadd = 0;
    bool changed = false;
    struct buf l = BUF_INIT;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        line_of(&s, names[i], &l);
        bool found = false;
        for (size_t j = 0; j < s.n; j++)
            if (s.line[j] && strcmp(s.line[j], buf_cstr(&l)) == 0) {
                found = true;
                if (!on)
                    s.line[j] = NULL;
            }
        for (size_t j = 0; j < nadd; j++)
            found = found || strcmp(add[j], buf_cstr(&l)) == 0;
        changed = changed || found != on;
        if (on && !found) {
            add = xreallocarray(add, nadd + 1, sizeof *add);
            add[nadd++] = xstrdup(buf_cstr(&l));
        }
    }
    if (rc == 0 && changed)
        rc = subs_write(mu, &s, (const char *const *)add, nadd);
    for (size_t i = 0; i < nadd; i++)
        free(add[i]);
    free(add);
    buf_free(&l);
    subs_free(&s);
    return rc;
}

struct subs_op {
    const char *name;
    bool on;
};

static int subs_apply(struct mail_user *mu, MDB_txn *txn, void *arg)
{
    struct subs_op *op = arg;
    return ms_subs_update(mu, &op->name, 1, op->on);
}

enum mailstore_result mailbox_subscribe(struct mail_user *mu, const char *name, bool on, char **err)
{
    char *n = ms_mailbox_name(name, err);
    if (!n)
        return MS_INVALID;
    struct subs_op op = {n, on};
    int rc = ms_write_nosync(mu, subs_apply, NULL, &op); /* for the writer lock only */
    enum mailstore_result r = ms_result(rc, SUBS_FILE, err);
    free(n);
    return r;
}

int mail_subscriptions_read(const char *dir, int (*fn)(void *ctx, const char *name), void *ctx,
                            char **err)
{
    struct subs s;
    int rc = subs_read_dir(dir, &s), r = 0;
    if (rc != 0)
        *err = xasprintf("%s/" SUBS_FILE ": %s", dir, strerror(rc));
    struct buf name = BUF_INIT;
    for (size_t i = 0; rc == 0 && r == 0 && i < s.n; i++) {
        buf_reset(&name);
        if (s.version == 2)
            unescape_v2(s.line[i], &name);
        else
            buf_puts(&name, s.line[i]);
        r = fn(ctx, buf_cstr(&name));
    }
    buf_free(&name);
    subs_free(&s);
    return rc ? -1 : r;
}

int mail_user_subscriptions(struct mail_user *mu, int (*fn)(void *ctx, const char *name), void *ctx,
                            char **err)
{
    return mail_subscriptions_read(mu->path, fn, ctx, err);
}
