/* dovecot_maildir.c - reading a folder of a Dovecot Maildir++ for an import (see
 * dovecot_maildir.h): list cur/ and new/, read dovecot-uidlist line by line (bounded
 * lines), match its records to the files by base name, and read dovecot-keywords with the
 * store's own reader (the file format is the same). */
#include "dovecot_maildir.h"
#include "mailstore_int.h"
#include "mem.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define UIDLIST_NAME "dovecot-uidlist"
#define LINE_MAX_LEN (64 * 1024)

/* --- the files --- */

static int list_sub(const char *dir, const char *sub, struct dovecot_folder *f, struct errlist *errs)
{
    char *path = xasprintf("%s/%s", dir, sub);
    DIR *d = opendir(path);
    if (!d) {
        int e = errno;
        if (e != ENOENT || strcmp(sub, "cur") == 0)
            errlist_add(errs, "%s: %s", path, strerror(e));
        free(path);
        return e == ENOENT && strcmp(sub, "new") == 0 ? 0 : -1;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(st.st_mode))
            continue;
        const char *colon = strchr(de->d_name, ':');
        f->msgs = xreallocarray(f->msgs, f->n + 1, sizeof *f->msgs);
        struct dovecot_msg *m = &f->msgs[f->n++];
        memset(m, 0, sizeof *m);
        m->name = colon ? xstrndup(de->d_name, (size_t)(colon - de->d_name)) : xstrdup(de->d_name);
        m->path = xasprintf("%s/%s", path, de->d_name);
        m->in_cur = strcmp(sub, "cur") == 0;
        m->mtime = (uint64_t)st.st_mtime;
        if (colon && strncmp(colon, ":2,", 3) == 0)
            ms_letters_parse(colon + 3, &m->flags, &m->letters);
    }
    closedir(d);
    free(path);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    const struct dovecot_msg *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (int)y->in_cur - (int)x->in_cur; /* cur/ first */
}

static int by_uid(const void *a, const void *b)
{
    const struct dovecot_msg *x = a, *y = b;
    if (!x->uid != !y->uid)
        return x->uid ? -1 : 1; /* the numbered ones first */
    if (x->uid != y->uid)
        return x->uid < y->uid ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void msg_free(struct dovecot_msg *m)
{
    free(m->name);
    free(m->path);
    free(m->pop3_uidl);
    free(m->guid);
}

/* The same base name in new/ and cur/ (a copy left by a crash): the cur/ one counts. */
static void drop_twins(struct dovecot_folder *f, struct errlist *errs)
{
    size_t out = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (out > 0 && strcmp(f->msgs[out - 1].name, f->msgs[i].name) == 0) {
            errlist_warn(errs, "%s: also in %s, which is imported", f->msgs[i].path, f->msgs[out - 1].path);
            msg_free(&f->msgs[i]);
            continue;
        }
        f->msgs[out++] = f->msgs[i];
    }
    f->n = out;
}

/* --- dovecot-uidlist --- */

struct uidlist_state {
    const char *path;
    unsigned line;
    int version;
    uint32_t last_uid;
    struct dovecot_folder *f;
    struct errlist *errs;
};

static bool parse_u32(const char *s, const char *end, uint32_t *out)
{
    uint64_t v = 0;
    if (s == end)
        return false;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9' || (v = v * 10 + (uint64_t)(*s - '0')) > UINT32_MAX)
            return false;
    }
    *out = (uint32_t)v;
    return true;
}

