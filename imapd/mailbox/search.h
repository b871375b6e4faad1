/* search.h - the search program of SEARCH (RFC 9051 sec 6.4.4, search.c) as SORT and THREAD
 * use it too (RFC 5256: their search criteria are SEARCH's), the RETURN options of ESEARCH
 * (RFC 4731), ESORT (RFC 5267) and SEARCHRES (RFC 5182), and the saved result "$". */
#ifndef IMAPD_MAILBOX_SEARCH_H
#define IMAPD_MAILBOX_SEARCH_H
#include "imap_mailbox.h"

struct search_program;

/* The message a key read (BODY, TEXT, HEADER, SENTON ...): whole, as stored. */
struct search_text {
    struct buf text;
    bool loaded;  /* reading was tried */
    bool failed;  /* and failed (gone, unreadable): text is empty */
};

/* Parse the search keys a[0..n) (what follows RETURN and CHARSET); NULL with *err (a BAD
 * reply's text) on a syntax error. */
struct search_program *search_parse(struct imap_session *s, const struct imap_arg *a, size_t n,
                                    const char **err);
/* Before the first search_match, after view_sync: "*" and "$" resolved in the view. */
void search_resolve(struct search_program *p, struct imap_session *s);
/* Does the message at view position pos match? A key that needed the message left it in
 * *t (t->text empty and t->loaded false when none did). */
bool search_match(struct search_program *p, struct imap_session *s, size_t pos, struct search_text *t);
void search_free(struct search_program *p);
/* Does the program use the MODSEQ key (its results then report MODSEQ, RFC 7162 sec 3.1.5)? */
bool search_uses_modseq(const struct search_program *p);

/* CHARSET: UTF-8 and US-ASCII (true); otherwise NO [BADCHARSET] is answered (false). */
bool search_charset_ok(struct imap_session *s, const struct imap_arg *charset);

enum {
    SEARCH_RET_MIN = 1, SEARCH_RET_MAX = 2, SEARCH_RET_ALL = 4, SEARCH_RET_COUNT = 8,
    SEARCH_RET_SAVE = 16, SEARCH_RET_UPDATE = 32, SEARCH_RET_PARTIAL = 64
};
/* The RETURN options: a SEARCH_RET_ mask, and PARTIAL's range (1-based, lo <= hi). */
struct search_return {
    unsigned ret;
    uint32_t partial_lo, partial_hi;
};
/* The list after RETURN: MIN MAX ALL COUNT SAVE, and CONTEXT=SEARCH's (RFC 5267 sec 4)
 * CONTEXT (a hint, ignored), UPDATE and PARTIAL lo:hi ("()" is ALL); false with *err on
 * anything else, PARTIAL with ALL among them. */
bool search_parse_return(const struct imap_arg *list, struct search_return *r, const char **err);
/* Does the list after RETURN ask for SAVE (whatever else is wrong with it)? */
bool search_return_saves(const struct imap_arg *list);
/* "* ESEARCH (TAG ...) [UID] MIN MAX ALL COUNT PARTIAL [MODSEQ m]" for hits[0..n) in the
 * result's order (SEARCH: ascending; ESORT: sorted, so MIN and MAX are the first and last,
 * RFC 5267); modseq 0 leaves MODSEQ out (RFC 7162 sec 3.1.5). */
void search_answer(struct imap_session *s, const uint32_t *hits, size_t n,
                   const struct search_return *r, bool uid, uint64_t modseq);

/* --- CONTEXT=SEARCH updates (search_update.c, RFC 5267 sec 4.3) --- */

/* Most UPDATE searches one session keeps; the next gets NO [NOUPDATE]. */
#define SEARCH_UPDATES_MAX 10

/* Keep a SEARCH ... RETURN (UPDATE) of the selected mailbox under the command's tag:
 * prog (taken over), its result (view positions, ascending). False when the session has
 * SEARCH_UPDATES_MAX already (prog is freed; the caller says NOUPDATE). */
bool search_update_add(struct imap_session *s, struct search_program *prog, bool uid,
                       const size_t *pos, size_t n);
/* Is there an update with this tag? */
bool search_update_find(const struct view *v, const char *tag);
/* CANCELUPDATE of one tag: false when no update has that tag. */
bool search_update_cancel(struct view *v, const char *tag);
/* Every update of the view, with the view (UNSELECT, CLOSE, another SELECT). */
void search_updates_free(struct view *v);
/* Before EXPUNGE responses for these messages (UIDs, with their sequence numbers as the
 * client knows them now): REMOVEFROM for those in a result. */
void search_updates_expunged(struct imap_session *s, const uint32_t *uids, const uint32_t *seqs,
                             size_t n);
/* Messages at these view positions are new or changed (flags, keywords): evaluate them
 * again and send REMOVEFROM/ADDTO where a result changes. */
void search_updates_touched(struct imap_session *s, const size_t *pos, size_t n);
/* SEARCHRES: keep the result, the messages at view positions pos[0..n) in the result's
 * order, as "$" (only MIN and/or MAX when those are asked without ALL or COUNT). */
void search_save(struct imap_session *s, const size_t *pos, size_t n, unsigned ret);

#endif
