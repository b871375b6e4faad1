/* watch.c - how a session learns that its user's mail changed in another process: one
 * inotify descriptor per imapd-mailbox process, one watch per user with sessions here, on the
 * user's index file (every writer - local-mda, pop3d, another IMAP session - commits there).
 * An IDLE session is told at once (view_sync); the others learn it at their next command,
 * where view_sync looks at the index anyway. Event loop thread only. */
#include "imap_mailbox.h"
#include "log.h"
#include "mem.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

struct wentry {
    int wd;
    unsigned users;   /* sessions on it */
    DLIST_HEAD(struct imap_session) sessions;
};

struct watch {
    struct imapd *d;
    int fd;           /* -1: inotify unavailable */
    struct wentry *v;
    size_t n;
    unsigned long timer; /* the pending look at the sessions marked changed */
};

/* An index writer's first write comes before its commit is visible: look a moment later,
 * once the burst of writes of one commit is over (and again for later bursts). */
#define SETTLE_MS 20

static struct wentry *find(struct watch *w, int wd)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->v[i].wd == wd)
            return &w->v[i];
    return NULL;
}

static void look(struct event_loop *loop, void *ctx)
{
    (void)loop;
    struct watch *w = ctx;
    w->timer = 0;
    for (size_t i = 0; i < w->n; i++) {
        struct imap_session *s, *next;
        DLIST_FOREACH_SAFE(s, &w->v[i].sessions, next) {
            if (!s->changed || !s->idling)
                continue;
            s->changed = false;
            view_sync(s, true);
            condstore_report(s); /* QRESYNC: the HIGHESTMODSEQ after VANISHED or EXISTS */
            s->idle_said_ms = event_now_ms();
            conn_flush(s->conn);
        }
    }
}

static void notify(struct watch *w, struct wentry *e)
{
    struct imap_session *s;
    DLIST_FOREACH(s, &e->sessions)
        s->changed = true;
    if (!w->timer)
        w->timer = event_timer(w->d->srv->loop, SETTLE_MS, look, w);
}

static void on_events(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    (void)loop;
    (void)events;
    struct watch *w = ctx;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            struct wentry *e = find(w, ev->wd);
            if (e)
                notify(w, e);
            p += sizeof *ev + ev->len;
        }
}

struct watch *watch_new(struct imapd *d)
{
    struct watch *w = xcalloc(1, sizeof *w);
    w->d = d;
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0)
        log_warn("inotify: %m; IDLE sessions learn of changes only once a second");
    else if (event_add(d->srv->loop, w->fd, EPOLLIN, on_events, w) < 0) {
        close(w->fd);
        w->fd = -1;
    }
    return w;
}

void watch_add(struct watch *w, struct imap_session *s)
{
    if (w->fd < 0)
        return;
    char *path = xasprintf("%s/%s", mail_user_path(s->mu), w->d->p.index_name);
    int wd = inotify_add_watch(w->fd, path, IN_MODIFY | IN_CLOSE_WRITE | IN_MOVE_SELF | IN_ATTRIB);
    if (wd < 0) {
        log_warn("%s: inotify_add_watch %s: %m, session=<%s>", s->user, path, s->id);
        free(path);
        return;
    }
    free(path);
    struct wentry *e = find(w, wd);
    if (!e) {
        w->v = xreallocarray(w->v, w->n + 1, sizeof *w->v);
        e = &w->v[w->n++];
        memset(e, 0, sizeof *e);
        e->wd = wd;
    }
    DLIST_INSERT_TAIL(&e->sessions, s);
    e->users++;
    s->watch_wd = wd;
    s->watched = true;
}

void watch_remove(struct watch *w, struct imap_session *s)
{
    struct wentry *e = s->watch_wd >= 0 && w->fd >= 0 ? find(w, s->watch_wd) : NULL;
    if (!e || !s->watched)
        return;
    DLIST_REMOVE(&e->sessions, s);
    s->watched = false;
    if (--e->users > 0)
        return;
    inotify_rm_watch(w->fd, e->wd);
    *e = w->v[--w->n];
}
