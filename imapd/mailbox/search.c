/* search.c - SEARCH and UID SEARCH (RFC 9051 sec 6.4.4): the search program is parsed into a
 * tree and evaluated per message. Flags, sizes, sequence numbers and UIDs come from the view;
 * keys on the content (HEADER, SUBJECT, FROM, TO, CC, BCC, BODY, TEXT) and on dates read the
 * message. Strings match case-insensitively (simple Unicode case folding) in the decoded text:
 * RFC 2047 words in header fields, transfer encodings and charsets in text bodies
 * (lib/mail/mail_text.h). An IMAP4rev2 session gets ESEARCH
 * (RFC 9051 sec 7.3.4) with RETURN options MIN, MAX, ALL and COUNT; a rev1 session gets SEARCH.
 * RETURN (SAVE) keeps the result as "$" for later commands (SEARCHRES, RFC 5182; view.c).
 * The program is also SORT's and THREAD's (search.h, scan.c).
 * MODSEQ (RFC 7162 sec 3.1.5) matches messages whose MODSEQ is at least the value (the store
 * keeps one MODSEQ per message, so the optional entry name and type change nothing), and a
 * search that used it reports the highest MODSEQ of what it returns. */
#include "date.h"
#include "imap_struct.h"
#include "mail_text.h"
#include "text_match.h"
#include "imap_mailbox.h"
#include "scan.h"
#include "log.h"
#include "search.h"
#include "mem.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SEARCH_DEPTH_MAX 32

enum key_kind {
    K_ALL, K_FLAG_SET, K_FLAG_CLEAR, K_NEW, K_OLD, K_RECENT, K_FALSE, K_LARGER, K_SMALLER,
    K_UID, K_SEQ, K_NOT, K_OR, K_AND, K_HEADER, K_BODY, K_TEXT, K_BEFORE, K_ON, K_SINCE,
    K_KEYWORD, K_UNKEYWORD, K_SENTBEFORE, K_SENTON, K_SENTSINCE, K_MODSEQ,
};

struct key {
    enum key_kind kind;
    uint32_t flag;
    uint64_t keyword;
    uint64_t size;             /* K_LARGER, K_SMALLER; K_MODSEQ: the mod-sequence */
    struct imap_seqset set;
    char *field, *value;       /* K_HEADER: field; all string keys: value. Copies: a SEARCH,
                                * SORT or THREAD runs in slices after its command is freed */
    time_t day;                /* K_BEFORE/ON/SINCE: 00:00 UTC of the date */
    struct key *sub;           /* K_NOT, K_OR (2), K_AND (nsub) */
    size_t nsub;
};

struct parser {
    struct imap_session *s;
    const struct imap_arg *a;
    size_t n, i;
    const char *err;
    bool modseq;               /* the program uses MODSEQ */
};

static void key_free(struct key *k)
{
    for (size_t i = 0; i < k->nsub; i++)
        key_free(&k->sub[i]);
    free(k->sub);
    free(k->field);
    free(k->value);
    imap_seqset_free(&k->set);
}

static const struct imap_arg *next(struct parser *p)
{
    return p->i < p->n ? &p->a[p->i++] : NULL;
}

static bool parse_key(struct parser *p, struct key *k, unsigned depth);

static bool parse_date(const struct imap_arg *a, time_t *day)
{
    struct tm tm = {0};
    const char *end = a && imap_arg_is_astring(a) ? strptime(a->str, "%d-%b-%Y", &tm) : NULL;
    if (!end || *end)
        return false;
    *day = timegm(&tm);
    return true;
}

