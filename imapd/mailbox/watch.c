/* watch.c - how a session learns that its user's mail changed in another process: one
 * inotify descriptor per imapd-mailbox process, one watch per user with sessions here, on the
 * user's index file (every writer - local-mda, pop3d, another IMAP session - commits there).
 * An IDLE session is told at once (view_sync); the others learn it at their next command,
 * where view_sync looks at the index anyway. Event loop thread only.
 *
 * Files put into a selected folder's new/ or cur/ by another program (a copy by hand, a
 * restored back-up, another MDA) change no index: the folder's new/ and cur/ are watched
 * too, while some session here has it selected. DIR_SETTLE_MS after a directory event (a
 * store writer renames its files inside its write transaction and has committed by then),
 * the folder's files are read (on the worker thread of folder_scan.c) and compared with its
 * index without the writer lock (mailbox_sync_needed_scanned), and only when they differ does
 * mailbox_sync_scanned take the change in;
 * its commit then reaches the sessions as any change does. The directory events of the
 * store's own writers thus cost a directory read, never a write.
 *
 * A SELECT of a folder that another session here keeps watched, with no directory event
 * pending, skips mailbox_sync's directory scan (watch_folder_current): nothing changed the
 * files behind the index. SELECT puts the watches in place before its own sync, and a
 * watch counts only once a sync ran after it (watch_folder_synced): a file that came
 * before it was in place is then in the index. A lost event queue (IN_Q_OVERFLOW) makes
 * every folder dirty and every session look at its index. */
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
    unsigned users;   /* sessions on it (dir: views on the folder) */
    DLIST_HEAD(struct imap_session) sessions; /* index entries: the user's sessions */
    bool is_dir;      /* a folder's new/ or cur/ */
    int index_wd;     /* dir: the watch of its user's index */
    char *mailbox;    /* dir: the store's mailbox name */
    long long dirty_ms; /* dir: the first event not looked at yet (0: none) */
    bool gone;        /* dir: moved or deleted (a folder RENAMEd or DELETEd) */
    bool synced;      /* dir: a mailbox_sync ran after the watch was in place */
    bool scanning;    /* dir: its files are being read (folder_scan.c) */
};

struct watch {
    struct imapd *d;
    int fd;           /* -1: inotify unavailable */
    struct wentry *v;
    size_t n;
    unsigned long timer; /* the pending look at the sessions marked changed */
    unsigned long dir_timer; /* the pending look at directories changed */
};

/* An index writer's first write comes before its commit is visible: look a moment later,
 * once the burst of writes of one commit is over (and again for later bursts). */
#define SETTLE_MS 20
/* How long a directory change waits for the index event of a store writer. */
#define DIR_SETTLE_MS 300

static struct wentry *find(struct watch *w, int wd)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->v[i].wd == wd)
            return &w->v[i];
    return NULL;
}

static struct wentry *entry(struct watch *w, int wd)
{
    struct wentry *e = find(w, wd);
    if (!e) {
        w->v = xreallocarray(w->v, w->n + 1, sizeof *w->v);
        e = &w->v[w->n++];
        memset(e, 0, sizeof *e);
        e->wd = wd;
    }
    return e;
}

static void drop(struct watch *w, struct wentry *e)
{
    if (--e->users > 0)
        return;
    inotify_rm_watch(w->fd, e->wd);
    free(e->mailbox);
    *e = w->v[--w->n];
}

/* Looks again at a session whose index has a commit in flight (mail_user_commit_in_flight):
 * at most this many, SETTLE_MS apart (a writer killed in that window leaves it so until
 * the next commit). */
#define IN_FLIGHT_LOOKS 100

static void look(struct event_loop *loop, void *ctx)
{
    struct watch *w = ctx;
    bool again = false;
    w->timer = 0;
    for (size_t i = 0; i < w->n; i++) {
        struct imap_session *s, *next;
        DLIST_FOREACH_SAFE(s, &w->v[i].sessions, next) {
            if (!s->changed || !s->idling)
                continue;
            /* The last event of a commit can come before LMDB shows the commit to readers;
             * looking then would see the state before it and wait for an event that does
             * not come (a writer preempted in between, seen under load). */
            if (mail_user_commit_in_flight(s->mu) && s->in_flight_looks++ < IN_FLIGHT_LOOKS) {
                again = true;
                continue;
            }
            s->in_flight_looks = 0;
            s->changed = false;
            view_sync(s, true);
            condstore_report(s); /* QRESYNC: the HIGHESTMODSEQ after VANISHED or EXISTS */
            s->idle_said_ms = event_now_ms();
            conn_flush(s->conn);
        }
    }
    if (again)
        w->timer = event_timer(loop, SETTLE_MS, look, w);
}

static void notify(struct watch *w, struct wentry *e)
{
    struct imap_session *s;
    DLIST_FOREACH(s, &e->sessions)
        s->changed = true;
    if (!w->timer)
        w->timer = event_timer(w->d->srv->loop, SETTLE_MS, look, w);
}

