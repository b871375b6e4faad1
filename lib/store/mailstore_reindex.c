/* mailstore_reindex.c - the index made again from the Maildir (posthorn mailbox reindex,
 * doc/mailstore.md "Reindex"): every Maildir++ folder on disk (a directory .NAME with cur/
 * and new/) that the index does not know gets its record (mailbox_create, a new
 * UIDVALIDITY), then INBOX and every folder is synced (mailbox_sync: files without an entry
 * indexed with the flags and keywords of their names, entries without a file dropped). For
 * a folder copied in from elsewhere, and for an index that was lost or moved aside because
 * it was corrupt (the folders then get new UIDs: clients fetch them again). */
#include "mailstore_int.h"
#include "mem.h"
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool is_folder(const char *path, const char *entry)
{
    struct stat st;
    bool ok = true;
    for (int i = 0; ok && i < 2; i++) {
        char *p = xasprintf("%s/%s/%s", path, entry, i ? "new" : "cur");
        ok = lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
        free(p);
    }
    return ok;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The store names of the folder directories, sorted (parents before children). */
static char **folders_on_disk(const char *path, size_t *n)
{
    char **v = NULL;
    *n = 0;
    DIR *d = opendir(path);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char *err = NULL, *name;
        if (de->d_name[0] != '.' || !de->d_name[1] || strcmp(de->d_name, "..") == 0 ||
            !is_folder(path, de->d_name) || !(name = ms_mailbox_name(de->d_name + 1, &err))) {
            free(err);
            continue;
        }
        v = xreallocarray(v, *n + 1, sizeof *v);
        v[(*n)++] = name;
    }
    if (d)
        closedir(d);
    if (*n > 1)
        qsort(v, *n, sizeof *v, name_cmp);
    return v;
}

static void one(struct mail_user *mu, const char *name, mailbox_reindex_fn report, void *ctx,
                int *failed)
{
    char *err = NULL;
    struct mailbox_info info;
    bool made = false;
    if (strcmp(name, "INBOX") != 0 && mailbox_info(mu, name, &info, &err) == 0) {
        enum mailstore_result r = mailbox_create(mu, name, 0, &err);
        made = r == MS_OK;
        if (r != MS_OK && r != MS_EXISTS) {
            report(ctx, name, false, -1, err ? err : "cannot create");
            free(err);
            ++*failed;
            return;
        }
    }
    free(err);
    err = NULL;
    int changes = mailbox_sync(mu, name, &err);
    report(ctx, name, made, changes, err);
    *failed += changes < 0;
    free(err);
}

int mailbox_reindex(struct mail_user *mu, mailbox_reindex_fn report, void *ctx)
{
    size_t n;
    char **names = folders_on_disk(mu->path, &n);
    int failed = 0;
    one(mu, "INBOX", report, ctx, &failed);
    for (size_t i = 0; i < n; i++) {
        one(mu, names[i], report, ctx, &failed);
        free(names[i]);
    }
    free(names);
    return failed ? -1 : (int)n + 1;
}
