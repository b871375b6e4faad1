/* cmd_quota.c - QUOTA (RFC 9208) over the user's one storage quota (accounts: the user's own
 * or virtual_mailbox_quota; the same limit delivery, APPEND and COPY enforce): one quota root
 * "" covering every mailbox of the user, with the STORAGE resource in units of 1024 octets
 * (sec 5.1). A user without a quota has no quota root. Quotas are set by the operator
 * (`posthorn user`), so SETQUOTA is refused and QUOTASET not announced (sec 4.1.1). */
#include "imap_mailbox.h"
#include "log.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

/* "* QUOTA "" (STORAGE used limit)", or false when usage cannot be read. */
static bool write_quota(struct imap_session *s)
{
    long long used = mail_user_usage(s->mu);
    if (used < 0)
        return false;
    imap_reply(s, "* QUOTA \"\" (STORAGE %lld %lld)", (used + 1023) / 1024, s->quota / 1024);
    return true;
}

static void cmd_getquota(struct imap_session *s, struct imap_command *cmd)
{
    if (cmd->nargs != 1 || !imap_arg_is_astring(&cmd->args[0])) {
        imap_bad(s, "Syntax: GETQUOTA quota-root.");
        return;
    }
    if (cmd->args[0].len != 0 || s->quota <= 0) {
        imap_no(s, "[NONEXISTENT] No such quota root.");
        return;
    }
    if (!write_quota(s)) {
        imap_no(s, "[SERVERBUG] Cannot read the usage.");
        return;
    }
    imap_ok(s, "GETQUOTA completed.");
}

static void cmd_getquotaroot(struct imap_session *s, struct imap_command *cmd)
{
    char *name = cmd->nargs == 1 ? imap_name_in(s, &cmd->args[0]) : NULL;
    if (cmd->nargs != 1) {
        imap_bad(s, "Syntax: GETQUOTAROOT mailbox.");
        free(name);
        return;
    }
    struct mailbox_info info;
    char *err = NULL;
    int r = name ? mailbox_info(s->mu, name, &info, &err) : 0;
    if (r < 0)
        log_warn("%s: GETQUOTAROOT %s: %s, session=<%s>", s->user, name, err ? err : "?", s->id);
    free(err);
    if (r <= 0 && !(name && strcmp(name, "INBOX") == 0 && r == 0)) {
        imap_no(s, r < 0 ? "[SERVERBUG] Cannot read the mailbox." : "[NONEXISTENT] No such mailbox.");
        free(name);
        return;
    }
    struct buf b = BUF_INIT;
    buf_puts(&b, "* QUOTAROOT ");
    imap_name_out(s, &b, name);
    if (s->quota > 0)
        buf_puts(&b, " \"\"");
    imap_reply(s, "%s", buf_cstr(&b));
    buf_free(&b);
    free(name);
    if (s->quota > 0 && !write_quota(s)) {
        imap_no(s, "[SERVERBUG] Cannot read the usage.");
        return;
    }
    imap_ok(s, "GETQUOTAROOT completed.");
}

static void cmd_setquota(struct imap_session *s, struct imap_command *cmd)
{
    (void)cmd;
    imap_no(s, "[NOPERM] Quotas are set by the administrator.");
}

void cmd_quota(struct imap_session *s, struct imap_command *cmd)
{
    if (strcmp(cmd->name, "GETQUOTA") == 0)
        cmd_getquota(s, cmd);
    else if (strcmp(cmd->name, "GETQUOTAROOT") == 0)
        cmd_getquotaroot(s, cmd);
    else
        cmd_setquota(s, cmd);
}