/* A session of this process with the folder selected (its mail_user does the sync). */
static struct imap_session *selector(struct watch *w, const struct wentry *dir)
{
    struct wentry *index = find(w, dir->index_wd);
    struct imap_session *s;
    if (index)
        DLIST_FOREACH(s, &index->sessions)
            if (s->view && strcmp(s->view->name, dir->mailbox) == 0)
                return s;
    return NULL;
}

/* A look at a changed folder whose files were read (on the worker thread), then taken
 * into the index a slice at a time (imapd_sync_slice new files per turn of the loop). */
struct dir_look {
    struct watch *w;
    int wd;
    bool measured; /* the files without an index entry were measured (or need not be) */
    struct mailbox_scan *sc; /* once read */
    int changes;
};

/* A SELECT of the folder waits for its read (cmd_select.c): its view has the watches but
 * is no session's view yet, so no session is the folder's selector. */
static bool select_pending(struct watch *w, const struct wentry *dir)
{
    struct wentry *index = find(w, dir->index_wd);
    struct imap_session *s;
    if (index)
        DLIST_FOREACH(s, &index->sessions)
            if (s->selecting)
                return true;
    return false;
}

static void mark_dirty(struct watch *w, struct wentry *e);

/* The end of a look: r changes (or -1 with err). */
static void dir_done(struct dir_look *dl, int r, char *err)
{
    struct watch *w = dl->w;
    struct wentry *e = find(w, dl->wd); /* gone when the last view on it went meanwhile */
    struct imap_session *s = e ? selector(w, e) : NULL;
    if (e)
        e->scanning = false;
    if (e && !s && select_pending(w, e))
        mark_dirty(w, e); /* the waiting SELECT's files may be older: look once it is done */
    if (r > 0 && s)
        log_info("%s: %s: %d changes made by another program taken into the index",
                 s->user, e->mailbox, r);
    if (r < 0 && s)
        log_warn("%s: sync of %s after a change by another program: %s", s->user,
                 e->mailbox, err ? err : "?");
    free(err);
    mailbox_scan_free(dl->sc);
    free(dl);
}

static void dir_slice(struct event_loop *loop, void *ctx)
{
    struct dir_look *dl = ctx;
    struct wentry *e = find(dl->w, dl->wd);
    struct imap_session *s = e ? selector(dl->w, e) : NULL;
    if (!s) { /* no longer selected here: the files left wait for the next sync */
        dir_done(dl, dl->changes, NULL);
        return;
    }
    bool more;
    char *err = NULL;
    int r = mailbox_sync_scanned_some(s->mu, dl->sc, dl->w->d->p.sync_slice, &more, &err);
    if (r > 0)
        dl->changes += r;
    if (r >= 0 && more) /* the other sessions' events first */
        event_timer(loop, 0, dir_slice, dl);
    else
        dir_done(dl, r < 0 ? -1 : dl->changes, err);
}

static void dir_scanned(void *ctx, struct mailbox_scan *sc)
{
    struct dir_look *dl = ctx;
    struct watch *w = dl->w;
    struct wentry *e = find(w, dl->wd);
    struct imap_session *s = e ? selector(w, e) : NULL;
    if (s && !dl->measured) { /* many files copied in: measured on the thread too */
        dl->measured = true;
        if (folder_scan_many_unindexed(s->mu, e->mailbox, sc) &&
            folder_scan_start(w->d, sc, true, dir_scanned, dl))
            return;
    }
    dl->sc = sc;
    char *err = NULL;
    int r = s ? mailbox_sync_needed_scanned(s->mu, sc, &err) : 0;
    if (r > 0)
        dir_slice(w->d->srv->loop, dl);
    else
        dir_done(dl, r, err);
}

static void look_dirs(struct event_loop *loop, void *ctx)
{
    struct watch *w = ctx;
    long long now = event_now_ms(), wait = 0;
    w->dir_timer = 0;
    for (size_t i = 0; i < w->n; i++) {
        struct wentry *e = &w->v[i];
        if (!e->is_dir || !e->dirty_ms)
            continue;
        if (e->scanning || now - e->dirty_ms < DIR_SETTLE_MS) { /* a read under way: after it */
            wait = e->scanning ? DIR_SETTLE_MS : DIR_SETTLE_MS - (now - e->dirty_ms);
            continue;
        }
        struct imap_session *s = selector(w, e);
        if (!s && select_pending(w, e)) { /* look once the SELECT has the folder */
            wait = DIR_SETTLE_MS;
            continue;
        }
        e->dirty_ms = 0;
        if (!s)
            continue;
        char *err = NULL;
        struct mailbox_scan *sc = mailbox_scan_new(s->mu, e->mailbox, &err);
        if (!sc) {
            log_warn("%s: sync of %s: %s", s->user, e->mailbox, err);
            free(err);
            continue;
        }
        struct dir_look *dl = xmalloc(sizeof *dl);
        *dl = (struct dir_look){.w = w, .wd = e->wd};
        if (folder_scan_start(w->d, sc, false, dir_scanned, dl))
            e->scanning = true;
        else { /* no thread: on the loop (scanning until its last slice) */
            e->scanning = true;
            dl->measured = true;
            mailbox_scan_read(sc);
            dir_scanned(dl, sc);
        }
    }
    if (wait)
        w->dir_timer = event_timer(loop, wait, look_dirs, w);
}

