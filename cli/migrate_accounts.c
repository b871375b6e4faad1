/* migrate_accounts.c - `posthorn migrate` applies the accounts (doc/migration.md): domains
 * and users go into the account database (lib/global/accounts.h) unless they are there
 * already (an existing user keeps its password and quota: it may have changed them since),
 * and virtual aliases are appended to the first lmdb: table of alias_maps, which is then
 * compiled as newaliases does. An alias whose name is in that file already is left alone
 * (reported when its targets differ). Targets that Postfix's virtual_alias_maps reads as
 * addresses but our aliases(5) file would run or write ("|cmd", "/file", ":include:") are
 * refused. */
#include "migrate.h"
#include "accounts.h"
#include "buf.h"
#include "fileio.h"
#include "log.h"
#include "mem.h"
#include "password.h"
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void add_domains(struct migration *m, struct accounts *a)
{
    for (size_t i = 0; i < m->ndomains; i++) {
        const char *d = m->domains[i].key;
        int r = accounts_domain_exists(a, d);
        char *err = NULL;
        if (r == 1)
            continue;
        if (r < 0 || (!m->dry_run && accounts_domain_add(a, d, &err) < 0)) {
            mig_error(m, "%s: domain %s: %s", m->domains[i].where, d, err ? err : "cannot read the account database");
            free(err);
            continue;
        }
        if (!m->dry_run)
            log_info("domain %s: added (migrated from %s)", d, m->domains[i].where);
        mig_say(m, "%s domain %s (%s)", m->dry_run ? "would add" : "added", d, m->domains[i].where);
    }
}

static int count_user(void *ctx, const struct account_user *u)
{
    (void)u;
    ++*(size_t *)ctx;
    return 0;
}

static void add_user(struct migration *m, struct accounts *a, struct mig_user *u)
{
    struct account_user old = {0};
    char *err = NULL;
    int r = accounts_user_get(a, u->address, &old, &err);
    if (r != 0) {
        if (r == 1 && u->hash && *u->hash && strcmp(old.password_hash, u->hash) != 0)
            mig_warn(m, "%s: %s exists with another password: kept", u->where, u->address);
        else if (r < 0)
            mig_error(m, "%s: %s: %s", u->where, u->address, err ? err : "lookup failed");
        if (r == 1)
            account_user_free(&old);
        free(err);
        return;
    }
    struct password_cost cost = password_cost_of(cli_config(m->c));
    char *hash = u->plain && !m->dry_run ? password_hash(u->plain, &cost, &err) : NULL;
    if (u->plain && !m->dry_run && !hash) {
        mig_error(m, "%s: %s: cannot hash the password: %s", u->where, u->address, err ? err : "?");
        free(err);
        return;
    }
    struct account_user nu = {u->address, hash ? hash : u->hash ? u->hash : "", u->quota};
    if (!m->dry_run && accounts_user_put(a, &nu, &err) < 0) {
        mig_error(m, "%s: %s: %s", u->where, u->address, err ? err : "cannot write");
        free(err);
    } else {
        const char *how = u->plain ? "{PLAIN} password hashed as {ARGON2ID}"
                        : !u->hash || !*u->hash ? "login disabled" : "password kept";
        if (!m->dry_run)
            log_info("user %s: added (migrated from %s)", u->address, u->where);
        mig_say(m, "%s user %s (%s, %s)", m->dry_run ? "would add" : "added", u->address, u->where, how);
    }
    if (hash) {
        explicit_bzero(hash, strlen(hash));
        free(hash);
    }
}

void mig_apply_accounts(struct migration *m)
{
    char *err = NULL;
    struct config *cfg = cli_config(m->c);
    struct owners own;
    struct accounts *a = NULL;
    if (owners_get(cfg, &own, &err) < 0 || (a = accounts_open(cfg, !m->dry_run, &err)) == NULL) {
        mig_error(m, "%s: %s", config_str(cfg, PARAM(account_database)), err ? err : "cannot open");
        free(err);
        return;
    }
    size_t before = 0;
    accounts_user_list(a, count_user, &before);
    m->had_users = before > 0;
    add_domains(m, a);
    for (size_t i = 0; i < m->nusers; i++)
        if (!m->users[i].bad)
            add_user(m, a, &m->users[i]);
    accounts_close(a);
    if (!m->dry_run)
        owners_fix_db(&own, config_str(cfg, PARAM(account_database)));
}

/* --- aliases --- */

/* The first name of each entry of an aliases(5) text ("name: targets" or "name targets"). */
static bool alias_line_key(const char *line, struct buf *key)
{
    if (!*line || isspace((unsigned char)*line) || *line == '#')
        return false;
    size_t n = strcspn(line, ": \t");
    buf_reset(key);
    for (size_t i = 0; i < n; i++)
        buf_putc(key, (char)tolower((unsigned char)line[i]));
    return true;
}

