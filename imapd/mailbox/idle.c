/* idle.c - IDLE (RFC 2177, RFC 9051 sec 6.3.13): after "+ idling" the session is told of
 * changes as they happen (watch.c calls view_sync for idling sessions), until the client sends
 * DONE. The idle timeout (imapd_idle_timeout, 30 minutes by default as RFC 9051 sec 5.4 asks)
 * applies as to any other wait for input; every imapd_idle_keepalive a quiet IDLE session
 * gets "* OK Still here", so that NAT boxes keep the connection. */
#include "imap_mailbox.h"
#include <strings.h>

void cmd_idle(struct imap_session *s, struct imap_command *cmd)
{
    if (cmd->nargs != 0) {
        imap_bad(s, "Syntax: IDLE.");
        return;
    }
    view_sync(s, true);
    imap_reply(s, "+ idling");
    s->idling = true;
    s->idle_said_ms = event_now_ms();
    s->changed = false;
}

void idle_keepalive(struct imap_session *s)
{
    long long now = event_now_ms();
    if (!s->idling || now - s->idle_said_ms < s->d->p.keepalive_ms)
        return;
    s->idle_said_ms = now;
    imap_reply(s, "* OK Still here");
    conn_flush(s->conn);
}

void idle_input(struct imap_session *s, struct buf *line)
{
    s->idling = false;
    view_sync(s, true);
    if (line->len == 4 && strncasecmp(line->data, "DONE", 4) == 0)
        imap_ok(s, "IDLE terminated.");
    else
        imap_bad(s, "Expected DONE to end IDLE.");
}