static bool flag_key(const char *w, struct key *k)
{
    static const struct {
        const char *name;
        uint32_t flag;
        bool set;
    } t[] = {
        {"ANSWERED", MS_FLAG_REPLIED, true},   {"UNANSWERED", MS_FLAG_REPLIED, false},
        {"DELETED", MS_FLAG_TRASHED, true},    {"UNDELETED", MS_FLAG_TRASHED, false},
        {"DRAFT", MS_FLAG_DRAFT, true},        {"UNDRAFT", MS_FLAG_DRAFT, false},
        {"FLAGGED", MS_FLAG_FLAGGED, true},    {"UNFLAGGED", MS_FLAG_FLAGGED, false},
        {"SEEN", MS_FLAG_SEEN, true},          {"UNSEEN", MS_FLAG_SEEN, false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcasecmp(w, t[i].name) == 0) {
            k->kind = t[i].set ? K_FLAG_SET : K_FLAG_CLEAR;
            k->flag = t[i].flag;
            return true;
        }
    return false;
}

static bool string_key(struct parser *p, const char *w, struct key *k)
{
    static const char *const headers[] = {"FROM", "TO", "CC", "BCC", "SUBJECT", NULL};
    for (const char *const *h = headers; *h; h++)
        if (strcasecmp(w, *h) == 0) {
            const struct imap_arg *v = next(p);
            k->kind = K_HEADER;
            k->field = xstrdup(*h);
            k->value = v && imap_arg_is_astring(v) ? xstrdup(v->str) : NULL;
            return k->value != NULL;
        }
    if (strcasecmp(w, "HEADER") == 0) {
        const struct imap_arg *f = next(p), *v = next(p);
        if (!f || !v || !imap_arg_is_astring(f) || !imap_arg_is_astring(v))
            return false;
        *k = (struct key){.kind = K_HEADER, .field = xstrdup(f->str), .value = xstrdup(v->str)};
        return true;
    }
    if (strcasecmp(w, "BODY") == 0 || strcasecmp(w, "TEXT") == 0) {
        const struct imap_arg *v = next(p);
        k->kind = strcasecmp(w, "BODY") == 0 ? K_BODY : K_TEXT;
        k->value = v && imap_arg_is_astring(v) ? xstrdup(v->str) : NULL;
        return k->value != NULL;
    }
    return false;
}

static bool keyword_key(struct parser *p, const char *w, struct key *k)
{
    bool set = strcasecmp(w, "KEYWORD") == 0;
    if (!set && strcasecmp(w, "UNKEYWORD") != 0)
        return false;
    const struct imap_arg *v = next(p);
    if (!v || v->type != IMAP_ARG_ATOM)
        return false;
    if (strcasecmp(v->str, "$Forwarded") == 0) {
        *k = (struct key){.kind = set ? K_FLAG_SET : K_FLAG_CLEAR, .flag = MS_FLAG_PASSED};
        return true;
    }
    const struct view *view = p->s->view;
    for (unsigned i = 0; i < VIEW_KEYWORDS; i++)
        if (view->keyword[i] && strcasecmp(view->keyword[i], v->str) == 0) {
            *k = (struct key){.kind = set ? K_KEYWORD : K_UNKEYWORD, .keyword = (uint64_t)1 << i};
            return true;
        }
    *k = (struct key){.kind = set ? K_FALSE : K_ALL}; /* a keyword no message has */
    return true;
}

/* MODSEQ ["/flags/<flag>" priv|shared|all] mod-sequence-valzer (RFC 7162 sec 7 search-modsequence) */
static bool modseq_key(struct parser *p, struct key *k)
{
    const struct imap_arg *v = next(p);
    if (v && imap_arg_is_string(v)) {
        const struct imap_arg *type = next(p);
        if (strncasecmp(v->str, "/flags/", 7) != 0 || v->len == 7 || !type ||
            !(imap_arg_atom_is(type, "priv") || imap_arg_atom_is(type, "shared") ||
              imap_arg_atom_is(type, "all")))
            return false;
        v = next(p);
    }
    k->kind = K_MODSEQ;
    p->modseq = true;
    return v && imap_arg_number64(v, &k->size);
}

static bool atom_key(struct parser *p, const struct imap_arg *a, struct key *k, unsigned depth)
{
    const char *w = a->str;
    uint32_t n32;
    if (flag_key(w, k) || string_key(p, w, k) || keyword_key(p, w, k))
        return true;
    if (strcasecmp(w, "ALL") == 0) k->kind = K_ALL;
    else if (strcasecmp(w, "NEW") == 0) k->kind = K_NEW;
    else if (strcasecmp(w, "OLD") == 0) k->kind = K_OLD;
    else if (strcasecmp(w, "RECENT") == 0) k->kind = K_RECENT;
    else if (strcasecmp(w, "MODSEQ") == 0) return modseq_key(p, k);
    else if (strcasecmp(w, "LARGER") == 0 || strcasecmp(w, "SMALLER") == 0) {
        const struct imap_arg *v = next(p);
        if (!v || !imap_arg_number64(v, &k->size))
            return false;
        k->kind = strcasecmp(w, "LARGER") == 0 ? K_LARGER : K_SMALLER;
    } else if (strcasecmp(w, "BEFORE") == 0 || strcasecmp(w, "ON") == 0 || strcasecmp(w, "SINCE") == 0) {
        k->kind = strcasecmp(w, "BEFORE") == 0 ? K_BEFORE : strcasecmp(w, "ON") == 0 ? K_ON : K_SINCE;
        return parse_date(next(p), &k->day);
    } else if (strcasecmp(w, "SENTBEFORE") == 0 || strcasecmp(w, "SENTON") == 0 ||
               strcasecmp(w, "SENTSINCE") == 0) {
        k->kind = strcasecmp(w, "SENTBEFORE") == 0 ? K_SENTBEFORE
                : strcasecmp(w, "SENTON") == 0     ? K_SENTON
                                                   : K_SENTSINCE;
        return parse_date(next(p), &k->day);
    } else if (strcasecmp(w, "UID") == 0) {
        const struct imap_arg *v = next(p);
        k->kind = K_UID;
        return v && v->type == IMAP_ARG_ATOM && imap_seqset_parse(v->str, 100000, &k->set);
    } else if (strcasecmp(w, "NOT") == 0) {
        k->kind = K_NOT;
        k->sub = xcalloc(1, sizeof *k->sub);
        k->nsub = 1;
        return parse_key(p, &k->sub[0], depth + 1);
    } else if (strcasecmp(w, "OR") == 0) {
        k->kind = K_OR;
        k->sub = xcalloc(2, sizeof *k->sub);
        k->nsub = 2;
        return parse_key(p, &k->sub[0], depth + 1) && parse_key(p, &k->sub[1], depth + 1);
    } else if (imap_seqset_parse(w, 100000, &k->set)) { /* "$": RFC 5182 */
        k->kind = K_SEQ;
    } else {
        (void)n32;
        return false;
    }
    return true;
}

/* A list of keys, all of which must match. */
static bool parse_and(struct parser *p, struct key *k, unsigned depth)
{
    k->kind = K_AND;
    while (p->i < p->n) {
        k->sub = xreallocarray(k->sub, k->nsub + 1, sizeof *k->sub);
        memset(&k->sub[k->nsub], 0, sizeof *k->sub);
        if (!parse_key(p, &k->sub[k->nsub++], depth + 1))
            return false;
    }
    return k->nsub > 0;
}

static bool parse_key(struct parser *p, struct key *k, unsigned depth)
{
    const struct imap_arg *a = next(p);
    if (!a || depth > SEARCH_DEPTH_MAX) {
        p->err = depth > SEARCH_DEPTH_MAX ? "Search program nested too deeply" : "Missing search key";
        return false;
    }
    if (a->type == IMAP_ARG_LIST) {
        struct parser sub = {.s = p->s, .a = a->list, .n = a->n};
        bool ok = parse_and(&sub, k, depth);
        if (sub.err)
            p->err = sub.err;
        p->modseq |= sub.modseq;
        return ok;
    }
    return a->type == IMAP_ARG_ATOM && atom_key(p, a, k, depth);
}

/* --- evaluation --- */

struct subject {
    struct imap_session *s;
    size_t pos;            /* in the view */
    struct search_text *t; /* the message, loaded when a key needs it */
};

static bool contains(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0)
        return true;
    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp(hay + i, needle, n) == 0)
            return true;
    return false;
}

