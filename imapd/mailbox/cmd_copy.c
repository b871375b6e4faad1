/* cmd_copy.c - COPY and MOVE with their UID forms (RFC 9051 sec 6.4.7-6.4.8, RFC 6851) and
 * UIDPLUS's COPYUID (RFC 4315): the store copies (hard links) or moves the files and their
 * index records in one transaction each, durably (lib/store/mailstore.h), so a MOVE never
 * leaves a message in both mailboxes or in neither. MOVE answers COPYUID in an untagged OK,
 * then the EXPUNGE responses, then the tagged OK. */
#include "imap_mailbox.h"
#include "log.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

/* Keep the (src, got) pairs the store copied; returns how many. */
static size_t drop_uncopied(uint32_t *src, uint32_t *got, size_t n)
{
    size_t kept = 0;
    for (size_t k = 0; k < n; k++) {
        if (got[k]) {
            src[kept] = src[k];
            got[kept++] = got[k];
        }
    }
    return kept;
}

void cmd_copy(struct imap_session *s, struct imap_command *cmd, bool uid, bool move)
{
    struct imap_seqset set;
    if (cmd->nargs != 2 || cmd->args[0].type != IMAP_ARG_ATOM ||
        !imap_arg_is_astring(&cmd->args[1]) || !imap_seqset_parse(cmd->args[0].str, 100000, &set)) {
        imap_bad(s, "Syntax: %s sequence-set mailbox.", cmd->name);
        return;
    }
    if (move && s->view->readonly) {
        imap_seqset_free(&set);
        imap_no(s, "[READ-ONLY] The mailbox is read-only.");
        return;
    }
    char *dst = imap_name_in(s, &cmd->args[1]);
    view_sync(s, uid);
    size_t n;
    size_t *pos = view_resolve(s, &set, uid, &n);
    imap_seqset_free(&set);
    if (!dst || n == 0) {
        if (!dst)
            imap_no(s, "[CANNOT] Invalid mailbox name.");
        else /* RFC 9051 sec 6.4.8: nothing matched is not an error */
            imap_ok(s, "%s completed: no messages.", cmd->name);
        free(pos);
        free(dst);
        return;
    }
    uint32_t *src = xreallocarray(NULL, n, sizeof *src), *got = xreallocarray(NULL, n, sizeof *got);
    for (size_t k = 0; k < n; k++)
        src[k] = s->view->msgs[pos[k]].uid;
    free(pos);
    uint32_t uidvalidity = 0;
    char *err = NULL;
    enum mailstore_result r =
        move ? mailbox_move(s->mu, s->view->name, src, n, dst, got, &uidvalidity, &err)
             : mailbox_copy(s->mu, s->view->name, src, n, dst, s->quota, got, &uidvalidity, &err);
    /* Messages another session expunged meanwhile are not copied (got 0): COPYUID pairs only
     * what was (RFC 4315 sec 3: uid-set is of nz-number, source and destination one to one);
     * nothing copied at all is a NO (RFC 2180 sec 4.4.1). */
    size_t copied = r == MS_OK ? drop_uncopied(src, got, n) : 0;
    if (r == MS_OK && copied == 0) {
        imap_no(s, "[EXPUNGEISSUED] The messages no longer exist.");
    } else if (r == MS_OK) {
        if (copied < n)
            imap_reply(s, "* NO [EXPUNGEISSUED] Some of the messages no longer exist.");
        n = copied;
        struct buf code = BUF_INIT;
        buf_printf(&code, "[COPYUID %u ", uidvalidity);
        imap_seqset_write(&code, src, n);
        buf_putc(&code, ' ');
        imap_seqset_write(&code, got, n);
        buf_putc(&code, ']');
        if (move) {
            imap_reply(s, "* OK %s Moved.", buf_cstr(&code));
            view_sync(s, true);
            imap_ok(s, "%s completed.", cmd->name);
        } else {
            imap_ok(s, "%s %s completed.", buf_cstr(&code), cmd->name);
        }
        buf_free(&code);
    } else {
        imap_store_error(s, r, true, cmd->name, err);
    }
    free(err);
    free(src);
    free(got);
    free(dst);
}
