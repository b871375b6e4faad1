/* sender.c - which addresses an authenticated user may send as (doc/submission.md,
 * "Sender policy"): a hosting provider's first defence against a stolen password is that
 * the thief can only send as the account it stole. A user owns
 *   - its own address (the login name, lowercased);
 *   - every address that delivers to it: its extensions (user+tag@d) and the aliases whose
 *     expansion reaches its mailbox (lib/global/resolve.h, within alias_recursion_limit
 *     levels and alias_expansion_limit addresses, as local-mda would expand them);
 *   - what submission_sender_login_maps says: "sender: login, login ..." with the sender
 *     as an address or "@domain" (the Postfix smtpd_sender_login_maps shape).
 * Lookups are synchronous LMDB reads, as smtpd's recipient checks are. */
#include "log.h"
#include "mem.h"
#include "submission.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAP_RETRY_MS 10000

struct walk {
    struct session *s;
    const char *user;
    long long depth, count;
    enum owner result;
};

static void walk_address(struct walk *w, const char *addr);

static int walk_target(void *ctx, const char *target, bool supported)
{
    struct walk *w = ctx;
    if (supported && ++w->count <= sub_of(w->s)->alias_count)
        walk_address(w, target);
    return w->result == OWNER_NO ? 0 : 1; /* stop at the answer, or a table error */
}

static void walk_address(struct walk *w, const char *addr)
{
    char *result = NULL;
    enum rcpt_class c = recipient_classify(w->s, addr, &result);
    if (c == RCPT_USER && strcasecmp(result, w->user) == 0) {
        w->result = OWNER_YES;
    } else if (c == RCPT_TEMPFAIL) {
        w->result = OWNER_TEMPFAIL;
    } else if (c == RCPT_ALIAS && w->depth < sub_of(w->s)->alias_depth) {
        w->depth++;
        resolve_alias_targets(addr, result, walk_target, w, NULL);
        w->depth--;
    }
    free(result);
}

/* The table, opened when first needed (a missing one holds nothing). */
static struct map *sender_maps(struct submission *sub)
{
    if (sub->sender_maps || !sub->sender_maps_spec[0])
        return sub->sender_maps;
    long long now = event_now_ms();
    if (now < sub->sender_maps_retry_ms)
        return NULL;
    char *err = NULL;
    sub->sender_maps = map_open(sub->sender_maps_spec, &err);
    if (!sub->sender_maps) {
        if (errno != ENOENT)
            log_warn("submission_sender_login_maps %s: %s", sub->sender_maps_spec, err);
        sub->sender_maps_retry_ms = now + MAP_RETRY_MS;
    }
    free(err);
    return sub->sender_maps;
}

/* Is user among the logins of value ("a@d, b@d c@d")? */
static bool listed(const char *value, const char *user)
{
    char *copy = xstrdup(value), *save = NULL;
    bool found = false;
    for (char *t = strtok_r(copy, ", \t", &save); t && !found; t = strtok_r(NULL, ", \t", &save))
        found = strcasecmp(t, user) == 0;
    free(copy);
    return found;
}

static enum owner from_maps(struct submission *sub, const char *user, const char *addr)
{
    struct map *m = sender_maps(sub);
    if (!m)
        return OWNER_NO;
    const char *at = strrchr(addr, '@');
    const char *keys[2] = {addr, at};
    for (size_t i = 0; i < 2 && keys[i]; i++) {
        char *value = NULL, *err = NULL;
        int r = map_lookup(m, keys[i], &value, &err);
        if (r < 0) {
            log_warn("submission_sender_login_maps: %s", err);
            free(err);
            return OWNER_TEMPFAIL;
        }
        bool yes = r == 1 && listed(value, user);
        free(value);
        if (yes)
            return OWNER_YES;
    }
    return OWNER_NO;
}

enum owner sender_owner(struct session *s, const char *user, const char *addr)
{
    if (strcasecmp(addr, user) == 0)
        return OWNER_YES;
    enum owner o = from_maps(sub_of(s), user, addr);
    if (o != OWNER_NO)
        return o;
    struct walk w = {.s = s, .user = user, .result = OWNER_NO};
    walk_address(&w, addr);
    return w.result;
}
