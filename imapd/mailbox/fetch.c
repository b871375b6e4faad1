/* fetch.c - FETCH and UID FETCH (RFC 9051 sec 6.4.5): the macros ALL, FAST and FULL, UID,
 * FLAGS, INTERNALDATE, RFC822.SIZE, ENVELOPE, BODYSTRUCTURE, BODY, RFC822, RFC822.HEADER,
 * RFC822.TEXT, BODY[section]<partial> with .PEEK for every section of RFC 9051 (part numbers,
 * HEADER, HEADER.FIELDS[.NOT], TEXT, MIME), and BINARY[section], BINARY.PEEK and BINARY.SIZE
 * (RFC 3516). The message structure comes from lib/proto/imap_struct.h, which serves the stored
 * LF form as CRLF, so every size and offset counts CRLF (RFC822.SIZE is the index's CRLF size).
 * A body fetch without .PEEK sets \Seen (RFC 9051 sec 6.4.5) in a read-write mailbox.
 * CONDSTORE (RFC 7162 sec 3.1.4): the MODSEQ item, the CHANGEDSINCE modifier (only messages
 * with a higher MODSEQ, MODSEQ implied) and, for UID FETCH with QRESYNC on, VANISHED (the
 * UIDs of the set expunged since, as VANISHED (EARLIER), before the FETCHes, sec 3.2.6). */
#include "imap_mailbox.h"
#include "imap_struct.h"
#include "log.h"
#include "mem.h"
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum item_kind { I_UID, I_FLAGS, I_MODSEQ, I_INTERNALDATE, I_SIZE, I_ENVELOPE, I_BODYSTRUCTURE,
                 I_BODY_SHORT, I_SECTION, I_BINARY_SIZE };

struct item {
    enum item_kind kind;
    enum imap_section_mode mode; /* BODY[...] or BINARY[...] */
    bool peek;
    bool partial;
    uint64_t start, len;
    uint32_t part[32];
    struct imap_section sec;     /* kind, n_part, n_fields (pointers set when used) */
    char **fields;
    const char *label;           /* how the response names it: "RFC822", "BODY[1.MIME]" */
    char *own_label;
};

struct fetch {
    struct item *items;
    size_t n;
    bool body;          /* some item needs the message file */
    bool structure;     /* ENVELOPE, BODYSTRUCTURE or BODY: from the cache, else the file */
    bool sets_seen;
    bool modseq;        /* MODSEQ asked for (a CONDSTORE enabling command) */
};

static void add(struct fetch *f, struct item it)
{
    f->items = xreallocarray(f->items, f->n + 1, sizeof *f->items);
    f->items[f->n++] = it;
}

static void item_free(struct item *it)
{
    for (size_t k = 0; k < it->sec.n_fields; k++)
        free(it->fields[k]);
    free(it->fields);
    free(it->own_label);
}

static void fetch_free(struct fetch *f)
{
    for (size_t i = 0; i < f->n; i++)
        item_free(&f->items[i]);
    free(f->items);
}

/* "(A B)" of HEADER.FIELDS: names as atoms or strings (RFC 9051 sec 9 header-list). */
static bool parse_fields(const char *p, const char *end, struct item *it)
{
    if (p >= end || *p != '(' || end[-1] != ')')
        return false;
    for (p++, end--; p < end;) {
        while (p < end && *p == ' ')
            p++;
        const char *st = p;
        if (p < end && *p == '"') {
            st = ++p;
            while (p < end && *p != '"')
                p++;
            if (p >= end)
                return false;
        } else {
            while (p < end && *p != ' ')
                p++;
        }
        if (p > st) {
            it->fields = xreallocarray(it->fields, it->sec.n_fields + 1, sizeof *it->fields);
            it->fields[it->sec.n_fields++] = xasprintf("%.*s", (int)(p - st), st);
        }
        if (p < end && *p == '"')
            p++;
    }
    return it->sec.n_fields > 0;
}

/* The section text between the brackets: part numbers, then HEADER, HEADER.FIELDS[.NOT] (..),
 * TEXT or MIME (RFC 9051 sec 9 "section-spec"). */