static bool load_text(struct subject *x)
{
    if (x->t->loaded)
        return !x->t->failed;
    x->t->loaded = true;
    struct view_msg *vm = &x->s->view->msgs[x->pos];
    struct mailbox_msg mm;
    char *err = NULL;
    int fd = -1;
    if (mailbox_lookup(x->s->mu, x->s->view->name, vm->uid, &mm, &err) == 1) {
        fd = mailbox_open_message(x->s->mu, x->s->view->name, &mm, &err);
        mailbox_msg_free(&mm);
    }
    free(err);
    if (fd < 0) {
        x->t->failed = true;
        return false;
    }
    char tmp[65536];
    ssize_t n;
    while ((n = read(fd, tmp, sizeof tmp)) > 0)
        buf_append(&x->t->text, tmp, (size_t)n);
    close(fd);
    return true;
}

static size_t header_end(const struct buf *t)
{
    const char *e = t->data ? memmem(t->data, t->len, "\n\n", 2) : NULL;
    return e ? (size_t)(e - t->data) + 1 : t->len;
}

/* An address field's text without comments and without the white space around '@', so
 * "<user (c)@ (c) domain.org>" matches "user@domain.org" (RFC 5322 sec 3.4.1 CFWS). */
static void address_text(const char *s, size_t len, struct buf *out)
{
    int depth = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '(' ) depth++;
        else if (c == ')' && depth > 0) depth--;
        else if (depth == 0 && c != '\r' && c != '\n')
            buf_putc(out, c == '\t' ? ' ' : c);
    }
    size_t w = 0; /* drop spaces next to '@' */
    for (size_t i = 0; i < out->len; i++) {
        bool next_at = i + 1 < out->len && out->data[i + 1] == '@';
        bool prev_at = w > 0 && out->data[w - 1] == '@';
        if (out->data[i] == ' ' && (next_at || prev_at))
            continue;
        out->data[w++] = out->data[i];
    }
    buf_truncate(out, w);
}