static void mark_dirty(struct watch *w, struct wentry *e)
{
    if (!e->dirty_ms)
        e->dirty_ms = event_now_ms();
    if (!w->dir_timer)
        w->dir_timer = event_timer(w->d->srv->loop, DIR_SETTLE_MS, look_dirs, w);
}

/* The kernel dropped events: any folder or index may have changed. */
static void overflowed(struct watch *w)
{
    log_warn("inotify: event queue overflow; every watched folder is compared with its index");
    for (size_t i = 0; i < w->n; i++) {
        if (w->v[i].is_dir)
            mark_dirty(w, &w->v[i]);
        else
            notify(w, &w->v[i]);
    }
}

static void on_events(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    (void)loop, (void)events;
    struct watch *w = ctx;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                overflowed(w);
                continue;
            }
            struct wentry *e = find(w, ev->wd);
            if (!e)
                continue;
            if (e->is_dir && (ev->mask & (IN_IGNORED | IN_MOVE_SELF | IN_DELETE_SELF)))
                e->gone = true; /* its name may now be another folder's */
            if (ev->mask & IN_IGNORED)
                continue;
            if (e->is_dir)
                mark_dirty(w, e);
            else
                notify(w, e);
        }
}

bool watch_folder_current(struct watch *w, struct imap_session *s, const char *mailbox)
{
    if (w->fd < 0 || !s->watched)
        return false;
    on_events(w->d->srv->loop, w->fd, EPOLLIN, w); /* what happened up to now */
    int clean = 0;
    for (size_t i = 0; i < w->n; i++) {
        const struct wentry *e = &w->v[i];
        if (e->is_dir && e->index_wd == s->watch_wd && strcmp(e->mailbox, mailbox) == 0) {
            if (e->dirty_ms || e->scanning || e->gone || !e->synced)
                return false;
            clean++;
        }
    }
    return clean == 2; /* new/ and cur/ */
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
    struct wentry *e = entry(w, wd);
    DLIST_INSERT_TAIL(&e->sessions, s);
    e->users++;
    s->watch_wd = wd;
    s->watched = true;
}

void watch_select(struct watch *w, struct imap_session *s, struct view *v)
{
    v->dir_wd[0] = v->dir_wd[1] = -1;
    v->watch = w;
    char *paths[3], *err = NULL;
    if (w->fd < 0 || !s->watched || mailbox_watch_paths(s->mu, v->name, paths, &err) < 0) {
        free(err);
        return;
    }
    for (int i = 0; i < 2; i++) {
        int wd = inotify_add_watch(w->fd, paths[i + 1], IN_CLOSE_WRITE | IN_MOVED_TO |
                                   IN_MOVED_FROM | IN_DELETE | IN_MOVE_SELF |
                                   IN_DELETE_SELF | IN_ONLYDIR);
        if (wd < 0) {
            log_warn("%s: inotify_add_watch %s: %m, session=<%s>", s->user, paths[i + 1], s->id);
            continue;
        }
        struct wentry *e = entry(w, wd);
        if (!e->users) {
            e->is_dir = true;
            e->index_wd = s->watch_wd;
            e->mailbox = xstrdup(v->name);
        }
        e->users++;
        v->dir_wd[i] = wd;
    }
    for (int i = 0; i < 3; i++)
        free(paths[i]);
}

void watch_folder_synced(struct view *v)
{
    for (int i = 0; v->watch && i < 2; i++) {
        struct wentry *e = v->dir_wd[i] >= 0 ? find(v->watch, v->dir_wd[i]) : NULL;
        if (e)
            e->synced = true;
    }
}

void watch_unselect(struct view *v)
{
    struct watch *w = v->watch;
    for (int i = 0; w && i < 2; i++) {
        struct wentry *e = v->dir_wd[i] >= 0 ? find(w, v->dir_wd[i]) : NULL;
        if (e)
            drop(w, e);
        v->dir_wd[i] = -1;
    }
}

void watch_remove(struct watch *w, struct imap_session *s)
{
    struct wentry *e = s->watch_wd >= 0 && w->fd >= 0 ? find(w, s->watch_wd) : NULL;
    if (!e || !s->watched)
        return;
    DLIST_REMOVE(&e->sessions, s);
    s->watched = false;
    drop(w, e);
}