static bool parse_section(const char *sec, size_t len, struct item *it)
{
    const char *p = sec, *end = sec + len;
    while (p < end && *p >= '0' && *p <= '9') {
        uint64_t v = 0;
        while (p < end && *p >= '0' && *p <= '9' && v < UINT32_MAX)
            v = v * 10 + (uint64_t)(*p++ - '0');
        if (v == 0 || v > UINT32_MAX || it->sec.n_part == sizeof it->part / sizeof it->part[0])
            return false;
        it->part[it->sec.n_part++] = (uint32_t)v;
        if (p < end && *p == '.')
            p++;
        else
            break;
    }
    size_t rest = (size_t)(end - p);
    it->sec.kind = IMAP_SECTION_ALL;
    if (rest == 0)
        return p == sec || p[-1] != '.';
    if (rest == 6 && strncasecmp(p, "HEADER", 6) == 0)
        it->sec.kind = IMAP_SECTION_HEADER;
    else if (rest == 4 && strncasecmp(p, "TEXT", 4) == 0)
        it->sec.kind = IMAP_SECTION_TEXT;
    else if (rest == 4 && strncasecmp(p, "MIME", 4) == 0 && it->sec.n_part > 0)
        it->sec.kind = IMAP_SECTION_MIME;
    else if (rest > 18 && strncasecmp(p, "HEADER.FIELDS.NOT ", 18) == 0) {
        it->sec.kind = IMAP_SECTION_HEADER_FIELDS_NOT;
        return parse_fields(p + 18, end, it);
    } else if (rest > 14 && strncasecmp(p, "HEADER.FIELDS ", 14) == 0) {
        it->sec.kind = IMAP_SECTION_HEADER_FIELDS;
        return parse_fields(p + 14, end, it);
    } else
        return false;
    return true;
}

/* BODY[...]<a.b>, BODY.PEEK[...]<a.b>, BINARY[...]<a.b>, BINARY.PEEK[...], BINARY.SIZE[...]. */
static bool parse_section_item(const char *w, struct item *it)
{
    const char *open = strchr(w, '['), *close = strrchr(w, ']');
    if (!open || !close || close < open)
        return false;
    size_t head = (size_t)(open - w);
    const char *name = "BODY";
    if (head == 9 && strncasecmp(w, "BODY.PEEK", 9) == 0)
        it->peek = true;
    else if (head == 6 && strncasecmp(w, "BINARY", 6) == 0)
        it->mode = IMAP_SECTION_BINARY, name = "BINARY";
    else if (head == 11 && strncasecmp(w, "BINARY.PEEK", 11) == 0)
        it->mode = IMAP_SECTION_BINARY, it->peek = true, name = "BINARY";
    else if (head == 11 && strncasecmp(w, "BINARY.SIZE", 11) == 0)
        it->mode = IMAP_SECTION_BINARY, it->peek = true, it->kind = I_BINARY_SIZE, name = "BINARY.SIZE";
    else if (!(head == 4 && strncasecmp(w, "BODY", 4) == 0))
        return false;
    if (!parse_section(open + 1, (size_t)(close - open - 1), it))
        return false;
    if (it->mode == IMAP_SECTION_BINARY && it->sec.kind != IMAP_SECTION_ALL)
        return false; /* RFC 3516 sec 4.2: part numbers only */
    const char *p = close + 1;
    if (*p == '<' && it->kind != I_BINARY_SIZE) {
        char *end;
        errno = 0;
        it->start = strtoull(p + 1, &end, 10);
        if (*end != '.' || errno)
            return false;
        it->len = strtoull(end + 1, &end, 10);
        if (*end != '>' || end[1] || errno || it->len == 0)
            return false;
        it->partial = true;
    } else if (*p) {
        return false;
    }
    /* The response names it without .PEEK and with only the start of a partial. */
    it->own_label = xasprintf("%s[%.*s]", name, (int)(close - open - 1), open + 1);
    it->label = it->own_label;
    return true;
}

