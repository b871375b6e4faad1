/* map_build.c - compiles a map source text file into SOURCE.lmdb (see map.h, map.c).
 *
 * Source syntax: one "key: value" or "key value" per logical line; a line whose first
 * non-blank character is '#' is a comment; blank lines are ignored; a line that starts with
 * white space continues the previous entry's value (joined with one space). Keys are
 * lowercased. Problems are collected as "file:line: reason": a NUL byte, a line longer than
 * MAP_LINE_MAX, a key without a value, an over-long key or a continuation line with nothing
 * to continue are errors (nothing is written); a duplicate key is a warning and the first
 * one is kept (as Postfix's postmap and postalias do). The result is written to a temporary file in the same directory, synced, and
 * renamed over SOURCE.lmdb, so readers always see a complete table.
 *
 * Aliases tables (map_build_aliases) are checked as aliases(5) (alias_value.h): every entry
 * is "NAME: VALUE" (the colon is required), NAME an address, a local part (possibly quoted)
 * or "@domain", and every target of VALUE well-formed; commands and files only where the
 * rules allow them, and only in a source no one but its owner can write (local-mda refuses
 * them from a table others can change). Each problem is reported with the entry's first
 * line; nothing is written when there is one. */
#include "alias_value.h"
#include "buf.h"
#include "fileio.h"
#include "map.h"
#include "mem.h"
#include <ctype.h>
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAP_LINE_MAX (64 * 1024)
#define MAP_VALUE_MAX (1024 * 1024)
#define MAP_KEY_MAX 511
#define MAP_BUILD_TRIES 8

struct entry {
    char *key;
    size_t klen;
    struct buf value;
    unsigned long line;
    bool superseded; /* a later entry has the same key */
};

struct parser {
    const char *file;
    const struct alias_rules *aliases; /* NULL: a plain map */
    bool special_targets;              /* an entry has a command or a file */
    struct errlist *errs;
    struct entry *v;
    size_t n;
    struct entry *pending;  /* entry that continuation lines extend */
    bool skip_continuation; /* the last logical line was bad: drop its continuations */
    unsigned long line;
};

/* Read one physical line (without its newline) of at most MAP_LINE_MAX bytes into b.
 * Returns 1 for a line, 0 at EOF, -1 on a read error. *bad is set for NUL or length. */
static int read_line(FILE *fp, struct buf *b, const char **bad)
{
    int c;
    bool any = false;
    buf_reset(b);
    *bad = NULL;
    while ((c = getc_unlocked(fp)) != EOF) {
        any = true;
        if (c == '\n')
            return 1;
        if (c == 0)
            *bad = "NUL byte in line";
        else if (b->len >= MAP_LINE_MAX)
            *bad = "line too long";
        else
            buf_putc(b, (char)c);
    }
    if (ferror(fp))
        return -1;
    return any ? 1 : 0;
}

static void trim_right(struct buf *b)
{
    while (b->len && isspace((unsigned char)b->data[b->len - 1]))
        b->len--;
    if (b->data)
        b->data[b->len] = 0;
}

/* An aliases(5) value: its syntax, then what the rules allow. */
static void check_alias_value(struct parser *p, struct entry *e)
{
    struct alias_list l = {0};
    char *err = NULL;
    if (alias_value_parse(buf_cstr(&e->value), &l, &err) < 0)
        errlist_add(p->errs, "%s:%lu: %s: %s", p->file, e->line, e->key, err);
    for (size_t i = 0; i < l.n; i++) {
        const struct alias_target *t = &l.v[i];
        bool cmd = t->kind == ALIAS_COMMAND, file = t->kind == ALIAS_FILE;
        p->special_targets |= cmd || file;
        if ((cmd && !p->aliases->commands) || (file && !p->aliases->files))
            errlist_add(p->errs, "%s:%lu: %s: \"%s%s\": mail to %ss is not allowed (%s)", p->file,
                        e->line, e->key, cmd ? "|" : "", t->text, alias_kind_name(t->kind),
                        cmd ? "allow_mail_to_commands" : "allow_mail_to_files");
    }
    free(err);
    alias_list_free(&l);
}

/* The pending entry is complete: check it. */
static void finish_entry(struct parser *p)
{
    struct entry *e = p->pending;
    p->pending = NULL;
    if (!e)
        return;
    if (e->value.len == 0) {
        errlist_add(p->errs, "%s:%lu: missing value for \"%s\"", p->file, e->line, e->key);
        free(e->key);
        buf_free(&e->value);
        p->n--;
    } else if (p->aliases) {
        check_alias_value(p, e);
    }
}

