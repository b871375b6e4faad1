/* spool.c - APPEND's message literals bigger than imapd_literal_memory_limit are written to
 * an unlinked file in the user's Maildir tmp/ as they arrive, instead of growing the
 * session's command buffer: a session costs at most that limit of memory whatever
 * APPENDLIMIT allows (a client sending a large message slowly, or many of them, holds disk,
 * not memory). In the command buffer the literal is announced as "{0}" and left empty; the
 * spool records which literal of the command it stands for (cmd_append.c reads it from
 * there through spool_find). Every spool of a command is closed when the command has run
 * or was refused (spool_reset). */
#include "imap_mailbox.h"
#include "log.h"
#include "mem.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int open_tmp(const char *dir)
{
#ifdef O_TMPFILE
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
#endif
    char *path = xasprintf("%s/append.XXXXXX", dir);
    int fd2 = mkostemp(path, O_CLOEXEC);
    if (fd2 >= 0)
        unlink(path);
    free(path);
    return fd2;
}

bool spool_begin(struct imap_session *s, unsigned ordinal)
{
    char *dir = xasprintf("%s/tmp", mail_user_path(s->mu));
    int fd = open_tmp(dir);
    if (fd < 0) {
        log_warn("%s: APPEND: cannot spool a literal in %s: %m; kept in memory, session=<%s>",
                 s->user, dir, s->id);
        free(dir);
        return false;
    }
    free(dir);
    s->spools = xreallocarray(s->spools, s->nspools + 1, sizeof *s->spools);
    s->spools[s->nspools++] = (struct spool){.ordinal = ordinal, .fd = fd};
    s->spooling = true;
    return true;
}

void spool_write(struct imap_session *s, const char *data, size_t n)
{
    struct spool *sp = &s->spools[s->nspools - 1];
    sp->size += n;
    s->spooled_bytes += n;
    while (n > 0 && !sp->error) {
        ssize_t w = write(sp->fd, data, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            sp->error = w < 0 ? errno : EIO;
            break;
        }
        data += w;
        n -= (size_t)w;
    }
}

const struct spool *spool_find(const struct imap_session *s, unsigned ordinal)
{
    for (size_t i = 0; i < s->nspools; i++)
        if (s->spools[i].ordinal == ordinal)
            return &s->spools[i];
    return NULL;
}

void spool_reset(struct imap_session *s)
{
    for (size_t i = 0; i < s->nspools; i++)
        close(s->spools[i].fd);
    free(s->spools);
    s->spools = NULL;
    s->nspools = 0;
    s->spooling = false;
    s->spooled_bytes = 0;
    s->literals = 0;
}
