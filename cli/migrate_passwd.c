/* migrate_passwd.c - Dovecot's side of `posthorn migrate` (doc/migration.md): its
 * passwd-file ("user:password:uid:gid:gecos:home:shell:extra fields", as Dovecot splits it:
 * at every ':' up to the shell, the rest being space-separated key=value fields) and its
 * mail_location ("maildir:PATH[:CONTROL=DIR][:...]", with ~, %u, %n, %d and %h). Hashes
 * are kept as they are, in their {SCHEME}; a password without one takes the passdb's
 * default scheme (--default-scheme, Dovecot's CRYPT). A scheme Posthorn cannot check is
 * reported and the user is not imported: it could never log in. A {PLAIN} password is
 * hashed as {ARGON2ID} when the user is added. */
#include "migrate.h"
#include "buf.h"
#include "mem.h"
#include "password.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Dovecot's quota_rule "*:storage=N[bkMGT]" (bare: KiB) or "*:bytes=N[...]" in bytes, 0
 * unlimited; -1 for rules Posthorn has no equivalent of. */
static long long quota_rule(const char *rule)
{
    if (strncmp(rule, "*:", 2) != 0)
        return -1;
    const char *v = rule + 2;
    long long unit = 1;
    if (strncmp(v, "storage=", 8) == 0)
        v += 8, unit = 1024;
    else if (strncmp(v, "bytes=", 6) == 0)
        v += 6;
    else
        return -1;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || n < 0)
        return -1;
    static const char suffixes[] = "bkmgt";
    const char *s = *end ? strchr(suffixes, tolower((unsigned char)*end)) : NULL;
    if (*end && (!s || end[1]))
        return -1;
    if (s)
        for (unit = 1; s > suffixes; s--)
            unit *= 1024;
    return n > (1LL << 50) / unit ? -1 : n * unit;
}

static void extra_fields(struct migration *m, struct mig_user *u, char *extra, const char *where)
{
    for (char *save = NULL, *f = strtok_r(extra, " ", &save); f; f = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(f, '=');
        const char *key = strncmp(f, "userdb_", 7) == 0 ? f + 7 : f;
        if (!eq)
            continue;
        *eq = 0;
        const char *value = eq + 1;
        if (strcmp(key, "mail") == 0) {
            free(u->location);
            u->location = xstrdup(value);
        } else if (strcmp(key, "home") == 0) {
            free(u->home);
            u->home = xstrdup(value);
        } else if (strcmp(key, "quota_rule") == 0) {
            u->quota = quota_rule(value);
            if (u->quota < 0)
                mig_warn(m, "%s: %s: quota_rule=%s has no equivalent; the user gets "
                            "virtual_mailbox_quota", where, u->address, value);
        }
        *eq = '=';
    }
}

/* The hash to store for a passwd-file password; NULL (reported) when it cannot be used. */
static bool take_password(struct migration *m, struct mig_user *u, const char *pw, const char *where)
{
    if (!*pw) {
        mig_warn(m, "%s: %s: no password: imported with login disabled", where, u->address);
        u->hash = xstrdup("");
        return true;
    }
    char *stored = pw[0] == '{' ? xstrdup(pw) : xasprintf("{%s}%s", m->default_scheme, pw);
    const char *close = strchr(stored, '}');
    size_t n = close ? (size_t)(close - stored - 1) : 0;
    if (close && ((n == 5 && strncasecmp(stored + 1, "PLAIN", 5) == 0) ||
                  (n == 5 && strncasecmp(stored + 1, "CLEAR", 5) == 0) ||
                  (n == 9 && strncasecmp(stored + 1, "CLEARTEXT", 9) == 0))) {
        u->plain = xstrdup(close + 1);
        explicit_bzero(stored, strlen(stored));
        free(stored);
        return true;
    }
    const char *why = NULL;
    if (!password_usable(stored, &why)) {
        mig_error(m, "%s: %s: %s %.*s: the user is not imported (set a new password with posthorn "
                     "user add after the migration)", where, u->address, why,
                  close ? (int)(close - stored + 1) : 0, stored);
        free(stored);
        return false;
    }
    u->hash = stored;
    return true;
}

static void passwd_line(struct migration *m, char *line, const char *where)
{
    char *field[8] = {0};
    int nf = 0;
    field[nf++] = line;
    for (char *p = line; *p && nf < 8; p++)
        if (*p == ':') {
            *p = 0;
            field[nf++] = p + 1; /* the 8th field keeps its colons: extra fields */
        }
    char *addr = field[0];
    if (!strchr(addr, '@') && m->passwd_domain)
        addr = xasprintf("%s@%s", field[0], m->passwd_domain);
    else
        addr = xstrdup(addr);
    if (!strchr(addr, '@')) {
        mig_error(m, "%s: %s: a name without a domain (give --passwd-domain)", where, addr);
        free(addr);
        return;
    }
    struct mig_user *u = mig_user(m, addr, where);
    free(addr);
    if (!u)
        return;
    if (u->hash || u->plain) {
        mig_error(m, "%s: %s is listed twice: this line is ignored", where, u->address);
        return;
    }
    if (nf > 5 && *field[5])
        u->home = xstrdup(field[5]);
    if (nf > 7)
        extra_fields(m, u, field[7], where);
    if (!take_password(m, u, nf > 1 ? field[1] : "", where))
        u->bad = true;
}

