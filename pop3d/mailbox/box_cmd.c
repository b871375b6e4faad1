/* box_cmd.c - the TRANSACTION state (RFC 1939 sec 5, RFC 2449 sec 5): STAT, LIST, UIDL,
 * RETR, TOP, DELE, NOOP, RSET, CAPA, and QUIT, which enters the UPDATE state (sec 6).
 * Message numbers count the maildrop snapshot from 1; sizes are the CRLF sizes from the
 * index, which is what RETR sends (before dot-stuffing). UIDL is pop3d_uidl_format expanded
 * for the message (lib/proto/pop3_uidl.h; "UIDVALIDITY-UID" by default). */
#include "log.h"
#include "pop3_mailbox.h"
#include "pop3_uidl.h"
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The message numbered n, or NULL after the -ERR. */
static struct drop_msg *message(struct box_session *s, uint32_t n, size_t *index)
{
    if (n == 0 || n > s->drop.n) {
        box_error(s, "-ERR There is no message %" PRIu32 ".", n);
        return NULL;
    }
    struct drop_msg *m = &s->drop.msgs[n - 1];
    if (m->deleted) {
        box_error(s, "-ERR Message %" PRIu32 " is deleted.", n);
        return NULL;
    }
    *index = n - 1;
    return m;
}

static void cmd_stat(struct box_session *s)
{
    size_t count = 0;
    uint64_t size = 0;
    for (size_t i = 0; i < s->drop.n; i++)
        if (!s->drop.msgs[i].deleted) {
            count++;
            size += s->drop.msgs[i].vsize;
        }
    box_reply(s, "+OK %zu %" PRIu64, count, size);
}

static void uidl_of(struct box_session *s, const struct drop_msg *m, struct buf *out)
{
    const struct pop3_uidl_vars v = {.uid = m->uid, .uidvalidity = s->drop.uidvalidity,
                                     .filename = m->name};
    pop3_uidl_expand(s->d->p.uidl_format, &v, out);
}

/* LIST and UIDL: one message, or every message not deleted. */
static void cmd_list(struct box_session *s, const struct pop3_command *c, bool uidl)
{
    struct buf u = BUF_INIT;
    size_t i;
    if (c->nnum == 1) {
        struct drop_msg *m = message(s, c->num[0], &i);
        if (m && uidl) {
            uidl_of(s, m, &u);
            box_reply(s, "+OK %zu %s", i + 1, buf_cstr(&u));
        } else if (m) {
            box_reply(s, "+OK %zu %" PRIu64, i + 1, m->vsize);
        }
        buf_free(&u);
        return;
    }
    struct buf b = BUF_INIT;
    buf_puts(&b, uidl ? "+OK Unique-ID listing follows\r\n" : "+OK Scan listing follows\r\n");
    for (i = 0; i < s->drop.n; i++) {
        const struct drop_msg *m = &s->drop.msgs[i];
        if (m->deleted)
            continue;
        if (uidl) {
            uidl_of(s, m, &u);
            buf_printf(&b, "%zu %s\r\n", i + 1, buf_cstr(&u));
        } else {
            buf_printf(&b, "%zu %" PRIu64 "\r\n", i + 1, m->vsize);
        }
    }
    buf_puts(&b, ".\r\n");
    conn_write(s->conn, b.data, b.len);
    buf_free(&b);
    buf_free(&u);
}

static void cmd_capa(struct box_session *s)
{
    static const char *const caps[] = {"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE",
                                       "PIPELINING", ("IMPLEMENTATION " POP3_IMPLEMENTATION), "."};
    box_reply(s, "+OK Capability list follows");
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        box_reply(s, "%s", caps[i]);
}

static void cmd_quit(struct box_session *s)
{
    /* RFC 1939 sec 6: the UPDATE state removes the messages marked deleted. */
    unsigned failed = maildrop_update(&s->drop, s->user);
    s->updated = true;
    s->end_reason = "Logged out";
    if (failed)
        box_reply(s, "-ERR [SYS/TEMP] %u deleted messages could not be removed.", failed);
    else
        box_reply(s, "+OK Logging out.");
    box_close(s);
}

static void cmd_rset(struct box_session *s)
{
    for (size_t i = 0; i < s->drop.n; i++)
        if (s->drop.msgs[i].deleted) {
            s->drop.msgs[i].deleted = false;
            s->st.del--;
        }
    box_reply(s, "+OK");
}

void box_command(struct box_session *s, struct buf *line)
{
    struct pop3_command c;
    const char *err;
    size_t i;
    struct drop_msg *m;
    enum pop3_parse r = pop3_parse(line->data, line->len, &c, &err);
    if (log_verbose())
        log_debug("< %s: %s", s->user, c.cmd == POP3_PASS ? "PASS ..." : buf_cstr(line));
    char refusal[160];
    if (pop3_parse_reply(r, err, refusal, sizeof refusal)) {
        box_error(s, "%s", refusal);
        return;
    }
    switch (c.cmd) {
    case POP3_STAT: cmd_stat(s); break;
    case POP3_LIST: cmd_list(s, &c, false); break;
    case POP3_UIDL: cmd_list(s, &c, true); break;
    case POP3_NOOP: box_reply(s, "+OK"); break;
    case POP3_RSET: cmd_rset(s); break;
    case POP3_CAPA: cmd_capa(s); break;
    case POP3_QUIT: cmd_quit(s); break;
    case POP3_DELE:
        if ((m = message(s, c.num[0], &i)) != NULL) {
            m->deleted = true;
            s->st.del++;
            box_reply(s, "+OK Marked to be deleted.");
        }
        break;
    case POP3_RETR:
        if ((m = message(s, c.num[0], &i)) != NULL)
            box_send_start(s, i, -1);
        break;
    case POP3_TOP:
        if ((m = message(s, c.num[0], &i)) != NULL)
            box_send_start(s, i, c.num[1]);
        break;
    default: /* USER, PASS, AUTH, APOP, STLS */
        box_error(s, "-ERR %s is not valid in the TRANSACTION state.", c.keyword);
    }
}