static void continue_entry(struct parser *p, const char *text)
{
    while (isspace((unsigned char)*text))
        text++;
    if (!*text)
        return;
    if (p->skip_continuation)
        return;
    if (!p->pending) {
        errlist_add(p->errs, "%s:%lu: continuation line without a preceding entry", p->file, p->line);
        p->skip_continuation = true;
        return;
    }
    struct buf *v = &p->pending->value;
    if (v->len + 1 + strlen(text) > MAP_VALUE_MAX) {
        errlist_add(p->errs, "%s:%lu: value too long", p->file, p->line);
        p->skip_continuation = true;
        return;
    }
    if (v->len)
        buf_putc(v, ' ');
    buf_puts(v, text);
}

/* The length of an aliases(5) name at text ("user", "\"a b\"@x", "@x"), with *val just past
 * its colon; 0 with an error when there is no name or no colon. */
static size_t alias_key(struct parser *p, const char *text, const char **val)
{
    const char *k = text;
    while (*k && *k != ':' && *k != ' ' && *k != '\t') {
        if (*k == '"') {
            const char *q = strchr(k + 1, '"');
            while (q && q[-1] == '\\')
                q = strchr(q + 1, '"');
            k = q ? q + 1 : k + strlen(k);
        } else {
            k++;
        }
    }
    size_t klen = (size_t)(k - text);
    while (*k == ' ' || *k == '\t')
        k++;
    const char *why = *k != ':' ? "missing ':' after the name" : alias_key_check(text, klen);
    if (why) {
        errlist_add(p->errs, "%s:%lu: %s%s%.*s%s", p->file, p->line, why, klen ? " (\"" : "",
                    (int)(klen > 100 ? 100 : klen), text, klen ? "\")" : "");
        return 0;
    }
    *val = k + 1;
    return klen;
}

/* A key ends at ':' or white space, except a next-hop key "[host]" or "[host]:port"
 * (smtp_sasl_password_maps, smtp_tls_policy_maps), which may hold colons. */
static size_t key_length(const char *text)
{
    const char *end = text[0] == '[' ? strchr(text, ']') : NULL;
    if (end) {
        size_t n = (size_t)(end - text) + 1;
        if (text[n] == ':' && isdigit((unsigned char)text[n + 1]))
            for (n++; isdigit((unsigned char)text[n]); n++) {
            }
        if (!text[n] || text[n] == ':' || isspace((unsigned char)text[n]))
            return n;
    }
    return strcspn(text, ": \t");
}

static void start_entry(struct parser *p, const char *text)
{
    const char *val = NULL;
    size_t klen = p->aliases ? alias_key(p, text, &val) : key_length(text);
    if (p->aliases && klen == 0) {
        p->skip_continuation = true;
        return;
    }
    if (klen == 0) {
        errlist_add(p->errs, "%s:%lu: missing key", p->file, p->line);
        p->skip_continuation = true;
        return;
    }
    if (klen > MAP_KEY_MAX) {
        errlist_add(p->errs, "%s:%lu: key longer than %d bytes", p->file, p->line, MAP_KEY_MAX);
        p->skip_continuation = true;
        return;
    }
    if (!val) {
        val = text + klen;
        if (*val == ':')
            val++;
    }
    while (isspace((unsigned char)*val))
        val++;
    p->v = xreallocarray(p->v, p->n + 1, sizeof *p->v);
    struct entry *e = &p->v[p->n++];
    memset(e, 0, sizeof *e);
    e->key = xstrndup(text, klen);
    for (char *c = e->key; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    e->klen = klen;
    e->line = p->line;
    buf_puts(&e->value, val);
    p->pending = e;
    p->skip_continuation = false;
}

static void parse_line(struct parser *p, struct buf *line, const char *bad)
{
    if (bad) {
        errlist_add(p->errs, "%s:%lu: %s", p->file, p->line, bad);
        finish_entry(p);
        p->skip_continuation = true;
        return;
    }
    trim_right(line);
    const char *s = line->data ? line->data : "";
    const char *first = s + strspn(s, " \t");
    if (*first == 0 || *first == '#')
        return;
    if (first != s) {
        continue_entry(p, s);
        return;
    }
    finish_entry(p);
    start_entry(p, s);
}

/* LMDB's default key order: bytewise, a prefix sorts first; ties keep source order. */
static int entry_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c == 0)
        c = (x->klen > y->klen) - (x->klen < y->klen);
    if (c == 0)
        c = (x->line > y->line) - (x->line < y->line);
    return c;
}

static void mark_duplicates(struct parser *p)
{
    if (p->n > 1)
        qsort(p->v, p->n, sizeof *p->v, entry_cmp);
    for (size_t i = 1; i < p->n; i++)
        if (p->v[i].klen == p->v[i - 1].klen && memcmp(p->v[i].key, p->v[i - 1].key, p->v[i].klen) == 0) {
            p->v[i].superseded = true; /* as postmap and postalias: the first one counts */
            errlist_warn(p->errs, "%s:%lu: duplicate key \"%s\" (first at line %lu); the first one is kept",
                         p->file, p->v[i].line, p->v[i].key, p->v[i - 1].line);
        }
}