/* "3 V<uidvalidity> N<nextuid> G<guid> ..." or "1 <uidvalidity> <nextuid>". */
static int parse_header(struct uidlist_state *u, char *l)
{
    struct dovecot_folder *f = u->f;
    if (l[0] < '0' || l[0] > '9' || l[1] != ' ') {
        errlist_add(u->errs, "%s:1: not a dovecot-uidlist header", u->path);
        return -1;
    }
    u->version = l[0] - '0';
    if (u->version == 1) {
        char *sp = strchr(l + 2, ' ');
        if (!sp || !parse_u32(l + 2, sp, &f->uidvalidity) || !parse_u32(sp + 1, sp + 1 + strlen(sp + 1), &f->nextuid))
            f->uidvalidity = 0;
    } else if (u->version == 3) {
        for (char *save = NULL, *w = strtok_r(l + 2, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
            bool ok = true;
            if (w[0] == 'V')
                ok = parse_u32(w + 1, w + strlen(w), &f->uidvalidity);
            else if (w[0] == 'N')
                ok = parse_u32(w + 1, w + strlen(w), &f->nextuid);
            if (!ok)
                f->uidvalidity = 0;
        }
    } else {
        errlist_add(u->errs, "%s:1: dovecot-uidlist version %d is not supported (only 1 and 3)",
                    u->path, u->version);
        return -1;
    }
    if (f->uidvalidity == 0 || f->nextuid == 0) {
        errlist_add(u->errs, "%s:1: broken header (no UIDVALIDITY or next UID)", u->path);
        return -1;
    }
    return 0;
}

/* The extension fields of a version 3 record ("P<uidl>", "G<guid>", ...) before ":". */
static void parse_extensions(struct uidlist_state *u, char **p, char **uidl, char **guid)
{
    while (**p && **p != ':') {
        char *w = *p, *end = w + strcspn(w, " ");
        if (*w == 'P' && !*uidl)
            *uidl = xstrndup(w + 1, (size_t)(end - w - 1));
        else if (*w == 'G' && !*guid && end > w + 1)
            *guid = xstrndup(w + 1, (size_t)(end - w - 1));
        else if (*w < 'A' || *w > 'Z')
            errlist_warn(u->errs, "%s:%u: unknown field \"%.*s\" ignored", u->path, u->line,
                         (int)(end - w), w);
        *p = end + strspn(end, " ");
    }
    if (**p == ':')
        (*p)++;
}

static struct dovecot_msg *find_file(struct dovecot_folder *f, const char *name)
{
    struct dovecot_msg key = {.name = (char *)name, .in_cur = true};
    /* f->msgs is sorted by name (cur/ before new/); twins are gone */
    struct dovecot_msg *m = bsearch(&key, f->msgs, f->n, sizeof *f->msgs, by_name);
    if (m)
        return m;
    key.in_cur = false;
    return bsearch(&key, f->msgs, f->n, sizeof *f->msgs, by_name);
}

static void parse_record(struct uidlist_state *u, char *l)
{
    char *sp = strchr(l, ' ');
    uint32_t uid;
    if (!sp || !parse_u32(l, sp, &uid) || uid == 0 || uid == UINT32_MAX) {
        errlist_add(u->errs, "%s:%u: not a \"UID file\" record: skipped", u->path, u->line);
        return;
    }
    if (uid <= u->last_uid) {
        errlist_add(u->errs, "%s:%u: UID %u is not above the one before (%u): skipped", u->path,
                    u->line, uid, u->last_uid);
        return;
    }
    char *p = sp + strspn(sp, " "), *uidl = NULL, *guid = NULL;
    if (u->version == 3)
        parse_extensions(u, &p, &uidl, &guid);
    p[strcspn(p, ":")] = 0; /* the base name */
    struct dovecot_msg *m = *p && !strchr(p, '/') ? find_file(u->f, p) : NULL;
    if (!*p || strchr(p, '/')) {
        errlist_add(u->errs, "%s:%u: bad file name: skipped", u->path, u->line);
    } else if (!m) {
        u->f->gone++; /* expunged since Dovecot wrote the record */
    } else if (m->uid) {
        errlist_add(u->errs, "%s:%u: %s already has UID %u: skipped", u->path, u->line, p, m->uid);
    } else {
        m->uid = uid;
        m->line = u->line;
        m->pop3_uidl = uidl, uidl = NULL;
        m->guid = guid, guid = NULL;
    }
    u->last_uid = uid;
    if (u->f->nextuid <= uid)
        u->f->nextuid = uid + 1;
    free(uidl);
    free(guid);
}

static int read_uidlist(const char *control, struct dovecot_folder *f, struct errlist *errs)
{
    f->uidlist = xasprintf("%s/" UIDLIST_NAME, control);
    FILE *in = fopen(f->uidlist, "re");
    if (!in) {
        if (errno == ENOENT)
            return 0;
        errlist_add(errs, "%s: %s", f->uidlist, strerror(errno));
        return -1;
    }
    struct uidlist_state u = {.path = f->uidlist, .f = f, .errs = errs};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, in)) >= 0) {
        u.line++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = 0;
        if ((size_t)len > LINE_MAX_LEN || memchr(line, 0, (size_t)len)) {
            errlist_add(errs, "%s:%u: line too long or with a NUL byte", u.path, u.line);
            rc = u.line == 1 ? -1 : 0;
        } else if (u.line == 1) {
            rc = parse_header(&u, line);
            f->has_uidlist = rc == 0;
        } else if (len > 0) {
            parse_record(&u, line);
        }
    }
    if (ferror(in)) {
        errlist_add(errs, "%s: %s", f->uidlist, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(in);
    return rc;
}

/* --- the folder --- */

int dovecot_folder_read(const char *dir, const char *control, struct dovecot_folder *f,
                        struct errlist *errs)
{
    memset(f, 0, sizeof *f);
    if (list_sub(dir, "cur", f, errs) < 0 || list_sub(dir, "new", f, errs) < 0)
        return -1;
    if (f->n > 1)
        qsort(f->msgs, f->n, sizeof *f->msgs, by_name);
    drop_twins(f, errs);
    if (read_uidlist(control ? control : dir, f, errs) < 0)
        return -1;
    if (f->n > 1)
        qsort(f->msgs, f->n, sizeof *f->msgs, by_uid);
    struct ms_keywords k;
    int rc = ms_keywords_read_file(control ? control : dir, &k);
    if (rc != 0) {
        errlist_add(errs, "%s/dovecot-keywords: %s", control ? control : dir, strerror(rc));
        return -1;
    }
    for (int i = 0; i < MS_LETTER_KEYWORDS; i++)
        f->keywords[i] = k.name[i], k.name[i] = NULL;
    ms_keywords_free(&k);
    return 0;
}

void dovecot_folder_free(struct dovecot_folder *f)
{
    for (size_t i = 0; i < f->n; i++)
        msg_free(&f->msgs[i]);
    free(f->msgs);
    for (int i = 0; i < MS_LETTER_KEYWORDS; i++)
        free(f->keywords[i]);
    free(f->uidlist);
    memset(f, 0, sizeof *f);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **dovecot_folders(const char *root, struct errlist *errs)
{
    DIR *d = opendir(root);
    if (!d) {
        errlist_add(errs, "%s: %s", root, strerror(errno));
        return NULL;
    }
    size_t n = 1;
    char **v = xcalloc(2, sizeof *v);
    v[0] = xstrdup("INBOX");
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.' || !de->d_name[1] || strcmp(de->d_name, "..") == 0)
            continue;
        char *cur = xasprintf("%s/%s/cur", root, de->d_name);
        struct stat st;
        bool folder = stat(cur, &st) == 0 && S_ISDIR(st.st_mode);
        free(cur);
        if (!folder)
            continue;
        v = xreallocarray(v, n + 2, sizeof *v);
        v[n++] = xstrdup(de->d_name + 1);
        v[n] = NULL;
    }
    closedir(d);
    if (n > 2)
        qsort(v + 1, n - 1, sizeof *v, cmp_names);
    return v;
}
