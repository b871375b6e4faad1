/* thread.c - THREAD and UID THREAD (RFC 5256 sec 4) with the algorithms ORDEREDSUBJECT and
 * REFERENCES (lib/proto/imap_thread.h), charset UTF-8 or US-ASCII, the search criteria of
 * SEARCH (search.h). The keys (base subject, sent date, Message-ID, References and
 * In-Reply-To) are read by scan.c; the answer is "* THREAD" and the thread lists, with
 * sequence numbers or, for UID THREAD, UIDs. */
#include "imap_mailbox.h"
#include "imap_thread.h"
#include "mem.h"
#include "scan.h"
#include "search.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct thread_cmd {
    bool references; /* else ORDEREDSUBJECT */
    bool uid;
    char name[32];
};

static void threaded(struct imap_session *s, struct scan_msg *msgs, size_t n, void *arg)
{
    struct thread_cmd *c = arg;
    struct imap_thread_msg *t = xreallocarray(NULL, n ? n : 1, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        const struct scan_msg *m = &msgs[i];
        t[i] = (struct imap_thread_msg){
            .number = c->uid ? s->view->msgs[m->pos].uid : (uint32_t)(m->pos + 1),
            .sent = m->sent, .subject = m->key[SK_SUBJECT] ? m->key[SK_SUBJECT] : "",
            .subject_len = m->keylen[SK_SUBJECT], .reply = m->reply, .message_id = m->msgid,
            .refs = (const char *const *)m->refs, .nrefs = m->nrefs};
    }
    struct buf out = BUF_INIT;
    buf_puts(&out, "* THREAD");
    if (n)
        buf_putc(&out, ' ');
    if (c->references)
        imap_thread_references(t, n, &out);
    else
        imap_thread_orderedsubject(t, n, &out);
    imap_reply(s, "%s", buf_cstr(&out));
    buf_free(&out);
    free(t);
    imap_ok(s, "%s completed.", c->name);
}

void cmd_thread(struct imap_session *s, struct imap_command *cmd, bool uid)
{
    const struct imap_arg *a = cmd->args;
    bool refs = cmd->nargs > 0 && imap_arg_atom_is(&a[0], "REFERENCES");
    if (cmd->nargs < 3 || (!refs && !imap_arg_atom_is(&a[0], "ORDEREDSUBJECT"))) {
        imap_bad(s, "Syntax: %s ORDEREDSUBJECT|REFERENCES charset search-criteria.", cmd->name);
        return;
    }
    if (!search_charset_ok(s, &a[1]))
        return;
    const char *err = NULL;
    struct search_program *prog = search_parse(s, a + 2, cmd->nargs - 2, &err);
    if (!prog) {
        imap_bad(s, "%s.", err);
        return;
    }
    struct thread_cmd *c = xcalloc(1, sizeof *c);
    c->references = refs;
    c->uid = uid;
    snprintf(c->name, sizeof c->name, "%s", cmd->name);
    view_sync(s, uid); /* no EXPUNGE during THREAD by sequence numbers (RFC 9051 sec 7.5.1) */
    search_resolve(prog, s);
    unsigned need = (1u << SK_SUBJECT) | SCAN_DATE | (refs ? SCAN_REFS : 0);
    scan_start(s, prog, need, threaded, free, c);
}