static bool value_match(const char *field, const char *v, size_t len, const char *needle)
{
    if (contains(v, len, needle))
        return true;
    static const char *const addr_fields[] = {"From", "To", "Cc", "Bcc", "Sender", "Reply-To", NULL};
    bool addr = false;
    for (const char *const *f = addr_fields; *f && !addr; f++)
        addr = strcasecmp(*f, field) == 0;
    if (!addr)
        return false;
    struct buf b = BUF_INIT;
    address_text(v, len, &b);
    bool hit = contains(b.data ? b.data : "", b.len, needle);
    buf_free(&b);
    return hit;
}

/* Any field named field whose value contains value: decoded (RFC 2047) and case-folded
 * (lib/mail/mail_text.h), or, for an address field, its text without comments. */
static bool header_match(const struct buf *t, const char *field, const char *value)
{
    size_t end = header_end(t), flen = strlen(field);
    if (mail_header_contains(t->data, end, field, value, strlen(value)))
        return true;
    for (size_t i = 0; i < end;) {
        const char *line = t->data + i;
        const char *nl = memchr(line, '\n', end - i);
        size_t next = nl ? (size_t)(nl - t->data) + 1 : end;
        if (next - i > flen && strncasecmp(line, field, flen) == 0 && line[flen] == ':') {
            size_t stop = next; /* continuation lines */
            while (stop < end && (t->data[stop] == ' ' || t->data[stop] == '\t')) {
                const char *nl2 = memchr(t->data + stop, '\n', end - stop);
                stop = nl2 ? (size_t)(nl2 - t->data) + 1 : end;
            }
            if (value_match(field, line + flen + 1, stop - i - flen - 1, value))
                return true;
            next = stop;
        }
        i = next;
    }
    return false;
}

/* The day of the Date: field as written (RFC 9051 sec 6.4.4: "disregarding time and
 * timezone"), 00:00 UTC of it; -1 without a usable Date:. */
static time_t sent_day(struct subject *x)
{
    if (!load_text(x))
        return -1;
    size_t end = header_end(&x->t->text);
    const char *d = x->t->text.data;
    for (size_t i = 0; i < end;) {
        const char *nl = memchr(d + i, '\n', end - i);
        size_t next = nl ? (size_t)(nl - d) + 1 : end;
        if (next - i > 5 && strncasecmp(d + i, "Date:", 5) == 0) {
            size_t stop = next;
            while (stop < end && (d[stop] == ' ' || d[stop] == '\t')) {
                const char *nl2 = memchr(d + stop, '\n', end - stop);
                stop = nl2 ? (size_t)(nl2 - d) + 1 : end;
            }
            struct tm tm;
            int zone;
            if (!mail_date_parse(d + i + 5, stop - i - 5, &tm, &zone))
                return -1;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
            return timegm(&tm);
        }
        i = next;
    }
    return -1;
}

struct walk {
    struct text_match tm;
    bool found;
};

static bool on_chunk(void *ctx, const struct mail_text_chunk *c)
{
    struct walk *w = ctx;
    if (c->start)
        text_match_restart(&w->tm);
    w->found = text_match_feed(&w->tm, c->data, c->len);
    return !w->found;
}

/* BODY and TEXT: the text parts' bodies (and for TEXT every header) decoded to UTF-8 from
 * their transfer encoding and charset, matched case-insensitively (lib/mail/mail_text.h). */
static bool text_search(struct subject *x, unsigned what, const char *needle)
{
    const struct buf *t = &x->t->text;
    struct imap_message *im = imap_message_new(t->data ? t->data : "", t->len);
    size_t n;
    const struct mime_part *parts = imap_message_parts(im, &n);
    struct walk w = {0};
    text_match_init(&w.tm, needle, strlen(needle));
    mail_text_walk(t->data ? t->data : "", t->len, parts, n, what, on_chunk, &w);
    text_match_free(&w.tm);
    imap_message_free(im);
    return w.found;
}

