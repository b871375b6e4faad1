/* maildrop.c - pop3d-mailbox's view of a user's INBOX for one session: the lock that
 * allows one POP3 session per mailbox (flock on POP3_LOCK_NAME in the mailbox directory:
 * released by the kernel when the process dies), the snapshot of the messages taken at
 * login (RFC 1939 sec 8: mail that arrives later shows up in the next session), and the
 * UPDATE state, which expunges exactly the messages marked deleted, each file together
 * with its index entry (lib/store/mailstore.h). */
#include "log.h"
#include "mem.h"
#include "pop3_mailbox.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define POP3_LOCK_NAME "posthorn-pop3.lock"

static int collect(void *ctx, const struct mailbox_msg *mm)
{
    struct maildrop *m = ctx;
    if (m->n % 256 == 0)
        m->msgs = xreallocarray(m->msgs, m->n + 256, sizeof *m->msgs);
    m->msgs[m->n++] = (struct drop_msg){mm->uid, mm->flags, mm->vsize, xstrdup(mm->name), false};
    return 0;
}

static int lock_mailbox(struct maildrop *m, char **err)
{
    char *path = xasprintf("%s/%s", mail_user_path(m->mb), POP3_LOCK_NAME);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        *err = xasprintf("%s: %s", path, strerror(errno));
        free(path);
        return -2;
    }
    free(path);
    int r;
    while ((r = flock(fd, LOCK_EX | LOCK_NB)) < 0 && errno == EINTR) {
    }
    if (r < 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return -1;
        *err = xasprintf("flock: %s", strerror(e));
        return -2;
    }
    m->lock_fd = fd;
    return 0;
}

int maildrop_open(struct maildrop *m, struct pop3d *d, const char *user, char **err)
{
    memset(m, 0, sizeof *m);
    m->lock_fd = -1;
    const char *at = strrchr(user, '@');
    if (!at) {
        *err = xasprintf("not an address: %s", user);
        return -2;
    }
    char *local = xstrndup(user, (size_t)(at - user));
    m->mb = mail_user_open(d->p.mailbox_base, at + 1, local, d->p.index_name, true, err);
    free(local);
    if (!m->mb)
        return -2;
    int rc = lock_mailbox(m, err);
    if (rc < 0) {
        maildrop_close(m);
        return rc;
    }
    char *e2 = NULL;
    if (mailbox_sync(m->mb, "INBOX", &e2) < 0) { /* the index as it is still serves */
        log_warn("%s: mailbox sync: %s", user, e2 ? e2 : "failed");
        free(e2);
    }
    struct mailbox_info info;
    int fi = mailbox_info(m->mb, "INBOX", &info, err);
    if (fi < 0 || (fi == 1 && mailbox_iterate(m->mb, "INBOX", 1, collect, m, err) != 0)) {
        maildrop_close(m);
        return -2;
    }
    m->uidvalidity = fi == 1 ? info.uidvalidity : 0;
    return 0;
}

void maildrop_close(struct maildrop *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->msgs[i].name);
    free(m->msgs);
    m->msgs = NULL;
    m->n = 0;
    if (m->mb)
        mail_user_close(m->mb);
    m->mb = NULL;
    if (m->lock_fd >= 0)
        close(m->lock_fd); /* releases the lock */
    m->lock_fd = -1;
}

unsigned maildrop_update(struct maildrop *m, const char *user)
{
    unsigned failed = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (!m->msgs[i].deleted)
            continue;
        char *err = NULL;
        /* 0 means another client (IMAP) expunged it already: gone either way. */
        if (mailbox_expunge(m->mb, "INBOX", m->msgs[i].uid, &err) < 0) {
            log_warn("%s: expunge UID %u: %s", user, m->msgs[i].uid, err ? err : "failed");
            free(err);
            failed++;
        }
    }
    return failed;
}