static bool parse_att(struct fetch *f, const struct imap_arg *a)
{
    if (a->type != IMAP_ARG_ATOM)
        return false;
    const char *w = a->str;
    struct item it = {.kind = I_SECTION};
    if (strcasecmp(w, "UID") == 0)
        it.kind = I_UID;
    else if (strcasecmp(w, "FLAGS") == 0)
        it.kind = I_FLAGS;
    else if (strcasecmp(w, "MODSEQ") == 0)
        it.kind = I_MODSEQ, f->modseq = true;
    else if (strcasecmp(w, "INTERNALDATE") == 0)
        it.kind = I_INTERNALDATE;
    else if (strcasecmp(w, "RFC822.SIZE") == 0)
        it.kind = I_SIZE;
    else if (strcasecmp(w, "ENVELOPE") == 0)
        it.kind = I_ENVELOPE;
    else if (strcasecmp(w, "BODYSTRUCTURE") == 0)
        it.kind = I_BODYSTRUCTURE;
    else if (strcasecmp(w, "BODY") == 0)
        it.kind = I_BODY_SHORT;
    else if (strcasecmp(w, "RFC822") == 0)
        it.label = "RFC822";
    else if (strcasecmp(w, "RFC822.HEADER") == 0)
        it.sec.kind = IMAP_SECTION_HEADER, it.peek = true, it.label = "RFC822.HEADER";
    else if (strcasecmp(w, "RFC822.TEXT") == 0)
        it.sec.kind = IMAP_SECTION_TEXT, it.label = "RFC822.TEXT";
    else if ((strncasecmp(w, "BODY", 4) == 0 || strncasecmp(w, "BINARY", 6) == 0) && strchr(w, '[')) {
        if (!parse_section_item(w, &it)) {
            item_free(&it);
            return false;
        }
    } else
        return false;
    f->body |= it.kind >= I_SECTION;
    f->structure |= it.kind == I_ENVELOPE || it.kind == I_BODYSTRUCTURE || it.kind == I_BODY_SHORT;
    f->sets_seen |= (it.kind == I_SECTION) && !it.peek;
    add(f, it);
    return true;
}

