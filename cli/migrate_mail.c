/* migrate_mail.c - `posthorn migrate` imports each user's Dovecot Maildir (doc/migration.md):
 * every folder (lib/store/dovecot_maildir.h) goes into the user's mail store with
 * mailbox_import (lib/store/mailstore.h), in batches of at most BATCH messages so that one
 * write transaction stays small; each message is copied (the source is only read), keeping
 * its base name, UID, flags, keywords and mtime, and the mailbox its UIDVALIDITY and next
 * UID. HIGHESTMODSEQ starts at the time of the import in seconds, above any MODSEQ a
 * Dovecot mailbox reaches, so clients that cached Dovecot's resynchronise flags and never
 * miss a change. Subscriptions are added. A user's mail that Posthorn had never made does
 * not get the default mailboxes: the user keeps its own set. Run as root, the user's
 * files are given to vmail_owner afterwards. A POP3 UIDL Dovecot kept for a message (the
 * record's P field) that pop3d_uidl_format would not give is reported. */
#include "migrate.h"
#include "buf.h"
#include "dovecot_maildir.h"
#include "fileio.h"
#include "mailstore.h"
#include "mem.h"
#include "pop3_uidl.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH 2000

struct user_run {
    struct migration *m;
    struct mig_user *u;
    struct mail_user *mu; /* NULL in a dry run of a user without mail here */
    char *maildir, *control;
    unsigned long added, present, expunged;
    uint64_t modseq;
};

static int copy_into(void *ctx, int fd)
{
    int in = open(ctx, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return -1;
    char b[65536];
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = read(in, b, sizeof b)) != 0)
        rc = n < 0 ? (errno == EINTR ? 0 : -1) : write_full(fd, b, (size_t)n);
    int e = errno;
    close(in);
    errno = e;
    return rc;
}

/* Dovecot kept a POP3 UIDL for the message: does our template give the same? */
static void check_uidl(struct user_run *r, const struct dovecot_folder *f, const struct dovecot_msg *d,
                       uint32_t uid)
{
    if (!d->pop3_uidl)
        return;
    struct pop3_uidl_vars v = {.uid = uid, .uidvalidity = f->uidvalidity, .filename = d->name};
    struct buf out = BUF_INIT;
    pop3_uidl_expand(r->m->uidl_format, &v, &out);
    const char *kept = *d->pop3_uidl ? d->pop3_uidl : d->name; /* "" stands for the base name */
    if (strcmp(kept, buf_cstr(&out)) != 0)
        mig_warn(r->m, "%s:%u: Dovecot serves the POP3 UIDL %s for this message, Posthorn will "
                       "serve %s: a POP3 client that left it on the server fetches it again",
                 f->uidlist, d->line, kept, buf_cstr(&out));
    buf_free(&out);
}

static void report(struct user_run *r, const struct dovecot_folder *f, const char *box,
                   struct mailbox_import_msg *im, const struct dovecot_msg *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (im[i].result) {
        case MS_IMPORT_ADDED: r->added++; break;
        case MS_IMPORT_PRESENT: r->present++; break;
        case MS_IMPORT_EXPUNGED: r->expunged++; break;
        default:
            mig_error(r->m, "%s:%u: %s: %s is in Posthorn's %s under another UID: not imported",
                      f->uidlist, d[i].line, r->u->address, d[i].name, box);
        }
        if (strcmp(box, "INBOX") == 0 && im[i].result != MS_IMPORT_CONFLICT)
            check_uidl(r, f, &d[i], im[i].uid ? im[i].uid : d[i].uid);
    }
}

static void import_batch(struct user_run *r, const struct dovecot_folder *f, const char *box,
                         size_t first, size_t n, bool last)
{
    struct mailbox_import_msg *im = xcalloc(n ? n : 1, sizeof *im);
    for (size_t i = 0; i < n; i++) {
        const struct dovecot_msg *d = &f->msgs[first + i];
        im[i] = (struct mailbox_import_msg){.uid = d->uid, .name = d->name, .in_cur = d->in_cur,
                                            .flags = d->flags, .keywords = d->letters,
                                            .internaldate = d->mtime, .fill = copy_into,
                                            .ctx = d->path};
    }
    struct mailbox_import mi = {.uidvalidity = f->has_uidlist ? f->uidvalidity : 0,
                                .uidnext = last && f->has_uidlist ? f->nextuid : 0,
                                .modseq = r->modseq,
                                .special_use = mailbox_default_special_use(box),
                                .keywords = (const char *const *)f->keywords, .nkeywords = 26,
                                .dry_run = r->m->dry_run};
    char *err = NULL;
    enum mailstore_result res;
    if (r->mu) {
        res = mailbox_import(r->mu, box, &mi, im, n, &err);
    } else { /* dry run, nothing here yet: all of it would be added */
        for (size_t i = 0; i < n; i++)
            im[i].result = MS_IMPORT_ADDED;
        res = MS_OK;
    }
    if (res != MS_OK)
        mig_error(r->m, "%s: %s: %s", f->uidlist, r->u->address, err ? err : "import failed");
    else
        report(r, f, box, im, f->msgs ? &f->msgs[first] : NULL, n); /* none: NULL, not NULL + 0 */
    free(err);
    free(im);
}

static char *control_of(const char *root, const char *box)
{
    if (!root)
        return NULL;
    return strcmp(box, "INBOX") == 0 ? xstrdup(root) : xasprintf("%s/.%s", root, box);
}

