/* dkim_keydir.c - the key directory's layout, listing and state changes (see
 * dkim_keydir.h). */
#include "dkim_keydir.h"
#include "fileio.h"
#include "idn.h"
#include "mem.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define KEY_SUFFIX ".key"

static const char *const state_names[] = {"active", "pending", "retired"};

const char *dkim_key_state_name(enum dkim_key_state st) { return state_names[st]; }

bool dkim_key_state_from_name(const char *name, enum dkim_key_state *st)
{
    for (size_t i = 0; i < sizeof state_names / sizeof state_names[0]; i++)
        if (strcmp(name, state_names[i]) == 0) {
            *st = (enum dkim_key_state)i;
            return true;
        }
    return false;
}

bool dkim_selector_valid(const char *s) { return idn_ldh_name(s, DKIM_SELECTOR_MAX); }
bool dkim_domain_valid(const char *d) { return idn_ldh_name(d, 253); }

char *dkim_keyfile_path(const char *dir, const char *domain, const char *selector,
                        enum dkim_key_state st)
{
    return xasprintf("%s/%s/%s.%s%s", dir, domain, selector, dkim_key_state_name(st), KEY_SUFFIX);
}

/* "SELECTOR.STATE.key" into its parts; false for any other name. */
static bool parse_name(const char *name, char **selector, enum dkim_key_state *st)
{
    size_t len = strlen(name), slen = strlen(KEY_SUFFIX);
    if (len <= slen || strcmp(name + len - slen, KEY_SUFFIX) != 0)
        return false;
    char *base = xstrndup(name, len - slen);
    char *dot = strrchr(base, '.');
    bool ok = dot && dkim_key_state_from_name(dot + 1, st);
    if (ok) {
        *dot = 0;
        ok = dkim_selector_valid(base);
    }
    if (ok)
        *selector = base;
    else
        free(base);
    return ok;
}

static void add_key(struct dkim_keylist *l, const char *dir, const char *domain, const char *name)
{
    char *selector;
    enum dkim_key_state st;
    if (!parse_name(name, &selector, &st))
        return;
    char *path = xasprintf("%s/%s/%s", dir, domain, name);
    struct stat sb;
    if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        free(path);
        free(selector);
        return;
    }
    l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
    l->v[l->n++] = (struct dkim_keyfile){xstrdup(domain), selector, st, path, sb.st_mtime};
}

static int scan_domain(const char *dir, const char *domain, struct dkim_keylist *l, char **err)
{
    char *path = xasprintf("%s/%s", dir, domain);
    DIR *d = opendir(path);
    if (!d) {
        int rc = errno == ENOENT || errno == ENOTDIR ? 0 : -1;
        if (rc < 0)
            *err = xasprintf("%s: %s", path, strerror(errno));
        free(path);
        return rc;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        add_key(l, dir, domain, de->d_name);
    closedir(d);
    free(path);
    return 0;
}

static int compare_keys(const void *a, const void *b)
{
    const struct dkim_keyfile *x = a, *y = b;
    int c = strcmp(x->domain, y->domain);
    return c ? c : strcmp(x->selector, y->selector);
}

int dkim_keydir_scan(const char *dir, const char *domain, struct dkim_keylist *out, char **err)
{
    memset(out, 0, sizeof *out);
    int rc = 0;
    if (domain) {
        rc = dkim_domain_valid(domain) ? scan_domain(dir, domain, out, err) : 0;
    } else {
        DIR *d = opendir(dir);
        if (!d) {
            if (errno == ENOENT)
                return 0;
            *err = xasprintf("%s: %s", dir, strerror(errno));
            return -1;
        }
        struct dirent *de;
        while (rc == 0 && (de = readdir(d)) != NULL)
            if (dkim_domain_valid(de->d_name))
                rc = scan_domain(dir, de->d_name, out, err);
        closedir(d);
    }
    if (rc < 0)
        dkim_keylist_free(out);
    else if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, compare_keys);
    return rc;
}

void dkim_keylist_free(struct dkim_keylist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].domain);
        free(l->v[i].selector);
        free(l->v[i].path);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

int dkim_keydir_set_state(const char *dir, struct dkim_keyfile *k, enum dkim_key_state st,
                          char **err)
{
    char *to = dkim_keyfile_path(dir, k->domain, k->selector, st);
    if (renameat2(AT_FDCWD, k->path, AT_FDCWD, to, RENAME_NOREPLACE) < 0 || fsync_parent(to) < 0) {
        *err = xasprintf("rename %s to %s: %s", k->path, to, strerror(errno));
        free(to);
        return -1;
    }
    free(k->path);
    k->path = to;
    k->state = st;
    if (dkim_keydir_touch(dir) < 0) {
        *err = xasprintf("%s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

int dkim_keydir_touch(const char *dir)
{
    return utimensat(AT_FDCWD, dir, NULL, 0);
}

bool dkim_keydir_stamp(const char *dir, struct timespec *ts)
{
    struct stat sb;
    if (stat(dir, &sb) < 0)
        return false;
    *ts = sb.st_mtim;
    return true;
}