static void read_passwd_file(struct migration *m, const char *path)
{
    FILE *in = fopen(path, "re");
    if (!in) {
        mig_error(m, "%s: %s", path, strerror(errno));
        return;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned lineno = 0;
    while ((n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n == 0 || line[0] == '#' || line[0] == ':')
            continue; /* as Dovecot: no user name, or a comment */
        char *where = xasprintf("%s:%u", path, lineno);
        passwd_line(m, line, where);
        free(where);
        explicit_bzero(line, (size_t)n);
    }
    free(line);
    fclose(in);
}

void mig_read_passwd(struct migration *m)
{
    for (size_t i = 0; i < m->npasswd; i++)
        read_passwd_file(m, m->passwd_files[i]);
}

/* --- mail_location --- */

/* Expand ~ and %u %n %d %h (with Dovecot's L and U modifiers, and %{user} ...). */
static char *expand(const char *tmpl, const struct mig_user *u, const char **missing)
{
    struct buf b = BUF_INIT;
    const char *at = strchr(u->address, '@');
    const char *p = tmpl;
    if (p[0] == '~' && (p[1] == '/' || !p[1])) {
        if (!u->home)
            *missing = "~ needs a home directory";
        buf_puts(&b, u->home ? u->home : "");
        p++;
    }
    for (; *p; p++) {
        if (*p != '%') {
            buf_putc(&b, *p);
            continue;
        }
        p++;
        while (*p == 'L' || *p == 'U')
            p++; /* addresses are lowercased already */
        char v = *p;
        if (*p == '{') {
            const char *end = strchr(p, '}');
            size_t n = end ? (size_t)(end - p - 1) : 0;
            v = n == 4 && strncmp(p + 1, "user", 4) == 0       ? 'u'
              : n == 8 && strncmp(p + 1, "username", 8) == 0 ? 'n'
              : n == 6 && strncmp(p + 1, "domain", 6) == 0   ? 'd'
              : n == 4 && strncmp(p + 1, "home", 4) == 0     ? 'h' : '?';
            p = end ? end : p + strlen(p) - 1;
        }
        if (v == 'u')
            buf_puts(&b, u->address);
        else if (v == 'n')
            buf_append(&b, u->address, (size_t)(at - u->address));
        else if (v == 'd')
            buf_puts(&b, at + 1);
        else if (v == 'h' && u->home)
            buf_puts(&b, u->home);
        else if (v == '%')
            buf_putc(&b, '%');
        else
            *missing = v == 'h' ? "%h needs a home directory" : "a variable other than %u %n %d %h";
        if (!*p)
            break;
    }
    return buf_steal(&b);
}

char *mig_maildir(struct migration *m, struct mig_user *u, char **control)
{
    *control = NULL;
    const char *loc = u->location ? u->location : m->mail_location;
    if (!loc) {
        if (u->mapped)
            return xstrdup(u->mapped);
        mig_error(m, "%s: %s: where is its Maildir? (give --mail-location, Dovecot's mail_location)",
                  u->where, u->address);
        return NULL;
    }
    if (strncmp(loc, "maildir:", 8) != 0) {
        mig_error(m, "%s: %s: mail_location \"%s\": only maildir: is imported", u->where, u->address, loc);
        return NULL;
    }
    char *copy = xstrdup(loc + 8), *path = NULL, *ctl = NULL;
    const char *missing = NULL, *bad = NULL;
    int i = 0;
    for (char *save = NULL, *part = strtok_r(copy, ":", &save); part; part = strtok_r(NULL, ":", &save), i++) {
        if (i == 0)
            path = expand(part, u, &missing);
        else if (strncmp(part, "CONTROL=", 8) == 0)
            ctl = expand(part + 8, u, &missing);
        else if (strncmp(part, "LAYOUT=", 7) == 0 && strcmp(part + 7, "maildir++") != 0)
            bad = "LAYOUT other than maildir++";
        else if (strncmp(part, "INBOX=", 6) == 0 || strncmp(part, "DIRNAME=", 8) == 0)
            bad = "INBOX= and DIRNAME= are not supported";
    }
    free(copy);
    if (!path || missing || bad) {
        mig_error(m, "%s: %s: mail_location \"%s\": %s", u->where, u->address, loc,
                  bad ? bad : missing ? missing : "no path");
        free(path);
        free(ctl);
        return NULL;
    }
    *control = ctl;
    return path;
}