static bool parse_atts(struct fetch *f, const struct imap_arg *a)
{
    static const char *const fast[] = {"FLAGS", "INTERNALDATE", "RFC822.SIZE", NULL};
    static const char *const all[] = {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", NULL};
    static const char *const full[] = {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY", NULL};
    const char *const *macro = imap_arg_atom_is(a, "FAST") ? fast
                             : imap_arg_atom_is(a, "ALL")  ? all
                             : imap_arg_atom_is(a, "FULL") ? full
                                                           : NULL;
    if (macro) {
        for (const char *const *p = macro; *p; p++)
            parse_att(f, &(struct imap_arg){.type = IMAP_ARG_ATOM, .str = *p, .len = strlen(*p)});
        return true;
    }
    if (a->type != IMAP_ARG_LIST)
        return parse_att(f, a);
    for (size_t i = 0; i < a->n; i++)
        if (!parse_att(f, &a->list[i]))
            return false;
    return a->n > 0;
}

/* --- the message --- */

/* The message as stored (LF line ends); imap_struct.h serves it in CRLF form. */
struct msg {
    struct buf raw;
    struct imap_message *im;
};

static int load(struct imap_session *s, uint32_t uid, struct msg *m, char **err)
{
    struct mailbox_msg mm;
    int r = mailbox_lookup(s->mu, s->view->name, uid, &mm, err);
    if (r <= 0)
        return r < 0 ? -1 : 0;
    int fd = mailbox_open_message(s->mu, s->view->name, &mm, err);
    mailbox_msg_free(&mm);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    char tmp[65536];
    ssize_t n;
    while ((n = read(fd, tmp, sizeof tmp)) > 0)
        buf_append(&m->raw, tmp, (size_t)n);
    close(fd);
    if (n < 0) {
        *err = xasprintf("read: %s", strerror(errno));
        return -1;
    }
    m->im = imap_message_new(m->raw.data ? m->raw.data : "", m->raw.len);
    return 1;
}

static void msg_free(struct msg *m)
{
    if (m->im)
        imap_message_free(m->im);
    buf_free(&m->raw);
}

static void internaldate(struct buf *out, time_t t)
{
    char date[64];
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(date, sizeof date, "%d-%b-%Y %H:%M:%S %z", &tm);
    buf_printf(out, "\"%s\"", date);
}

static unsigned fmt_flags(const struct imap_session *s)
{
    return (s->utf8 ? IMAP_FMT_UTF8 : 0) | (s->rev2 ? IMAP_FMT_MESSAGE_GLOBAL : 0);
}

/* A section item; false with *cte set when BINARY meets an unknown transfer encoding. */
static bool write_section(struct imap_session *s, const struct item *it, const struct msg *m,
                          struct buf *out, bool *cte)
{
    struct buf data = BUF_INIT;
    uint64_t size = 0;
    struct imap_section sec = it->sec; /* its pointers into the item, which may have moved */
    sec.part = it->part;
    sec.fields = (const char *const *)it->fields;
    enum imap_section_status st = imap_section_fetch(m->im, &sec, it->mode,
                                                     it->partial ? it->start : 0,
                                                     it->partial ? it->len : UINT64_MAX, &data, &size);
    if (st == IMAP_SECTION_UNKNOWN_CTE) {
        *cte = true;
        buf_free(&data);
        return false;
    }
    if (it->kind == I_BINARY_SIZE) {
        buf_printf(out, "%s %llu", it->label, (unsigned long long)(st == IMAP_SECTION_OK ? size : 0));
        buf_free(&data);
        return true;
    }
    if (it->partial)
        buf_printf(out, "%s<%llu> ", it->label, (unsigned long long)it->start);
    else
        buf_printf(out, "%s ", it->label);
    if (st != IMAP_SECTION_OK) { /* no such part: NIL, as Dovecot answers */
        buf_puts(out, "NIL");
    } else {
        bool nul = it->mode == IMAP_SECTION_BINARY && memchr(data.data ? data.data : "", 0, data.len);
        buf_printf(out, "%s{%zu}\r\n", nul ? "~" : "", data.len); /* RFC 3516: literal8 */
        buf_append(out, data.data ? data.data : "", data.len);
        s->fetched_bytes += data.len;
    }
    buf_free(&data);
    return true;
}

/* --- the structure cache: ENVELOPE, BODYSTRUCTURE and BODY are kept in the index the first
 * time they are computed (lib/store's per-message cache), so a second FETCH of them reads
 * no file. The cached text depends on the session's format flags (UTF-8, message/global),
 * which are part of the field number. Entries computed during a FETCH are stored in one
 * write transaction per CACHE_BATCH messages. --- */

#define CACHE_BATCH 64

enum { CACHED_ENVELOPE, CACHED_BODYSTRUCTURE, CACHED_BODY, CACHED_N };

struct cache_batch {
    struct mailbox_cache_entry e[CACHE_BATCH * CACHED_N];
    struct buf data[CACHE_BATCH * CACHED_N];
    size_t n;
};

/* What one message's structure items are: cached text, or computed now. */
struct structure {
    char *text[CACHED_N];
    size_t len[CACHED_N];
};

static int cached_kind(enum item_kind k)
{
    return k == I_ENVELOPE ? CACHED_ENVELOPE : k == I_BODYSTRUCTURE ? CACHED_BODYSTRUCTURE
         : k == I_BODY_SHORT ? CACHED_BODY : -1;
}

static unsigned cache_field(const struct imap_session *s, int kind)
{
    static const unsigned base[CACHED_N] = {MS_CACHE_ENVELOPE, MS_CACHE_BODYSTRUCTURE, MS_CACHE_BODY};
    return base[kind] | fmt_flags(s) << 4;
}

/* Look the asked structure items up; true when all of them were cached. */
static bool structure_lookup(struct imap_session *s, const struct fetch *f, uint32_t uid,
                             struct structure *st)
{
    bool all = true;
    for (size_t k = 0; k < f->n; k++) {
        int kind = cached_kind(f->items[k].kind);
        if (kind < 0 || st->text[kind])
            continue;
        char *err = NULL;
        void *data = NULL;
        if (mailbox_cache_get(s->mu, s->view->name, uid, cache_field(s, kind), &data,
                              &st->len[kind], &err) == 1)
            st->text[kind] = data;
        else
            all = false;
        free(err);
    }
    return all;
}

static void structure_free(struct structure *st)
{
    for (int k = 0; k < CACHED_N; k++)
        free(st->text[k]);
}

static void cache_flush(struct imap_session *s, struct cache_batch *b)
{
    char *err = NULL;
    if (b->n && mailbox_cache_put_many(s->mu, s->view->name, b->e, b->n, &err) < 0)
        log_warn("%s: %s: storing the FETCH cache: %s, session=<%s>", s->user, s->view->name,
                 err ? err : "?", s->id);
    free(err);
    for (size_t i = 0; i < b->n; i++)
        buf_free(&b->data[i]);
    b->n = 0;
}

/* Computed text of a structure item: written and kept for the cache. */
static void cache_add(struct imap_session *s, struct cache_batch *b, uint32_t uid, int kind,
                      const char *text, size_t len)
{
    if (!b)
        return;
    if (b->n == CACHE_BATCH * CACHED_N)
        cache_flush(s, b);
    struct buf *d = &b->data[b->n];
    buf_append(d, text, len);
    b->e[b->n] = (struct mailbox_cache_entry){uid, cache_field(s, kind), d->data, d->len};
    b->n++;
}

static void write_structure(struct imap_session *s, const struct item *it, const struct msg *m,
                            struct structure *st, struct cache_batch *b, uint32_t uid, struct buf *out)
{
    static const char *const name[CACHED_N] = {"ENVELOPE ", "BODYSTRUCTURE ", "BODY "};
    int kind = cached_kind(it->kind);
    buf_puts(out, name[kind]);
    if (!st->text[kind]) {
        struct buf t = BUF_INIT;
        if (kind == CACHED_ENVELOPE)
            imap_envelope(m->im, fmt_flags(s), &t);
        else if (kind == CACHED_BODYSTRUCTURE)
            imap_bodystructure(m->im, fmt_flags(s), &t);
        else
            imap_body(m->im, fmt_flags(s), &t);
        cache_add(s, b, uid, kind, t.data ? t.data : "", t.len);
        st->len[kind] = t.len;
        st->text[kind] = buf_steal(&t);
    }
    buf_append(out, st->text[kind], st->len[kind]);
}

static bool write_item(struct imap_session *s, const struct item *it, const struct view_msg *vm,
                       const struct msg *m, struct structure *st, struct cache_batch *b,
                       struct buf *out, bool *cte)
{
    switch (it->kind) {
    case I_UID: buf_printf(out, "UID %u", vm->uid); break;
    case I_FLAGS:
        buf_puts(out, "FLAGS ");
        view_write_flags(s->view, out, vm);
        break;
    case I_MODSEQ: condstore_write_modseq(s, out, vm->modseq); break;
    case I_INTERNALDATE:
        buf_puts(out, "INTERNALDATE ");
        internaldate(out, (time_t)vm->internaldate);
        break;
    case I_SIZE: buf_printf(out, "RFC822.SIZE %llu", (unsigned long long)vm->vsize); break;
    case I_ENVELOPE:
    case I_BODYSTRUCTURE:
    case I_BODY_SHORT: write_structure(s, it, m, st, b, vm->uid, out); break;
    case I_SECTION:
    case I_BINARY_SIZE: return write_section(s, it, m, out, cte);
    }
    return true;
}

/* One message's FETCH response. */
static int fetch_one(struct imap_session *s, const struct fetch *f, size_t i, bool uid,
                     struct cache_batch *b)
{
    struct view_msg *vm = &s->view->msgs[i];
    struct msg m = {0};
    struct structure st = {0};
    char *err = NULL;
    /* Flags, UID, size and date come from the view: a message another session expunged
     * meanwhile still answers them (RFC 9051 sec 7.5.1); only body items, and structure
     * items not cached yet, read the file. */
    bool need_file = f->body || (f->structure && (!structure_lookup(s, f, vm->uid, &st)));
    int r = need_file ? load(s, vm->uid, &m, &err) : 1;
    if (r <= 0) {
        if (r < 0)
            log_warn("%s: %s: FETCH UID %u: %s, session=<%s>", s->user, s->view->name, vm->uid,
                     err ? err : "?", s->id);
        free(err);
        msg_free(&m);
        structure_free(&st);
        return r;
    }
    bool seen_now = f->sets_seen && !s->view->readonly && !(vm->flags & MS_FLAG_SEEN);
    if (seen_now) {
        uint64_t modseq;
        uint32_t flags;
        uint64_t keywords;
        if (mailbox_store(s->mu, s->view->name, vm->uid, MS_STORE_ADD, MS_FLAG_SEEN, 0, 0, &modseq,
                          &flags, &keywords, &err) == MS_STORE_CHANGED)
            vm->flags = flags, vm->keywords = keywords, vm->modseq = modseq;
        free(err);
    }
    struct buf out = BUF_INIT;
    buf_printf(&out, "* %zu FETCH (", i + 1);
    bool first = true, has_uid = false, has_flags = false, cte = false;
    for (size_t k = 0; k < f->n && !cte; k++) {
        if (!first)
            buf_putc(&out, ' ');
        first = false;
        write_item(s, &f->items[k], vm, &m, &st, b, &out, &cte);
        has_uid |= f->items[k].kind == I_UID;
        has_flags |= f->items[k].kind == I_FLAGS;
    }
    /* RFC 9051 sec 6.4.9: UID FETCH responses include the UID; RFC 7162 sec 3.1: so does one
     * that set \Seen with CONDSTORE on, and its MODSEQ */
    if ((uid || (seen_now && s->condstore)) && !has_uid)
        buf_printf(&out, " UID %u", vm->uid);
    if (seen_now && !has_flags) {
        buf_puts(&out, " FLAGS ");
        view_write_flags(s->view, &out, vm);
    }
    if (seen_now && s->condstore && !f->modseq) {
        buf_putc(&out, ' ');
        condstore_write_modseq(s, &out, vm->modseq);
    }
    buf_puts(&out, ")\r\n");
    if (!cte) /* RFC 3516 sec 4.1: NO [UNKNOWN-CTE], and no response for this message */
        conn_write(s->conn, out.data, out.len);
    buf_free(&out);
    msg_free(&m);
    structure_free(&st);
    s->fetches++;
    return cte ? -2 : 1;
}

struct fetch_job {
    struct fetch f;
    bool uid;
    size_t *pos, n, next;
    unsigned failed, gone, cte;
    char tag[IMAP_TAG_MAX + 1];
    char done[64];      /* the text of the tagged OK */
    struct cache_batch *cache; /* structure items computed, not stored yet (NULL: none asked) */
};

static void job_free(struct fetch_job *j)
{
    fetch_free(&j->f);
    free(j->pos);
    if (j->cache)
        for (size_t i = 0; i < j->cache->n; i++)
            buf_free(&j->cache->data[i]);
    free(j->cache);
    free(j);
}

bool fetch_more(struct imap_session *s)
{
    struct fetch_job *j = s->fetching;
    if (!j)
        return true;
    while (j->next < j->n) {
        /* Enough waiting: send it; what the socket does not take now is sent when it can,
         * and the drained callback brings us back here. */
        if (conn_out_pending(s->conn) >= FETCH_OUT_HIGH && !conn_flush(s->conn))
            return false;
        if (j->f.structure && !j->cache)
            j->cache = xcalloc(1, sizeof *j->cache);
        int r = fetch_one(s, &j->f, j->pos[j->next++], j->uid, j->cache);
        j->failed += r == -1;
        j->cte += r == -2;
        j->gone += r == 0;
    }
    s->fetching = NULL;
    if (j->cache)
        cache_flush(s, j->cache);
    snprintf(s->tag, sizeof s->tag, "%s", j->tag);
    if (j->failed)
        imap_no(s, "[SERVERBUG] %u messages could not be read.", j->failed);
    else if (j->cte)
        imap_no(s, "[UNKNOWN-CTE] A part has a transfer encoding BINARY cannot undo.");
    /* Expunged by another session meanwhile (its file and cached structure are gone): the
     * messages that still exist are answered and the command succeeds with
     * OK [EXPUNGEISSUED] (RFC 5530 sec 3; RFC 2180 sec 4.1 allows leaving the expunged
     * ones out), as Dovecot does. A NO would make clients that show server errors (and
     * imaptest, which counts only OK) treat a normal race as a failure. */
    else if (j->gone)
        imap_ok(s, "[EXPUNGEISSUED] Some messages were already expunged.");
    else
        imap_ok(s, "%s", j->done);
    job_free(j);
    return true;
}

void fetch_abort(struct imap_session *s)
{
    if (s->fetching) {
        job_free(s->fetching);
        s->fetching = NULL;
    }
}

static void fetch_start(struct imap_session *s, struct fetch_job *j)
{
    snprintf(j->tag, sizeof j->tag, "%s", s->tag);
    s->fetching = j;
    fetch_more(s);
}

/* FETCH's modifiers (RFC 4466 fetch-modifiers): CHANGEDSINCE n (RFC 7162 sec 3.1.4.1) and, for
 * UID FETCH with QRESYNC on and CHANGEDSINCE, VANISHED (sec 3.2.6). NULL or the BAD text. */
static const char *parse_modifiers(struct imap_session *s, const struct imap_arg *l, bool uid,
                                   bool *changedsince, uint64_t *since, bool *vanished)
{
    if (l->type != IMAP_ARG_LIST || l->n == 0)
        return "Invalid FETCH modifiers";
    for (size_t i = 0; i < l->n; i++) {
        const struct imap_arg *a = &l->list[i];
        if (imap_arg_atom_is(a, "CHANGEDSINCE") && !*changedsince) {
            if (i + 1 == l->n || !imap_arg_number64(&l->list[++i], since))
                return "CHANGEDSINCE needs a mod-sequence";
            *changedsince = true;
        } else if (imap_arg_atom_is(a, "VANISHED") && !*vanished) {
            if (!uid)
                return "VANISHED is only allowed with UID FETCH";
            if (!s->qresync)
                return "QRESYNC is not enabled (ENABLE QRESYNC first)";
            *vanished = true;
        } else {
            return "Unknown or repeated FETCH modifier";
        }
    }
    return *vanished && !*changedsince ? "VANISHED needs CHANGEDSINCE" : NULL;
}

/* Keep the positions of messages with a MODSEQ above since. */
static void changed_only(const struct view *v, struct fetch_job *j, uint64_t since)
{
    size_t w = 0;
    for (size_t k = 0; k < j->n; k++)
        if (v->msgs[j->pos[k]].modseq > since)
            j->pos[w++] = j->pos[k];
    j->n = w;
}

/* VANISHED (EARLIER) for the UID set as the client wrote it, "*" reaching to the end of
 * the UID space: a client that asks 1:* wants every expunge (sec 3.2.6). */
static int vanished_of_set(struct imap_session *s, const char *atom, uint64_t since)
{
    struct imap_seqset set;
    if (!imap_seqset_parse(atom, 100000, &set))
        return 0;
    imap_seqset_resolve(&set, UINT32_MAX);
    int r = qresync_vanished_earlier(s, &set, since, 0);
    imap_seqset_free(&set);
    return r;
}

void cmd_fetch(struct imap_session *s, struct imap_command *cmd, bool uid)
{
    struct fetch_job *j = xcalloc(1, sizeof *j);
    struct imap_seqset set;
    bool changedsince = false, vanished = false;
    uint64_t since = 0;
    const char *merr = cmd->nargs == 3 ? parse_modifiers(s, &cmd->args[2], uid, &changedsince, &since, &vanished) : NULL;
    if (cmd->nargs < 2 || cmd->nargs > 3 || merr || cmd->args[0].type != IMAP_ARG_ATOM ||
        !parse_atts(&j->f, &cmd->args[1]) || !imap_seqset_parse(cmd->args[0].str, 100000, &set)) {
        job_free(j);
        imap_bad(s, "%s.", merr ? merr : "Syntax: FETCH sequence-set (items) [(CHANGEDSINCE modseq [VANISHED])]");
        return;
    }
    if (changedsince && !j->f.modseq) /* RFC 7162 sec 3.1.4.1: CHANGEDSINCE implies MODSEQ */
        parse_att(&j->f, &(struct imap_arg){.type = IMAP_ARG_ATOM, .str = "MODSEQ", .len = 6});
    if (j->f.modseq) /* sec 3.1: a CONDSTORE enabling command */
        condstore_enable(s);
    /* Before the sync: what it announces as VANISHED is left out of (EARLIER), so that no
     * UID is reported twice (both come before the FETCHes, sec 3.2.6). */
    if (vanished && vanished_of_set(s, cmd->args[0].str, since) < 0) {
        imap_seqset_free(&set);
        job_free(j);
        imap_no(s, "[UNAVAILABLE] The expunged messages cannot be listed; try again later.");
        return;
    }
    view_sync(s, uid);
    j->uid = uid;
    j->pos = view_resolve(s, &set, uid, &j->n);
    imap_seqset_free(&set);
    if (changedsince)
        changed_only(s->view, j, since);
    snprintf(j->done, sizeof j->done, "%s completed.", cmd->name);
    fetch_start(s, j);
}

void fetch_resync(struct imap_session *s, size_t *pos, size_t n, const char *ok_text)
{
    struct fetch_job *j = xcalloc(1, sizeof *j);
    static const char *const items[] = {"UID", "FLAGS", "MODSEQ"};
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++)
        parse_att(&j->f, &(struct imap_arg){.type = IMAP_ARG_ATOM, .str = items[i], .len = strlen(items[i])});
    j->uid = true;
    j->pos = pos;
    j->n = n;
    snprintf(j->done, sizeof j->done, "%s", ok_text);
    fetch_start(s, j);
}
