/* commands.c - the command table of the authenticated and selected states (RFC 9051 sec 6)
 * and the commands small enough to live here: CAPABILITY, NOOP, CHECK, LOGOUT, ENABLE, ID.
 * Before the tagged reply of most commands the session learns what changed in its selected
 * mailbox (view_sync); FETCH, STORE and SEARCH by sequence number must not be followed by
 * EXPUNGE responses (RFC 9051 sec 7.5.1). */
#include "imap_caps.h"
#include "imap_mailbox.h"
#include "search.h"
#include "log.h"
#include <string.h>
#include <strings.h>

static void cmd_capability(struct imap_session *s)
{
    struct buf b = BUF_INIT;
    imap_caps_postlogin(&b, s->d->p.append_limit, s->d->p.compress_level > 0);
    imap_reply(s, "* CAPABILITY %s", buf_cstr(&b));
    buf_free(&b);
    imap_ok(s, "CAPABILITY completed.");
}

static void cmd_logout(struct imap_session *s)
{
    s->end_reason = "Logged out";
    imap_reply(s, "* BYE Logging out.");
    imap_ok(s, "LOGOUT completed.");
    imap_close(s);
}

/* RFC 5161; RFC 9051 sec 6.3.1: IMAP4rev2 (which implies UTF-8 names), UTF8=ACCEPT (RFC 6855),
 * CONDSTORE and QRESYNC (RFC 7162 sec 3.1, 3.2.3: QRESYNC implies CONDSTORE). */
static void cmd_enable(struct imap_session *s, struct imap_command *cmd)
{
    if (cmd->nargs == 0) {
        imap_bad(s, "Syntax: ENABLE capability...");
        return;
    }
    struct buf enabled = BUF_INIT;
    for (size_t i = 0; i < cmd->nargs; i++) {
        const struct imap_arg *a = &cmd->args[i];
        if (imap_arg_atom_is(a, "IMAP4rev2") && !s->rev2) {
            s->rev2 = s->utf8 = true;
            buf_puts(&enabled, " IMAP4rev2");
        } else if (imap_arg_atom_is(a, "UTF8=ACCEPT") && !s->utf8_accept) {
            s->utf8 = s->utf8_accept = true;
            buf_puts(&enabled, " UTF8=ACCEPT");
        } else if (imap_arg_atom_is(a, "CONDSTORE") && !s->condstore) {
            condstore_enable(s);
            buf_puts(&enabled, " CONDSTORE");
        } else if (imap_arg_atom_is(a, "QRESYNC") && !s->qresync) {
            s->qresync = true;
            condstore_enable(s);
            buf_puts(&enabled, " QRESYNC");
        }
    }
    imap_reply(s, "* ENABLED%s", buf_cstr(&enabled));
    buf_free(&enabled);
    imap_ok(s, "ENABLE completed.");
}

static void cmd_id(struct imap_session *s, struct imap_command *cmd)
{
    if (!imap_id_params_valid(cmd)) {
        imap_bad(s, "Syntax: ID (name value ...) or ID NIL.");
        return;
    }
    imap_reply(s, "* ID (\"name\" \"%s\")", IMAP_IMPLEMENTATION);
    imap_ok(s, "ID completed.");
}

static void cmd_noop(struct imap_session *s, const char *name)
{
    view_sync(s, true);
    imap_ok(s, "%s completed.", name);
}

enum need { ANY, SELECTED };

struct command {
    const char *name;
    enum need need;
    void (*fn)(struct imap_session *s, struct imap_command *cmd);
};

static void do_capability(struct imap_session *s, struct imap_command *c) { (void)c; cmd_capability(s); }
static void do_noop(struct imap_session *s, struct imap_command *c) { cmd_noop(s, c->name); }
static void do_logout(struct imap_session *s, struct imap_command *c) { (void)c; cmd_logout(s); }
static void do_select(struct imap_session *s, struct imap_command *c) { cmd_select(s, c, false); }
static void do_examine(struct imap_session *s, struct imap_command *c) { cmd_select(s, c, true); }
static void do_list(struct imap_session *s, struct imap_command *c) { cmd_list(s, c, false); }
static void do_lsub(struct imap_session *s, struct imap_command *c) { cmd_list(s, c, true); }
static void do_close(struct imap_session *s, struct imap_command *c) { cmd_close(s, c, true); }
static void do_unselect(struct imap_session *s, struct imap_command *c) { cmd_close(s, c, false); }
static void do_expunge(struct imap_session *s, struct imap_command *c) { cmd_expunge(s, c, false); }
static void do_uid_expunge(struct imap_session *s, struct imap_command *c) { cmd_expunge(s, c, true); }
static void do_fetch(struct imap_session *s, struct imap_command *c) { cmd_fetch(s, c, false); }
static void do_uid_fetch(struct imap_session *s, struct imap_command *c) { cmd_fetch(s, c, true); }
static void do_store(struct imap_session *s, struct imap_command *c) { cmd_store(s, c, false); }
static void do_uid_store(struct imap_session *s, struct imap_command *c) { cmd_store(s, c, true); }
static void do_search(struct imap_session *s, struct imap_command *c) { cmd_search(s, c, false); }
static void do_copy(struct imap_session *s, struct imap_command *c) { cmd_copy(s, c, false, false); }
static void do_uid_copy(struct imap_session *s, struct imap_command *c) { cmd_copy(s, c, true, false); }
static void do_move(struct imap_session *s, struct imap_command *c) { cmd_copy(s, c, false, true); }
static void do_uid_move(struct imap_session *s, struct imap_command *c) { cmd_copy(s, c, true, true); }
static void do_uid_search(struct imap_session *s, struct imap_command *c) { cmd_search(s, c, true); }
static void do_sort(struct imap_session *s, struct imap_command *c) { cmd_sort(s, c, false); }
static void do_uid_sort(struct imap_session *s, struct imap_command *c) { cmd_sort(s, c, true); }
static void do_thread(struct imap_session *s, struct imap_command *c) { cmd_thread(s, c, false); }
static void do_uid_thread(struct imap_session *s, struct imap_command *c) { cmd_thread(s, c, true); }

