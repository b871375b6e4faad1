/* cmd_mailbox.c - commands on mailboxes as a whole: STATUS (RFC 9051 sec 6.3.11; SIZE of
 * RFC 8438) from the index without opening message files, also for LIST-STATUS (cmd_list.c),
 * and NAMESPACE (RFC 2342: one personal namespace, "" with separator "."). LIST and LSUB are
 * in cmd_list.c. */
#include "imap_mailbox.h"
#include "log.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void cmd_namespace(struct imap_session *s, struct imap_command *cmd)
{
    (void)cmd;
    imap_reply(s, "* NAMESPACE ((\"\" \"%c\")) NIL NIL", IMAP_SEPARATOR);
    imap_ok(s, "NAMESPACE completed.");
}

/* --- STATUS --- */

struct counts {
    uint64_t deleted;
};

static int count(void *ctx, const struct mailbox_msg *m)
{
    struct counts *c = ctx;
    c->deleted += (m->flags & MS_FLAG_TRASHED) != 0;
    return 0;
}

static const char *const status_names[] = {"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED",
                                           "RECENT", "SIZE", "HIGHESTMODSEQ", NULL};

bool status_items_valid(const struct imap_arg *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *const *k = status_names;
        while (*k && !imap_arg_atom_is(&items[i], *k))
            k++;
        if (!*k)
            return false;
    }
    return true;
}

int status_items(struct imap_session *s, const char *name, const struct imap_arg *items, size_t n,
                 struct buf *out)
{
    struct mailbox_info info;
    char *err = NULL;
    int r = mailbox_info(s->mu, name, &info, &err);
    if (r <= 0) {
        if (r < 0)
            log_warn("%s: STATUS %s: %s, session=<%s>", s->user, name, err ? err : "?", s->id);
        free(err);
        return r;
    }
    struct counts c = {0};
    struct mailbox_status st = {0};
    mailbox_status(s->mu, name, &st, &err);
    free(err);
    err = NULL;
    buf_puts(out, "* STATUS ");
    imap_name_out(s, out, name);
    buf_puts(out, " (");
    bool counted = false;
    for (size_t i = 0; i < n; i++) {
        const struct imap_arg *a = &items[i];
        if (imap_arg_atom_is(a, "DELETED") && !counted) {
            mailbox_iterate(s->mu, name, 1, count, &c, &err);
            counted = true;
        }
        const char *sp = i ? " " : "";
        if (imap_arg_atom_is(a, "MESSAGES")) buf_printf(out, "%sMESSAGES %llu", sp, (unsigned long long)info.messages);
        else if (imap_arg_atom_is(a, "UIDNEXT")) buf_printf(out, "%sUIDNEXT %u", sp, info.uidnext);
        else if (imap_arg_atom_is(a, "UIDVALIDITY")) buf_printf(out, "%sUIDVALIDITY %u", sp, info.uidvalidity);
        else if (imap_arg_atom_is(a, "UNSEEN")) buf_printf(out, "%sUNSEEN %llu", sp, (unsigned long long)st.unseen);
        else if (imap_arg_atom_is(a, "DELETED")) buf_printf(out, "%sDELETED %llu", sp, (unsigned long long)c.deleted);
        else if (imap_arg_atom_is(a, "RECENT")) buf_printf(out, "%sRECENT %llu", sp, (unsigned long long)st.recent);
        else if (imap_arg_atom_is(a, "SIZE")) buf_printf(out, "%sSIZE %llu", sp, (unsigned long long)info.vsize);
        else if (imap_arg_atom_is(a, "HIGHESTMODSEQ")) { /* RFC 7162 sec 3.1.6, enables CONDSTORE */
            buf_printf(out, "%sHIGHESTMODSEQ %llu", sp, (unsigned long long)info.highestmodseq);
            condstore_enable(s);
        }
    }
    buf_putc(out, ')');
    free(err);
    return 1;
}

void cmd_status(struct imap_session *s, struct imap_command *cmd)
{
    char *name = cmd->nargs == 2 ? imap_name_in(s, &cmd->args[0]) : NULL;
    if (cmd->nargs != 2 || cmd->args[1].type != IMAP_ARG_LIST || cmd->args[1].n == 0) {
        free(name);
        imap_bad(s, "Syntax: STATUS mailbox (items).");
        return;
    }
    if (!status_items_valid(cmd->args[1].list, cmd->args[1].n)) {
        free(name);
        imap_bad(s, "Unknown STATUS item.");
        return;
    }
    struct buf b = BUF_INIT;
    int r = name ? status_items(s, name, cmd->args[1].list, cmd->args[1].n, &b) : 0;
    free(name);
    if (r <= 0) {
        buf_free(&b);
        imap_no(s, r < 0 ? "[SERVERBUG] Status unavailable." : "[NONEXISTENT] No such mailbox.");
        return;
    }
    imap_reply(s, "%s", buf_cstr(&b));
    buf_free(&b);
    view_sync(s, true);
    imap_ok(s, "STATUS completed.");
}