static void import_folder(struct user_run *r, const char *box)
{
    char *dir = strcmp(box, "INBOX") == 0 ? xstrdup(r->maildir) : xasprintf("%s/.%s", r->maildir, box);
    char *control = control_of(r->control, box);
    struct errlist errs = {0};
    struct dovecot_folder f;
    int rc = dovecot_folder_read(dir, control, &f, &errs);
    for (size_t i = 0; i < errs.n; i++)
        mig_error(r->m, "%s", errs.msgs[i]);
    r->m->warnings += (unsigned)errs.warnings;
    r->m->errors -= (unsigned)errs.warnings; /* errlist's warnings were counted above */
    errlist_free(&errs);
    if (rc == 0) {
        unsigned long before = r->added;
        for (size_t first = 0; first < f.n || first == 0; first += BATCH) {
            size_t n = f.n - first < BATCH ? f.n - first : BATCH;
            import_batch(r, &f, box, first, n, first + n >= f.n);
            if (f.n == 0)
                break;
        }
        mig_say(r->m, "%s: %s: %s %lu of %zu messages (UIDVALIDITY %u, next UID %u)", r->u->address,
                box, r->m->dry_run ? "would import" : "imported", r->added - before, f.n,
                f.uidvalidity, f.nextuid);
    }
    dovecot_folder_free(&f);
    free(dir);
    free(control);
}

static int subscribe_one(void *ctx, const char *name)
{
    struct user_run *r = ctx;
    char *err = NULL;
    if (!r->m->dry_run && r->mu && mailbox_subscribe(r->mu, name, true, &err) != MS_OK)
        mig_error(r->m, "%s: %s: subscribe %s: %s", r->maildir, r->u->address, name, err ? err : "?");
    free(err);
    return 0;
}

static struct owners vmail;
static int give_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)flag, (void)ftw;
    if (st->st_uid != vmail.vmail_uid || st->st_gid != vmail.vmail_gid)
        (void)lchown(p, vmail.vmail_uid, vmail.vmail_gid);
    return 0;
}

/* Open (making the directory) the user's mail; NULL in a dry run when there is none. */
static struct mail_user *open_user(struct user_run *r, bool *fresh)
{
    struct config *cfg = cli_config(r->m->c);
    const char *base = config_str(cfg, PARAM(virtual_mailbox_base));
    const char *at = strchr(r->u->address, '@');
    char *local = xstrndup(r->u->address, (size_t)(at - r->u->address));
    char *dir = xasprintf("%s/%s/%s", base, at + 1, local);
    char *index = xasprintf("%s/%s", dir, config_str(cfg, PARAM(mailbox_index_name)));
    struct stat st;
    *fresh = stat(index, &st) < 0;
    char *err = NULL;
    struct mail_user *mu = NULL;
    if (r->m->dry_run && *fresh)
        ;
    else if (mkdir_p(dir, 0700) < 0)
        mig_error(r->m, "%s: %s", dir, strerror(errno));
    else if (!(mu = mail_user_open(base, at + 1, local, config_str(cfg, PARAM(mailbox_index_name)),
                                   false, &err)))
        mig_error(r->m, "%s: %s", dir, err ? err : "cannot open");
    free(err);
    free(local);
    free(dir);
    free(index);
    return mu;
}

static void import_user(struct migration *m, struct mig_user *u)
{
    struct user_run r = {.m = m, .u = u, .modseq = (uint64_t)time(NULL)};
    r.maildir = mig_maildir(m, u, &r.control);
    struct stat st;
    if (!r.maildir)
        return;
    if (stat(r.maildir, &st) < 0) {
        mig_say(m, "%s: no Maildir at %s: no mail to import", u->address, r.maildir);
        free(r.maildir);
        free(r.control);
        return;
    }
    struct errlist errs = {0};
    char **boxes = dovecot_folders(r.maildir, &errs);
    for (size_t i = 0; i < errs.n; i++)
        mig_error(m, "%s", errs.msgs[i]);
    errlist_free(&errs);
    bool fresh = false;
    r.mu = boxes ? open_user(&r, &fresh) : NULL;
    char *err = NULL;
    if (r.mu && fresh && !m->dry_run && mail_user_skip_defaults(r.mu, &err) != MS_OK)
        mig_error(m, "%s: %s", u->address, err ? err : "?");
    free(err);
    if (boxes && (r.mu || (m->dry_run && fresh))) {
        for (char **b = boxes; *b; b++)
            import_folder(&r, *b);
        if (mail_subscriptions_read(r.control ? r.control : r.maildir, subscribe_one, &r, &err) < 0)
            mig_error(m, "%s", err);
        free(err);
    }
    for (char **b = boxes; b && *b; b++)
        free(*b);
    free(boxes);
    if (r.mu) {
        const char *path = mail_user_path(r.mu);
        char *domain_dir = xstrndup(path, (size_t)(strrchr(path, '/') - path));
        if (vmail.root && !m->dry_run) {
            nftw(path, give_one, 16, FTW_PHYS);
            (void)lchown(domain_dir, vmail.vmail_uid, vmail.vmail_gid);
        }
        free(domain_dir);
        mail_user_close(r.mu);
    }
    free(r.maildir);
    free(r.control);
}

void mig_apply_mail(struct migration *m)
{
    char *err = NULL;
    if (owners_get(cli_config(m->c), &vmail, &err) < 0) {
        mig_error(m, "vmail_owner: %s", err);
        free(err);
        return;
    }
    umask(077);
    for (size_t i = 0; i < m->nusers; i++)
        if (!m->users[i].bad)
            import_user(m, &m->users[i]);
}