/* The existing entry named key in text, its targets normalised ("a@x,b@y"), or NULL. */
static char *existing_targets(const char *text, const char *key)
{
    struct buf k = BUF_INIT, t = BUF_INIT;
    char *found = NULL;
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (!alias_line_key(l, &k) || strcmp(buf_cstr(&k), key) != 0)
            continue;
        const char *v = l + k.len;
        v += strspn(v, ": \t");
        size_t n = strcspn(v, "\n");
        for (size_t i = 0; i < n; i++)
            if (!isspace((unsigned char)v[i]))
                buf_putc(&t, (char)tolower((unsigned char)v[i]));
        found = buf_steal(&t);
    }
    buf_free(&k);
    buf_free(&t);
    return found;
}

/* Postfix's targets as our "a@x, b@y" (NULL, reported, for what ours would not read as
 * an address); *norm the form existing_targets() compares. */
static char *targets_of(struct migration *m, const struct mig_entry *e, char **norm)
{
    struct buf out = BUF_INIT, n = BUF_INIT;
    char *copy = xstrdup(e->value);
    bool ok = true;
    for (char *save = NULL, *t = strtok_r(copy, ", \t", &save); t && ok; t = strtok_r(NULL, ", \t", &save)) {
        if (strchr("|/\"\\:", t[0]) || t[0] == '@' || strchr(t, '\n')) {
            mig_error(m, "%s: %s: target \"%s\" is not an address: the alias is not imported",
                      e->where, e->key, t);
            ok = false;
        } else if (!strchr(t, '@')) {
            mig_warn(m, "%s: %s: target \"%s\" has no domain: Postfix added $myorigin, Posthorn "
                        "adds the alias's domain", e->where, e->key, t);
        }
        buf_printf(&out, "%s%s", out.len ? ", " : "", t);
        buf_printf(&n, "%s%s", n.len ? "," : "", t);
    }
    free(copy);
    for (size_t i = 0; i < n.len; i++)
        n.data[i] = (char)tolower((unsigned char)n.data[i]);
    *norm = ok ? buf_steal(&n) : NULL;
    buf_free(&n);
    if (!ok)
        buf_free(&out);
    return ok ? buf_steal(&out) : NULL;
}

/* Decide each alias against the file's text: new lines go to add. */
static void merge_aliases(struct migration *m, const char *text, struct buf *add)
{
    for (size_t i = 0; i < m->naliases; i++) {
        const struct mig_entry *e = &m->aliases[i];
        if (!strchr(e->key, '@'))
            mig_warn(m, "%s: %s: a key without a domain applies to every domain of ours "
                        "(alias_local_part_domains), not only to Postfix's $myorigin",
                     e->where, e->key);
        char *norm = NULL, *targets = targets_of(m, e, &norm);
        if (!targets)
            continue;
        char *have = existing_targets(text, e->key);
        char *pending = existing_targets(buf_cstr(add), e->key);
        if (have || pending) {
            if (strcmp(have ? have : pending, norm) != 0)
                mig_error(m, "%s: %s: the alias exists with other targets: kept as it is", e->where, e->key);
        } else {
            buf_printf(add, "%s: %s\n", e->key, targets);
            mig_say(m, "%s alias %s (%s)", m->dry_run ? "would add" : "added", e->key, e->where);
        }
        free(have);
        free(pending);
        free(norm);
        free(targets);
    }
}

static const char *alias_source(struct migration *m)
{
    for (char **t = config_list(cli_config(m->c), PARAM(alias_maps), NULL); *t; t++)
        if (strncmp(*t, "lmdb:", 5) == 0)
            return *t + 5;
    return NULL;
}

void mig_apply_aliases(struct migration *m)
{
    if (m->naliases == 0)
        return;
    const char *path = alias_source(m);
    if (!path) {
        mig_error(m, "alias_maps: no lmdb: table to add %zu aliases to", m->naliases);
        return;
    }
    struct buf text = BUF_INIT, add = BUF_INIT;
    struct stat st;
    if (read_file(path, 64 << 20, &text) < 0 && errno != ENOENT) {
        mig_error(m, "%s: %s", path, strerror(errno));
        buf_free(&text);
        return;
    }
    mode_t mode = stat(path, &st) == 0 ? st.st_mode & 07777 : 0644;
    merge_aliases(m, buf_cstr(&text), &add);
    if (add.len && !m->dry_run) {
        if (text.len && text.data[text.len - 1] != '\n')
            buf_putc(&text, '\n');
        buf_puts(&text, "\n# virtual_alias_maps imported by posthorn migrate\n");
        buf_append(&text, add.data, add.len);
        if (write_file_atomic(path, text.data, text.len, mode) < 0)
            mig_error(m, "%s: %s", path, strerror(errno));
        else if (cli_map_build(m->c, path, true) != 0)
            mig_error(m, "%s: the aliases do not compile (above); the table in use is unchanged", path);
    }
    buf_free(&text);
    buf_free(&add);
}
