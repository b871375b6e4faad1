/* search_update.c - CONTEXT=SEARCH's kept results (RFC 5267 sec 4.3): a SEARCH with RETURN
 * (UPDATE) stays with the selected mailbox under its tag, with its program and its result
 * (UIDs). Whenever the session learns of changes (view_sync, its own STORE) the messages
 * that changed are evaluated again, and the result's changes go out as
 *   * ESEARCH (TAG "t") [UID] REMOVEFROM (0 set) ADDTO (0 set)
 * with UIDs for UID SEARCH and sequence numbers otherwise. The position is 0: a SEARCH
 * result has no order of its own but the mailbox's (sec 4.3 leaves it to the server for
 * unordered results). Expunged messages leave a result before their EXPUNGE response, so
 * their sequence numbers are still the ones the client knows. CANCELUPDATE, another SELECT,
 * CLOSE and UNSELECT end them. Event loop thread only. */
#include "imap_mailbox.h"
#include "mem.h"
#include "search.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct search_update {
    char tag[IMAP_TAG_MAX + 1];
    bool uid;                    /* UID SEARCH: UIDs in the updates */
    struct search_program *prog;
    uint32_t *uids;              /* the result, ascending */
    size_t n, cap;
};

static int uid_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static bool in_result(const struct search_update *u, uint32_t uid)
{
    return u->n && bsearch(&uid, u->uids, u->n, sizeof *u->uids, uid_cmp);
}

static void result_add(struct search_update *u, uint32_t uid)
{
    if (u->n == u->cap)
        u->uids = xreallocarray(u->uids, u->cap = u->cap ? u->cap * 2 : 16, sizeof *u->uids);
    size_t i = u->n;
    while (i > 0 && u->uids[i - 1] > uid) /* changes come mostly in ascending order */
        i--;
    memmove(u->uids + i + 1, u->uids + i, (u->n - i) * sizeof *u->uids);
    u->uids[i] = uid;
    u->n++;
}

static void result_remove(struct search_update *u, uint32_t uid)
{
    uint32_t *p = u->n ? bsearch(&uid, u->uids, u->n, sizeof *u->uids, uid_cmp) : NULL;
    if (p) {
        memmove(p, p + 1, (size_t)(u->uids + u->n - p - 1) * sizeof *p);
        u->n--;
    }
}

static void update_free(struct search_update *u)
{
    search_free(u->prog);
    free(u->uids);
    free(u);
}

bool search_update_add(struct imap_session *s, struct search_program *prog, bool uid,
                       const size_t *pos, size_t n)
{
    struct view *v = s->view;
    if (v->nupdates >= SEARCH_UPDATES_MAX) {
        search_free(prog);
        return false;
    }
    struct search_update *u = xcalloc(1, sizeof *u);
    snprintf(u->tag, sizeof u->tag, "%s", s->tag);
    u->uid = uid;
    u->prog = prog;
    for (size_t i = 0; i < n; i++)
        result_add(u, v->msgs[pos[i]].uid);
    v->updates = xreallocarray(v->updates, v->nupdates + 1, sizeof *v->updates);
    v->updates[v->nupdates++] = u;
    return true;
}

bool search_update_find(const struct view *v, const char *tag)
{
    for (size_t i = 0; v && i < v->nupdates; i++)
        if (strcmp(v->updates[i]->tag, tag) == 0)
            return true;
    return false;
}

bool search_update_cancel(struct view *v, const char *tag)
{
    for (size_t i = 0; i < v->nupdates; i++)
        if (strcmp(v->updates[i]->tag, tag) == 0) {
            update_free(v->updates[i]);
            v->updates[i] = v->updates[--v->nupdates];
            return true;
        }
    return false;
}

void search_updates_free(struct view *v)
{
    for (size_t i = 0; i < v->nupdates; i++)
        update_free(v->updates[i]);
    free(v->updates);
    v->updates = NULL;
    v->nupdates = 0;
}

/* "* ESEARCH (TAG "t") [UID] [REMOVEFROM (0 set)] [ADDTO (0 set)]", when either has any. */
static void send_changes(struct imap_session *s, const struct search_update *u, uint32_t *gone,
                         size_t ngone, uint32_t *added, size_t nadded)
{
    if (!ngone && !nadded)
        return;
    struct buf b = BUF_INIT;
    buf_printf(&b, "* ESEARCH (TAG \"%s\")%s", u->tag, u->uid ? " UID" : "");
    if (ngone) {
        qsort(gone, ngone, sizeof *gone, uid_cmp);
        buf_puts(&b, " REMOVEFROM (0 ");
        imap_seqset_write(&b, gone, ngone);
        buf_putc(&b, ')');
    }
    if (nadded) {
        qsort(added, nadded, sizeof *added, uid_cmp);
        buf_puts(&b, " ADDTO (0 ");
        imap_seqset_write(&b, added, nadded);
        buf_putc(&b, ')');
    }
    imap_reply(s, "%s", buf_cstr(&b));
    buf_free(&b);
}

void search_updates_expunged(struct imap_session *s, const uint32_t *uids, const uint32_t *seqs,
                             size_t n)
{
    struct view *v = s->view;
    if (!v || !v->nupdates || !n)
        return;
    uint32_t *gone = xreallocarray(NULL, n, sizeof *gone);
    for (size_t k = 0; k < v->nupdates; k++) {
        struct search_update *u = v->updates[k];
        size_t ngone = 0;
        for (size_t i = 0; i < n; i++)
            if (in_result(u, uids[i])) {
                gone[ngone++] = u->uid ? uids[i] : seqs[i];
                result_remove(u, uids[i]);
            }
        send_changes(s, u, gone, ngone, NULL, 0);
    }
    free(gone);
}

void search_updates_touched(struct imap_session *s, const size_t *pos, size_t n)
{
    struct view *v = s->view;
    if (!v || !v->nupdates || !n)
        return;
    uint32_t *gone = xreallocarray(NULL, n, sizeof *gone), *added = xreallocarray(NULL, n, sizeof *added);
    for (size_t k = 0; k < v->nupdates; k++) {
        struct search_update *u = v->updates[k];
        size_t ngone = 0, nadded = 0;
        for (size_t i = 0; i < n; i++) {
            const struct view_msg *m = &v->msgs[pos[i]];
            struct search_text t = {.text = BUF_INIT};
            bool match = search_match(u->prog, s, pos[i], &t);
            buf_free(&t.text);
            uint32_t id = u->uid ? m->uid : (uint32_t)(pos[i] + 1);
            if (match && !in_result(u, m->uid)) {
                added[nadded++] = id;
                result_add(u, m->uid);
            } else if (!match && in_result(u, m->uid)) {
                gone[ngone++] = id;
                result_remove(u, m->uid);
            }
        }
        send_changes(s, u, gone, ngone, added, nadded);
    }
    free(gone);
    free(added);
}
