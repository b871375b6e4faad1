/* condstore.c - the CONDSTORE and QRESYNC state of a session (RFC 7162, doc/imapd.md).
 * CONDSTORE is on after ENABLE CONDSTORE or QRESYNC, or after the first command that uses it
 * (sec 3.1: SELECT/EXAMINE (CONDSTORE), FETCH MODSEQ or CHANGEDSINCE, SEARCH MODSEQ, STORE
 * UNCHANGEDSINCE, STATUS HIGHESTMODSEQ); from then on every unsolicited FETCH carries UID and
 * MODSEQ. A QRESYNC client keeps the mailbox's HIGHESTMODSEQ to resynchronise later, so it
 * is told a new one when expunges or new messages moved it (they carry no MODSEQ), and a
 * lower one when this session sent MODSEQs above an expunge it has not reported yet (an
 * expunge held back during FETCH, STORE or SEARCH): a client that kept such a MODSEQ would
 * never learn of that expunge (RFC 7162 sec 3.2, RFC 5162 erratum 1810). */
#include "imap_mailbox.h"

static void say_highestmodseq(struct imap_session *s, uint64_t modseq)
{
    imap_reply(s, "* OK [HIGHESTMODSEQ %llu] Highest", (unsigned long long)modseq);
    s->view->told_modseq = modseq;
}

void condstore_enable(struct imap_session *s)
{
    if (s->condstore)
        return;
    s->condstore = true;
    if (s->view)
        say_highestmodseq(s, s->view->highestmodseq);
}

void condstore_write_modseq(struct imap_session *s, struct buf *out, uint64_t modseq)
{
    buf_printf(out, "MODSEQ (%llu)", (unsigned long long)modseq);
    if (s->view && modseq > s->view->told_modseq)
        s->view->told_modseq = modseq;
}

void condstore_report(struct imap_session *s)
{
    struct view *v = s->view;
    if (!s->qresync || !v)
        return;
    if (v->expunges_pending) {
        if (v->told_modseq > v->full_modseq)
            say_highestmodseq(s, v->full_modseq);
    } else if (v->highestmodseq > v->told_modseq) {
        say_highestmodseq(s, v->highestmodseq);
    }
}