/* The day of INTERNALDATE as FETCH shows it (local time), 00:00 UTC of it: BEFORE, ON and
 * SINCE disregard time and timezone (RFC 9051 sec 6.4.4). */
static time_t internal_day(const struct view_msg *m)
{
    time_t t = (time_t)m->internaldate;
    struct tm tm;
    localtime_r(&t, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    return timegm(&tm);
}

static bool eval(const struct key *k, struct subject *x)
{
    const struct view_msg *m = &x->s->view->msgs[x->pos];
    switch (k->kind) {
    case K_ALL: return true;
    case K_FALSE: return false;
    case K_FLAG_SET: return (m->flags & k->flag) != 0;
    case K_FLAG_CLEAR: return (m->flags & k->flag) == 0;
    case K_KEYWORD: return (m->keywords & k->keyword) != 0;
    case K_UNKEYWORD: return (m->keywords & k->keyword) == 0;
    case K_NEW: return m->recent && !(m->flags & MS_FLAG_SEEN);
    case K_OLD: return !m->recent;
    case K_RECENT: return m->recent;
    case K_LARGER: return m->vsize > k->size;
    case K_SMALLER: return m->vsize < k->size;
    case K_UID: return imap_seqset_contains(&k->set, m->uid);
    case K_SEQ: return imap_seqset_contains(&k->set, (uint32_t)(x->pos + 1));
    case K_NOT: return !eval(&k->sub[0], x);
    case K_OR: return eval(&k->sub[0], x) || eval(&k->sub[1], x);
    case K_AND:
        for (size_t i = 0; i < k->nsub; i++)
            if (!eval(&k->sub[i], x))
                return false;
        return true;
    case K_HEADER: return load_text(x) && header_match(&x->t->text, k->field, k->value);
    case K_BODY: return load_text(x) && text_search(x, MAIL_TEXT_BODIES, k->value);
    case K_TEXT: return load_text(x) && text_search(x, MAIL_TEXT_HEADERS | MAIL_TEXT_BODIES, k->value);
    case K_BEFORE: return internal_day(m) < k->day;
    case K_ON: return internal_day(m) == k->day;
    case K_SINCE: return internal_day(m) >= k->day;
    case K_SENTBEFORE: {
        time_t d = sent_day(x);
        return d >= 0 && d < k->day;
    }
    case K_SENTON: return sent_day(x) == k->day;
    case K_SENTSINCE: return sent_day(x) >= k->day;
    case K_MODSEQ: return m->modseq >= k->size;
    }
    return false;
}

/* Resolve "*" in the sets of every key (sequence numbers and UIDs); "$" becomes the UIDs
 * of the saved result (RFC 5182 sec 2.1: the same messages whether SEARCH or UID SEARCH
 * saved it and whether "$" stands where a sequence set or a UID set goes). */
static void resolve(struct key *k, struct view *v)
{
    if ((k->kind == K_UID || k->kind == K_SEQ) && k->set.last_result) {
        view_saved_set(v, &k->set);
        k->kind = K_UID;
    } else if (k->kind == K_UID)
        imap_seqset_resolve(&k->set, v->n ? v->msgs[v->n - 1].uid : 0);
    else if (k->kind == K_SEQ)
        imap_seqset_resolve(&k->set, (uint32_t)v->n);
    for (size_t i = 0; i < k->nsub; i++)
        resolve(&k->sub[i], v);
}

/* --- the program as SORT and THREAD use it (search.h) --- */

struct search_program {
    struct key root;
    bool modseq; /* the program uses MODSEQ */
};

bool search_uses_modseq(const struct search_program *prog) { return prog->modseq; }

struct search_program *search_parse(struct imap_session *s, const struct imap_arg *a, size_t n,
                                    const char **err)
{
    struct parser p = {.s = s, .a = a, .n = n};
    struct search_program *prog = xcalloc(1, sizeof *prog);
    if (!parse_and(&p, &prog->root, 0)) {
        *err = p.err ? p.err : "Invalid search program";
        search_free(prog);
        return NULL;
    }
    if (p.modseq) /* RFC 7162 sec 3.1: a CONDSTORE enabling command */
        condstore_enable(s);
    prog->modseq = p.modseq;
    return prog;
}

void search_resolve(struct search_program *prog, struct imap_session *s) { resolve(&prog->root, s->view); }

bool search_match(struct search_program *prog, struct imap_session *s, size_t pos, struct search_text *t)
{
    struct subject x = {.s = s, .pos = pos, .t = t};
    return eval(&prog->root, &x);
}

void search_free(struct search_program *prog)
{
    if (!prog)
        return;
    key_free(&prog->root);
    free(prog);
}

/* --- the command --- */

/* PARTIAL's range (RFC 5267 sec 4.4): "lo:hi", both 1 or more, either order. */
static bool parse_partial(const struct imap_arg *a, struct search_return *r)
{
    if (!a || a->type != IMAP_ARG_ATOM)
        return false;
    char *end;
    unsigned long lo = strtoul(a->str, &end, 10), hi;
    if (end == a->str || *end != ':' || lo == 0 || lo > UINT32_MAX || !isdigit((unsigned char)end[1]))
        return false;
    hi = strtoul(end + 1, &end, 10);
    if (*end || hi == 0 || hi > UINT32_MAX)
        return false;
    r->partial_lo = (uint32_t)(lo < hi ? lo : hi);
    r->partial_hi = (uint32_t)(lo < hi ? hi : lo);
    return true;
}

bool search_parse_return(const struct imap_arg *l, struct search_return *r, const char **err)
{
    *r = (struct search_return){0};
    *err = "Unknown RETURN option";
    if (!l || l->type != IMAP_ARG_LIST)
        return false;
    for (size_t i = 0; i < l->n; i++) {
        const struct imap_arg *a = &l->list[i];
        if (imap_arg_atom_is(a, "MIN")) r->ret |= SEARCH_RET_MIN;
        else if (imap_arg_atom_is(a, "MAX")) r->ret |= SEARCH_RET_MAX;
        else if (imap_arg_atom_is(a, "ALL")) r->ret |= SEARCH_RET_ALL;
        else if (imap_arg_atom_is(a, "COUNT")) r->ret |= SEARCH_RET_COUNT;
        else if (imap_arg_atom_is(a, "SAVE")) r->ret |= SEARCH_RET_SAVE;
        else if (imap_arg_atom_is(a, "CONTEXT")) continue; /* sec 4.2: a hint */
        else if (imap_arg_atom_is(a, "UPDATE")) r->ret |= SEARCH_RET_UPDATE;
        else if (imap_arg_atom_is(a, "PARTIAL") && !(r->ret & SEARCH_RET_PARTIAL)) {
            if (!parse_partial(i + 1 < l->n ? &l->list[i + 1] : NULL, r)) {
                *err = "PARTIAL takes a range lo:hi of positive numbers";
                return false;
            }
            r->ret |= SEARCH_RET_PARTIAL;
            i++;
        } else
            return false;
    }
    if ((r->ret & SEARCH_RET_PARTIAL) && (r->ret & SEARCH_RET_ALL)) {
        *err = "PARTIAL and ALL exclude each other"; /* sec 4.4 */
        return false;
    }
    if (r->ret == 0)
        r->ret = SEARCH_RET_ALL; /* RFC 4731 sec 3.1: RETURN () means ALL */
    return true;
}

bool search_return_saves(const struct imap_arg *l)
{
    for (size_t i = 0; l && l->type == IMAP_ARG_LIST && i < l->n; i++)
        if (imap_arg_atom_is(&l->list[i], "SAVE"))
            return true;
    return false;
}

bool search_charset_ok(struct imap_session *s, const struct imap_arg *c)
{
    /* RFC 6855 sec 3 with erratum 4029: after ENABLE UTF8=ACCEPT the mandatory charset of
     * SORT and THREAD must be UTF-8 */
    if (s->utf8_accept && !(imap_arg_is_astring(c) && strcasecmp(c->str, "UTF-8") == 0)) {
        imap_bad(s, "Only UTF-8 after ENABLE UTF8=ACCEPT.");
        return false;
    }
    if (imap_arg_is_astring(c) && (strcasecmp(c->str, "UTF-8") == 0 || strcasecmp(c->str, "US-ASCII") == 0))
        return true;
    imap_no(s, "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset.");
    return false;
}

void search_answer(struct imap_session *s, const uint32_t *hits, size_t n,
                   const struct search_return *r, bool uid, uint64_t modseq)
{
    unsigned ret = r->ret;
    struct buf out = BUF_INIT;
    buf_printf(&out, "* ESEARCH (TAG \"%s\")%s", s->tag, uid ? " UID" : "");
    if ((ret & SEARCH_RET_MIN) && n)
        buf_printf(&out, " MIN %u", hits[0]);
    if ((ret & SEARCH_RET_MAX) && n)
        buf_printf(&out, " MAX %u", hits[n - 1]);
    if ((ret & SEARCH_RET_ALL) && n) {
        buf_puts(&out, " ALL ");
        imap_seqset_write(&out, hits, n);
    }
    if (ret & SEARCH_RET_COUNT)
        buf_printf(&out, " COUNT %zu", n);
    if (ret & SEARCH_RET_PARTIAL) { /* RFC 5267 sec 4.4: the lo-th to hi-th of the result */
        buf_printf(&out, " PARTIAL (%u:%u ", r->partial_lo, r->partial_hi);
        size_t from = r->partial_lo - 1, to = r->partial_hi < n ? r->partial_hi : n;
        if (from < to)
            imap_seqset_write(&out, hits + from, to - from);
        else
            buf_puts(&out, "NIL");
        buf_putc(&out, ')');
    }
    if (modseq && n) /* RFC 7162 sec 3.1.5: no MODSEQ without a result */
        buf_printf(&out, " MODSEQ %llu", (unsigned long long)modseq);
    imap_reply(s, "%s", buf_cstr(&out));
    buf_free(&out);
}

/* RFC 5182 sec 2.4: with MIN and/or MAX alone, only those messages are saved; with ALL or
 * COUNT (or SAVE alone) every message of the result. pos[0..n) in the result's order. */
void search_save(struct imap_session *s, const size_t *pos, size_t n, unsigned ret)
{
    struct view *v = s->view;
    uint32_t *uids = xreallocarray(NULL, n ? n : 1, sizeof *uids);
    size_t k = 0;
    bool some = (ret & (SEARCH_RET_MIN | SEARCH_RET_MAX)) && !(ret & (SEARCH_RET_ALL | SEARCH_RET_COUNT));
    for (size_t i = 0; i < n; i++)
        if (!some || (i == 0 && (ret & SEARCH_RET_MIN)) || (i == n - 1 && (ret & SEARCH_RET_MAX)))
            uids[k++] = v->msgs[pos[i]].uid;
    view_save_result(v, uids, k);
    free(uids);
}

/* The MODSEQs a search with the MODSEQ key reports (RFC 7162 sec 3.1.5). */
struct hit_modseqs {
    bool wanted;
    uint64_t all, first, last; /* highest of every hit; of the first; of the last */
};

/* ESEARCH's MODSEQ: of the messages returned, which are only the first and last when MIN
 * or MAX come without ALL or COUNT (RFC 4731 sec 3.2 with RFC 7162 sec 3.1.5); 0: none. */
static uint64_t esearch_modseq(const struct hit_modseqs *m, unsigned ret)
{
    if (!m->wanted)
        return 0;
    if (ret & (SEARCH_RET_ALL | SEARCH_RET_COUNT))
        return m->all;
    uint64_t a = (ret & SEARCH_RET_MIN) ? m->first : 0, b = (ret & SEARCH_RET_MAX) ? m->last : 0;
    return a > b ? a : b;
}

static void answer(struct imap_session *s, const uint32_t *hits, size_t n,
                   const struct search_return *r, bool uid, const struct hit_modseqs *mod)
{
    if (r->ret == SEARCH_RET_SAVE)
        return; /* RFC 5182 sec 2.1: SAVE alone gives no ESEARCH response */
    if (r->ret == 0 && !s->rev2) {
        struct buf out = BUF_INIT; /* RFC 9051 sec 6.4.4: rev2 answers ESEARCH */
        buf_puts(&out, "* SEARCH");
        for (size_t i = 0; i < n; i++)
            buf_printf(&out, " %u", hits[i]);
        if (mod->wanted && n > 0)
            buf_printf(&out, " (MODSEQ %llu)", (unsigned long long)mod->all);
        imap_reply(s, "%s", buf_cstr(&out));
        buf_free(&out);
        return;
    }
    struct search_return all = {.ret = SEARCH_RET_ALL};
    const struct search_return *rr = r->ret ? r : &all;
    unsigned ret = rr->ret & SEARCH_RET_PARTIAL ? rr->ret | SEARCH_RET_ALL : rr->ret;
    search_answer(s, hits, n, rr, uid, esearch_modseq(mod, ret));
}

static bool parse_charset(struct imap_session *s, struct parser *p)
{
    if (p->i + 1 >= p->n || !imap_arg_atom_is(&p->a[p->i], "CHARSET"))
        return true;
    if (s->utf8_accept) { /* RFC 6855 sec 3: no CHARSET once UTF8=ACCEPT is enabled */
        imap_bad(s, "No CHARSET after ENABLE UTF8=ACCEPT.");
        return false;
    }
    p->i += 2;
    return search_charset_ok(s, &p->a[p->i - 1]);
}

/* A SEARCH being run over the mailbox a slice at a time (scan.h): big mailboxes and body
 * keys do not hold up the process's other sessions. */
struct search_cmd {
    bool uid;
    bool modseq;       /* the program uses MODSEQ */
    struct search_return r;
    struct search_program *update; /* RETURN (UPDATE): the program kept for the updates */
    char name[32];
};

static void search_cmd_free(void *arg)
{
    struct search_cmd *c = arg;
    search_free(c->update);
    free(c);
}

/* RETURN (UPDATE): keep the result up to date, or say that it will not be (sec 4.3). */
static void keep_for_updates(struct imap_session *s, struct search_cmd *c, const size_t *pos, size_t n)
{
    struct search_program *prog = c->update;
    c->update = NULL;
    if (!search_update_add(s, prog, c->uid, pos, n))
        imap_reply(s, "* NO [NOUPDATE \"%s\"] At most %d searches are kept up to date.", s->tag,
                   SEARCH_UPDATES_MAX);
}

static void searched(struct imap_session *s, struct scan_msg *msgs, size_t n, void *arg)
{
    struct search_cmd *c = arg;
    uint32_t *hits = xreallocarray(NULL, n ? n : 1, sizeof *hits);
    size_t *pos = xreallocarray(NULL, n ? n : 1, sizeof *pos);
    struct hit_modseqs mod = {.wanted = c->modseq};
    for (size_t k = 0; k < n; k++) {
        size_t i = msgs[k].pos;
        uint64_t m = s->view->msgs[i].modseq;
        pos[k] = i;
        hits[k] = c->uid ? s->view->msgs[i].uid : (uint32_t)(i + 1);
        mod.all = m > mod.all ? m : mod.all;
        mod.first = k == 0 ? m : mod.first;
        mod.last = m;
    }
    answer(s, hits, n, &c->r, c->uid, &mod);
    if (c->r.ret & SEARCH_RET_SAVE)
        search_save(s, pos, n, c->r.ret);
    if (c->update)
        keep_for_updates(s, c, pos, n);
    free(hits);
    free(pos);
    imap_ok(s, "%s completed%s.", c->name, c->r.ret & SEARCH_RET_SAVE ? ", result saved" : "");
}

/* Parse RETURN, CHARSET and the keys, then start the scan; false when refused (answered). */
static bool start_search(struct imap_session *s, struct imap_command *cmd, bool uid)
{
    struct parser p = {.s = s, .a = cmd->args, .n = cmd->nargs};
    struct search_return r = {0};
    if (p.n > 0 && imap_arg_atom_is(&p.a[0], "RETURN")) {
        p.i = 2;
        const char *why;
        if (!search_parse_return(p.n > 1 ? &p.a[1] : NULL, &r, &why)) {
            imap_bad(s, "%s. Syntax: SEARCH [RETURN (options)] [CHARSET name] keys.", why);
            return false;
        }
        if ((r.ret & SEARCH_RET_UPDATE) && search_update_find(s->view, s->tag)) {
            imap_bad(s, "A search kept up to date has this tag already.");
            return false;
        }
    }
    if (!parse_charset(s, &p))
        return false;
    const char *err = NULL;
    struct search_program *prog = search_parse(s, p.a + p.i, p.n - p.i, &err);
    if (!prog) {
        imap_bad(s, "%s.", err);
        return false;
    }
    view_sync(s, uid);
    search_resolve(prog, s);
    struct search_cmd *c = xcalloc(1, sizeof *c);
    *c = (struct search_cmd){.uid = uid, .modseq = prog->modseq, .r = r};
    if (r.ret & SEARCH_RET_UPDATE) { /* the same keys again, for evaluating changes later */
        c->update = search_parse(s, p.a + p.i, p.n - p.i, &err);
        search_resolve(c->update, s);
    }
    snprintf(c->name, sizeof c->name, "%s", cmd->name);
    scan_start(s, prog, 0, searched, search_cmd_free, c);
    return true;
}

void cmd_search(struct imap_session *s, struct imap_command *cmd, bool uid)
{
    if (start_search(s, cmd, uid))
        return;
    /* RFC 5182 sec 2.1: a SEARCH that was to save and failed leaves "$" empty */
    if (s->view && cmd->nargs > 1 && imap_arg_atom_is(&cmd->args[0], "RETURN") &&
        search_return_saves(&cmd->args[1]))
        view_save_result(s->view, NULL, 0);
}
