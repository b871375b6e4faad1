/* migrate_sources.c - what `posthorn migrate` reads from Postfix (doc/migration.md): the
 * values of virtual_mailbox_domains, virtual_mailbox_maps, virtual_alias_maps,
 * virtual_mailbox_base and mynetworks in its main.cf (the same syntax as ours, so lib/global/config.c
 * reads it, $name expansion included), and the text sources of their tables: for
 * hash:, btree:, lmdb:, cdb:, dbm:, sdbm: and texthash: (also behind proxy:) the file
 * postmap compiles, read as postmap reads it ("key value", continuation lines start with
 * white space, "#" comments). Other table types (SQL, LDAP, regexp, ...) are reported:
 * export them into a text file and name that instead. */
#include "migrate.h"
#include "buf.h"
#include "mem.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A Postfix parameter: its main.cf value expanded, or postfix_default (unexpanded
 * defaults are only used for names that take no $name). */
static char *pf_value(struct config *pf, const char *name, const char *postfix_default)
{
    bool set = false;
    config_raw(pf, name, &set);
    return xstrdup(set ? config_str(pf, name) : postfix_default);
}

int mig_read_postfix(struct migration *m)
{
    if (!m->postfix_dir)
        return 0;
    struct errlist errs = {0}; /* Postfix's own parameters are unknown to us: not errors */
    struct config *pf = config_load(m->postfix_dir, &errs);
    errlist_free(&errs);
    if (!pf) {
        mig_error(m, "%s/main.cf: cannot read it", m->postfix_dir);
        return -1;
    }
    if (!m->mailbox_maps_spec)
        m->mailbox_maps_spec = pf_value(pf, "virtual_mailbox_maps", "");
    if (!m->domains_spec) /* Postfix's default: $virtual_mailbox_maps */
        m->domains_spec = pf_value(pf, "virtual_mailbox_domains", m->mailbox_maps_spec);
    if (!m->alias_maps_spec)
        m->alias_maps_spec = pf_value(pf, "virtual_alias_maps", "");
    if (!m->mailbox_base)
        m->mailbox_base = pf_value(pf, "virtual_mailbox_base", "");
    bool set = false;
    config_raw(pf, "mynetworks", &set);
    if (set)
        m->pf_mynetworks = xstrdup(config_str(pf, "mynetworks"));
    config_free(pf);
    return 0;
}

/* --- text tables --- */

typedef void (*entry_fn)(struct migration *m, const char *key, const char *value, const char *where);

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

static void logical_line(struct migration *m, const char *path, unsigned line, char *text,
                         entry_fn fn)
{
    char *key = trim(text), *value = key + strcspn(key, " \t");
    if (*value)
        *value++ = 0;
    value = trim(value);
    for (char *p = key; *p; p++)
        *p = (char)tolower((unsigned char)*p); /* postmap folds keys (no -f) */
    char *where = xasprintf("%s:%u", path, line);
    fn(m, key, value, where);
    free(where);
}

/* Read a Postfix text table: each logical line to fn as key, value, "file:line". */
static void read_table(struct migration *m, const char *path, entry_fn fn)
{
    FILE *in = fopen(path, "re");
    if (!in) {
        mig_error(m, "%s: %s", path, strerror(errno));
        return;
    }
    struct buf logical = BUF_INIT;
    unsigned lineno = 0, start = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        const char *t = line + strspn(line, " \t");
        if (*t == '#' || *t == 0)
            continue;
        if (t != line && start) { /* continues the entry before it */
            buf_putc(&logical, ' ');
            buf_puts(&logical, t);
            continue;
        }
        if (t != line)
            mig_error(m, "%s:%u: continuation line without an entry before it", path, lineno);
        if (start)
            logical_line(m, path, start, (char *)buf_cstr(&logical), fn);
        buf_reset(&logical);
        buf_puts(&logical, t);
        start = lineno;
    }
    if (start)
        logical_line(m, path, start, (char *)buf_cstr(&logical), fn);
    free(line);
    buf_free(&logical);
    fclose(in);
}

