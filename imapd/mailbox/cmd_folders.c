/* cmd_folders.c - creating and removing mailboxes and their subscriptions: CREATE, DELETE,
 * RENAME (RFC 9051 sec 6.3.4-6.3.6, with RFC 3501's RENAME INBOX), SUBSCRIBE and UNSUBSCRIBE
 * (6.3.7-6.3.8), on the store's folder operations (lib/store/mailstore.h); and the response
 * codes every command uses for a store result (imap_store_error). */
#include "imap_mailbox.h"
#include "log.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

void imap_store_error(struct imap_session *s, enum mailstore_result r, bool trycreate,
                      const char *what, const char *err)
{
    switch (r) {
    case MS_NONEXISTENT:
        if (trycreate) /* RFC 9051 sec 7.1: the client may CREATE and retry */
            imap_no(s, "[TRYCREATE] No such mailbox.");
        else
            imap_no(s, "[NONEXISTENT] No such mailbox.");
        break;
    case MS_EXISTS: imap_no(s, "[ALREADYEXISTS] The mailbox exists already."); break;
    case MS_INVALID: imap_no(s, "[CANNOT] Invalid mailbox name."); break;
    case MS_LIMIT: imap_no(s, "[LIMIT] Too many keywords in this mailbox."); break;
    case MS_CANNOT: imap_no(s, "[CANNOT] %s is not possible here.", what); break;
    case MS_OVERQUOTA: imap_no(s, "[OVERQUOTA] The mailbox is over its quota."); break;
    default:
        log_warn("%s: %s: %s, session=<%s>", s->user, what, err ? err : "?", s->id);
        imap_no(s, "[UNAVAILABLE] %s failed; try again later.", what);
    }
}

/* The one mailbox-name argument of CREATE, DELETE, SUBSCRIBE, UNSUBSCRIBE. */
static char *one_name(struct imap_session *s, struct imap_command *cmd)
{
    if (cmd->nargs != 1 || !imap_arg_is_astring(&cmd->args[0])) {
        imap_bad(s, "Syntax: %s mailbox.", cmd->name);
        return NULL;
    }
    char *name = imap_name_in(s, &cmd->args[0]);
    if (!name)
        imap_no(s, "[CANNOT] Invalid mailbox name.");
    return name;
}

void cmd_create(struct imap_session *s, struct imap_command *cmd)
{
    /* RFC 9051 sec 6.3.4: a trailing separator says the name is meant to hold others; the
     * mailbox is created under the name without it. */
    struct imap_arg *a = cmd->nargs == 1 ? &cmd->args[0] : NULL;
    if (a && imap_arg_is_astring(a) && a->len > 1 && a->str[a->len - 1] == IMAP_SEPARATOR)
        ((char *)a->str)[--a->len] = 0;
    char *name = one_name(s, cmd);
    if (!name)
        return;
    char *err = NULL;
    enum mailstore_result r = strcmp(name, "INBOX") == 0 ? MS_EXISTS : mailbox_create(s->mu, name, 0, &err);
    if (r == MS_OK)
        imap_ok(s, "CREATE completed.");
    else
        imap_store_error(s, r, false, "CREATE", err);
    free(err);
    free(name);
}

void cmd_delete(struct imap_session *s, struct imap_command *cmd)
{
    char *name = one_name(s, cmd);
    if (!name)
        return;
    if (s->view && strcmp(s->view->name, name) == 0) {
        free(name);
        imap_no(s, "[INUSE] The mailbox is selected in this session; select another first.");
        return;
    }
    char *err = NULL, *trash = NULL;
    enum mailstore_result r = mailbox_delete_later(s->mu, name, &trash, &err);
    if (trash) /* the files go on a worker thread */
        trash_remove(s->d, trash);
    if (r == MS_OK)
        imap_ok(s, "DELETE completed.");
    else
        imap_store_error(s, r, false, "DELETE", err);
    free(err);
    free(name);
}

void cmd_rename(struct imap_session *s, struct imap_command *cmd)
{
    if (cmd->nargs != 2 || !imap_arg_is_astring(&cmd->args[0]) || !imap_arg_is_astring(&cmd->args[1])) {
        imap_bad(s, "Syntax: RENAME old new.");
        return;
    }
    char *from = imap_name_in(s, &cmd->args[0]), *to = imap_name_in(s, &cmd->args[1]);
    char *err = NULL;
    enum mailstore_result r = !from || !to ? MS_INVALID : mailbox_rename(s->mu, from, to, &err);
    if (r == MS_OK)
        imap_ok(s, "RENAME completed.");
    else
        imap_store_error(s, r, false, "RENAME", err);
    free(err);
    free(from);
    free(to);
}

static void subscribe(struct imap_session *s, struct imap_command *cmd, bool on)
{
    char *name = one_name(s, cmd);
    if (!name)
        return;
    char *err = NULL;
    enum mailstore_result r = mailbox_subscribe(s->mu, name, on, &err);
    if (r == MS_OK)
        imap_ok(s, "%s completed.", cmd->name);
    else
        imap_store_error(s, r, false, cmd->name, err);
    free(err);
    free(name);
}

void cmd_subscribe(struct imap_session *s, struct imap_command *cmd) { subscribe(s, cmd, true); }
void cmd_unsubscribe(struct imap_session *s, struct imap_command *cmd) { subscribe(s, cmd, false); }