/* COMPRESS DEFLATE (RFC 4978 sec 3): the OK goes out uncompressed, everything after it in
 * both directions is raw DEFLATE. */
static void do_compress(struct imap_session *s, struct imap_command *c)
{
    if (c->nargs != 1 || !imap_arg_atom_is(&c->args[0], "DEFLATE") || s->d->p.compress_level <= 0) {
        imap_bad(s, "Unknown compression mechanism.");
        return;
    }
    if (conn_compressed(s->conn)) {
        imap_no(s, "[COMPRESSIONACTIVE] DEFLATE is already active.");
        return;
    }
    if (s->sess->holding) { /* the OK would be held back past the switch (lib/io/session.h) */
        imap_no(s, "[UNAVAILABLE] Not while replies are delayed.");
        return;
    }
    imap_ok(s, "DEFLATE active.");
    /* mem_level 5: 16 KiB of deflate state besides the window (zstream.h). */
    if (!conn_compress_start(s->conn, s->d->p.compress_level, s->d->p.compress_window_bits, 5)) {
        log_warn("%s: COMPRESS: out of memory, session=<%s>", s->user, s->id);
        s->end_reason = "COMPRESS failed";
        imap_close(s);
    }
}

/* CANCELUPDATE "tag" ... (RFC 5267 sec 4.3): the kept searches of those tags end. */
static void do_cancelupdate(struct imap_session *s, struct imap_command *cmd)
{
    if (cmd->nargs == 0) {
        imap_bad(s, "Syntax: CANCELUPDATE \"tag\" ...");
        return;
    }
    for (size_t i = 0; i < cmd->nargs; i++)
        if (!imap_arg_is_astring(&cmd->args[i])) {
            imap_bad(s, "Syntax: CANCELUPDATE \"tag\" ...");
            return;
        }
    bool unknown = false;
    for (size_t i = 0; i < cmd->nargs; i++)
        unknown |= !search_update_cancel(s->view, cmd->args[i].str);
    if (unknown)
        imap_no(s, "No search is kept up to date under one of those tags.");
    else
        imap_ok(s, "CANCELUPDATE completed.");
}

static const struct command commands[] = {
    {"CANCELUPDATE", SELECTED, do_cancelupdate},
    {"COMPRESS", ANY, do_compress},
    {"GETQUOTA", ANY, cmd_quota},
    {"GETQUOTAROOT", ANY, cmd_quota},
    {"SETQUOTA", ANY, cmd_quota},
    {"CAPABILITY", ANY, do_capability},
    {"NOOP", ANY, do_noop},
    {"CHECK", SELECTED, do_noop},
    {"LOGOUT", ANY, do_logout},
    {"ENABLE", ANY, cmd_enable},
    {"ID", ANY, cmd_id},
    {"NAMESPACE", ANY, cmd_namespace},
    {"LIST", ANY, do_list},
    {"LSUB", ANY, do_lsub},
    {"STATUS", ANY, cmd_status},
    {"CREATE", ANY, cmd_create},
    {"DELETE", ANY, cmd_delete},
    {"RENAME", ANY, cmd_rename},
    {"SUBSCRIBE", ANY, cmd_subscribe},
    {"UNSUBSCRIBE", ANY, cmd_unsubscribe},
    {"APPEND", ANY, cmd_append},
    {"SELECT", ANY, do_select},
    {"EXAMINE", ANY, do_examine},
    {"IDLE", ANY, cmd_idle},
    {"CLOSE", SELECTED, do_close},
    {"UNSELECT", SELECTED, do_unselect},
    {"EXPUNGE", SELECTED, do_expunge},
    {"UID EXPUNGE", SELECTED, do_uid_expunge},
    {"FETCH", SELECTED, do_fetch},
    {"UID FETCH", SELECTED, do_uid_fetch},
    {"STORE", SELECTED, do_store},
    {"UID STORE", SELECTED, do_uid_store},
    {"SEARCH", SELECTED, do_search},
    {"UID SEARCH", SELECTED, do_uid_search},
    {"SORT", SELECTED, do_sort},
    {"UID SORT", SELECTED, do_uid_sort},
    {"THREAD", SELECTED, do_thread},
    {"UID THREAD", SELECTED, do_uid_thread},
    {"COPY", SELECTED, do_copy},
    {"UID COPY", SELECTED, do_uid_copy},
    {"MOVE", SELECTED, do_move},
    {"UID MOVE", SELECTED, do_uid_move},
};

void imap_dispatch(struct imap_session *s, struct imap_command *cmd)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, cmd->name) != 0)
            continue;
        if (commands[i].need == SELECTED && !s->view) {
            imap_bad(s, "No mailbox selected.");
            return;
        }
        commands[i].fn(s, cmd);
        return;
    }
    if (strcmp(cmd->name, "LOGIN") == 0 || strcmp(cmd->name, "AUTHENTICATE") == 0 ||
        strcmp(cmd->name, "STARTTLS") == 0)
        imap_bad(s, "Already logged in.");
    else
        imap_bad(s, "Unknown command %s.", cmd->name);
}