/* Write the sorted entries into a new LMDB file at path. Returns 0 or an LMDB/errno code. */
static int write_lmdb(const char *path, const struct parser *p, size_t mapsize, mode_t mode)
{
    MDB_env *env;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    if (unlink(path) < 0 && errno != ENOENT)
        return errno;
    int rc = mdb_env_create(&env);
    if (rc != 0)
        return rc;
    rc = mdb_env_set_mapsize(env, mapsize);
    if (rc == 0)
        rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOLOCK, mode);
    if (rc == 0)
        rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, NULL, 0, &dbi);
    for (size_t i = 0; rc == 0 && i < p->n; i++) {
        if (p->v[i].superseded)
            continue;
        MDB_val k = {p->v[i].klen, p->v[i].key}, v = {p->v[i].value.len, p->v[i].value.data};
        rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND);
    }
    if (rc == 0) {
        rc = mdb_txn_commit(txn); /* syncs the file */
        txn = NULL;
    }
    if (txn)
        mdb_txn_abort(txn);
    mdb_env_close(env);
    return rc;
}

/* The table gets the source's group as well as its mode bits: a secret table
 * (smtp_sasl_password_maps) made root:posthorn 0640 is readable by mail_owner as built.
 * Only root can give a file away; otherwise it keeps the builder's group. */
static int copy_group(const char *path, gid_t gid)
{
    if (chown(path, (uid_t)-1, gid) == 0 || errno == EPERM)
        return 0;
    return errno;
}

static long install(const char *source, const struct parser *p, mode_t mode, gid_t gid,
                    struct errlist *errs)
{
    char *final = xasprintf("%s.lmdb", source);
    char *tmp = xasprintf("%s.lmdb.tmp.%ld", source, (long)getpid());
    size_t bytes = 0, n = 0;
    for (size_t i = 0; i < p->n; i++)
        if (!p->v[i].superseded) {
            bytes += p->v[i].klen + p->v[i].value.len + 64;
            n++;
        }
    size_t mapsize = 2 * bytes + 1024 * 1024;
    int rc = MDB_MAP_FULL;
    for (int i = 0; i < MAP_BUILD_TRIES && rc == MDB_MAP_FULL; i++, mapsize *= 2)
        rc = write_lmdb(tmp, p, mapsize, mode);
    long result = (long)n;
    if (rc == 0)
        rc = copy_group(tmp, gid);
    if (rc != 0) {
        errlist_add(errs, "%s: %s", tmp, mdb_strerror(rc));
        result = -1;
    } else if (rename(tmp, final) < 0 || fsync_parent(final) < 0) {
        errlist_add(errs, "%s: %s", final, strerror(errno));
        result = -1;
    }
    if (result < 0)
        unlink(tmp);
    free(tmp);
    free(final);
    return result;
}

static void parser_free(struct parser *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].key);
        buf_free(&p->v[i].value);
    }
    free(p->v);
}

static long build(const char *source, const struct alias_rules *aliases, struct errlist *errs)
{
    FILE *fp = fopen(source, "re");
    struct stat st;
    if (!fp || fstat(fileno(fp), &st) < 0) {
        errlist_add(errs, "%s: %s", source, strerror(errno));
        if (fp)
            fclose(fp);
        return -1;
    }
    struct parser p = {.file = source, .errs = errs, .aliases = aliases};
    size_t before = errlist_errors(errs);
    struct buf line = BUF_INIT;
    const char *bad;
    int r;
    while ((r = read_line(fp, &line, &bad)) == 1) {
        p.line++;
        parse_line(&p, &line, bad);
    }
    finish_entry(&p);
    if (r < 0)
        errlist_add(errs, "%s:%lu: %s", source, p.line + 1, strerror(errno));
    fclose(fp);
    buf_free(&line);
    if (p.special_targets && (st.st_mode & 022))
        errlist_add(errs, "%s: writable by group or others: local-mda refuses the commands and "
                    "files of such a table (chmod go-w)", source);
    long result = -1;
    if (errlist_errors(errs) == before) {
        mark_duplicates(&p);
        result = install(source, &p, st.st_mode & 0666, st.st_gid, errs);
    }
    parser_free(&p);
    return result;
}

long map_build(const char *source, struct errlist *errs)
{
    return build(source, NULL, errs);
}

long map_build_aliases(const char *source, const struct alias_rules *rules, struct errlist *errs)
{
    return build(source, rules, errs);
}