/* The text source of one "type:name" (NULL, reported, for types without one). */
static const char *table_source(struct migration *m, const char *item, const char *param)
{
    static const char *const text_types[] = {"hash:", "btree:", "lmdb:", "cdb:", "dbm:", "sdbm:",
                                             "texthash:"};
    if (strncmp(item, "proxy:", 6) == 0)
        item += 6;
    for (size_t i = 0; i < sizeof text_types / sizeof text_types[0]; i++)
        if (strncmp(item, text_types[i], strlen(text_types[i])) == 0)
            return item + strlen(text_types[i]);
    mig_error(m, "%s: %s: not a table with a text source; export it into a text file (key value "
                 "per line) and give that (doc/migration.md)", param, item);
    return NULL;
}

/* Each item of a Postfix list value: a table, a /file (domains only) or a word. */
static void each_item(struct migration *m, const char *spec, const char *param, entry_fn table_fn,
                      void (*word_fn)(struct migration *m, const char *word, const char *where))
{
    char *copy = xstrdup(spec ? spec : "");
    for (char *save = NULL, *w = strtok_r(copy, ", \t\n", &save); w; w = strtok_r(NULL, ", \t\n", &save)) {
        if (strchr(w, ':')) {
            const char *src = table_source(m, w, param);
            if (src)
                read_table(m, src, table_fn);
        } else if (word_fn && w[0] == '/') { /* a file of words, as Postfix reads it */
            read_table(m, w, table_fn);
        } else if (word_fn) {
            word_fn(m, w, param);
        } else {
            mig_error(m, "%s: %s: not a type:table", param, w);
        }
    }
    free(copy);
}

static bool is_domain_key(const char *key)
{
    return !strchr(key, '@') && strchr(key, '.') && key[0] != '.';
}

/* --- the three tables --- */

static void domain_word(struct migration *m, const char *word, const char *where)
{
    mig_add_domain(m, word, where);
}

static void domain_entry(struct migration *m, const char *key, const char *value, const char *where)
{
    (void)value; /* a table's value, or more names on a line of a /file: Postfix's keys */
    if (!strchr(key, '@'))
        mig_add_domain(m, key, where);
}

static void mailbox_entry(struct migration *m, const char *key, const char *value, const char *where)
{
    if (!strchr(key, '@'))
        return; /* "example.com anything": a domain for virtual_mailbox_domains */
    if (key[0] == '@') {
        mig_error(m, "%s: %s: a catch-all mailbox is not supported: make it an alias "
                     "(%s: some-user%s) and run again", where, key, key, key);
        return;
    }
    struct mig_user *u = mig_user(m, key, where);
    if (!u)
        return;
    size_t n = strlen(value);
    if (n == 0 || value[n - 1] != '/') {
        mig_error(m, "%s: %s: \"%s\" is an mbox file; only Maildirs (a value ending in /) are "
                     "imported", where, key, value);
        u->bad = true;
        return;
    }
    free(u->mapped);
    u->mapped = value[0] == '/' || !m->mailbox_base || !*m->mailbox_base
                    ? xstrdup(value)
                    : xasprintf("%s/%s", m->mailbox_base, value);
}

static void alias_entry(struct migration *m, const char *key, const char *value, const char *where)
{
    if (is_domain_key(key)) { /* declares a virtual alias domain (virtual_alias_domains) */
        mig_add_domain(m, key, where);
        return;
    }
    if (!*value) {
        mig_error(m, "%s: %s: no target", where, key);
        return;
    }
    m->aliases = xreallocarray(m->aliases, m->naliases + 1, sizeof *m->aliases);
    m->aliases[m->naliases++] = (struct mig_entry){xstrdup(key), xstrdup(value), xstrdup(where)};
}

void mig_read_tables(struct migration *m)
{
    each_item(m, m->domains_spec, "virtual_mailbox_domains", domain_entry, domain_word);
    each_item(m, m->mailbox_maps_spec, "virtual_mailbox_maps", mailbox_entry, NULL);
    each_item(m, m->alias_maps_spec, "virtual_alias_maps", alias_entry, NULL);
}
