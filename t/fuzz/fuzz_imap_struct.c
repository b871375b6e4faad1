/* fuzz_imap_struct.c - libFuzzer target: the message-structure side of IMAP FETCH and
 * SEARCH (lib/proto/imap_struct.h, lib/mail/mail_text.h). The first four bytes are
 * controls (output flags, a needle, a partial range, section choices); the rest is the
 * message. Any violation aborts:
 * - ENVELOPE, BODYSTRUCTURE and BODY are well-formed IMAP: one value; lists balanced;
 *   quoted strings with only allowed bytes (UTF-8 only under IMAP_FMT_UTF8) and correct
 *   escapes; literals "{n}\r\n" followed by exactly n bytes; no NUL anywhere. And they
 *   follow the RFC 3501/9051 grammar: an envelope has ten members, addresses four, a body
 *   the members its type calls for, a multipart at least one body, extension data only
 *   in BODYSTRUCTURE.
 * - BODY[] is RFC822.SIZE long and is BODY[HEADER] followed by BODY[TEXT].
 * - Every part mime.h found is reachable by its part number: BODY[n] is the CRLF form of its
 *   body and BODY[n.MIME] of its header (computed here independently), HEADER and TEXT of
 *   attached messages likewise; BINARY[n] resolves or says UNKNOWN-CTE.
 * - Every section read (also random part numbers and HEADER.FIELDS[.NOT]) has no bare LF
 *   and no NUL in BODY mode; its size is what a reader hands out, in slices of any size;
 *   a partial <start.len> is the substring of the whole; BINARY's has_nul is right.
 * - SEARCH text is well-formed UTF-8 and the streaming match agrees with a whole-text one. */
#include "buf.h"
#include "imap_struct.h"
#include "mail_text.h"
#include "text_match.h"
#include "utf8.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond))                                                                           \
            abort();                                                                           \
    } while (0)

/* ---- a parser of the IMAP values ENVELOPE and BODYSTRUCTURE are made of ---- */

enum ntype { N_LIST, N_STRING, N_NIL, N_NUMBER };

struct node {
    enum ntype t;
    size_t n_items;
    struct node *items;
    struct buf text; /* N_STRING: the content */
};

struct lexer {
    const char *s;
    size_t n, i;
    unsigned flags;
};

static void node_free(struct node *x)
{
    for (size_t i = 0; i < x->n_items; i++)
        node_free(&x->items[i]);
    free(x->items);
    buf_free(&x->text);
}

static bool parse_value(struct lexer *l, struct node *x, int depth);

static bool parse_quoted(struct lexer *l, struct node *x)
{
    l->i++;
    while (l->i < l->n && l->s[l->i] != '"') {
        char c = l->s[l->i++];
        if (c == '\r' || c == '\n' || c == '\0')
            return false;
        if (c == '\\') {
            if (l->i >= l->n || (l->s[l->i] != '"' && l->s[l->i] != '\\'))
                return false;
            c = l->s[l->i++];
        }
        buf_putc(&x->text, c);
    }
    if (l->i >= l->n)
        return false;
    l->i++;
    if (!(l->flags & IMAP_FMT_UTF8) && !utf8_is_ascii(x->text.data, x->text.len))
        return false;
    return utf8_valid(x->text.data ? x->text.data : "", x->text.len);
}

static bool parse_literal(struct lexer *l, struct node *x)
{
    size_t n = 0, digits = 0;
    l->i++;
    while (l->i < l->n && l->s[l->i] >= '0' && l->s[l->i] <= '9' && digits < 12) {
        n = n * 10 + (size_t)(l->s[l->i++] - '0');
        digits++;
    }
    if (digits == 0 || l->n - l->i < 3 || memcmp(l->s + l->i, "}\r\n", 3) != 0)
        return false;
    l->i += 3;
    if (l->n - l->i < n || memchr(l->s + l->i, '\0', n))
        return false;
    buf_append(&x->text, l->s + l->i, n);
    l->i += n;
    return true;
}

static bool parse_list(struct lexer *l, struct node *x, int depth)
{
    l->i++;
    size_t cap = 0;
    while (l->i < l->n && l->s[l->i] != ')') {
        if (x->n_items > 0) {
            /* elements are separated by one SP, or by nothing between ")" and "(" */
            bool paren = l->s[l->i - 1] == ')' && l->s[l->i] == '(';
            if (!paren) {
                if (l->s[l->i] != ' ')
                    return false;
                l->i++;
            }
        }
        if (x->n_items == cap) {
            cap = cap ? cap * 2 : 4;
            x->items = realloc(x->items, cap * sizeof *x->items);
            CHECK(x->items);
        }
        struct node *y = &x->items[x->n_items++];
        memset(y, 0, sizeof *y);
        if (!parse_value(l, y, depth + 1))
            return false;
    }
    if (l->i >= l->n)
        return false;
    l->i++;
    return true;
}

static bool parse_value(struct lexer *l, struct node *x, int depth)
{
    if (l->i >= l->n || depth > 200)
        return false;
    char c = l->s[l->i];
    if (c == '(') {
        x->t = N_LIST;
        return parse_list(l, x, depth);
    }
    if (c == '"') {
        x->t = N_STRING;
        return parse_quoted(l, x);
    }
    if (c == '{') {
        x->t = N_STRING;
        return parse_literal(l, x);
    }
    if (l->n - l->i >= 3 && memcmp(l->s + l->i, "NIL", 3) == 0) {
        x->t = N_NIL;
        l->i += 3;
        return true;
    }
    if (c >= '0' && c <= '9') {
        x->t = N_NUMBER;
        while (l->i < l->n && l->s[l->i] >= '0' && l->s[l->i] <= '9')
            l->i++;
        return true;
    }
    return false;
}

/* The whole of out is one value; x gets it. */
static void parse_all(const struct buf *out, unsigned flags, struct node *x)
{
    struct lexer l = { out->data, out->len, 0, flags };
    memset(x, 0, sizeof *x);
    CHECK(out->len > 0 && !memchr(out->data, '\0', out->len));
    CHECK(parse_value(&l, x, 0));
    CHECK(l.i == l.n);
}

/* ---- the grammar of RFC 3501/9051 sec 9 ---- */

static bool is_nstring(const struct node *x) { return x->t == N_STRING || x->t == N_NIL; }

static bool str_is(const struct node *x, const char *s)
{
    return x->t == N_STRING && x->text.len == strlen(s) &&
           strncasecmp(x->text.data, s, x->text.len) == 0;
}

static void check_address_list(const struct node *x)
{
    if (x->t == N_NIL)
        return;
    CHECK(x->t == N_LIST && x->n_items > 0);
    for (size_t i = 0; i < x->n_items; i++) {
        const struct node *a = &x->items[i];
        CHECK(a->t == N_LIST && a->n_items == 4);
        for (size_t j = 0; j < 4; j++)
            CHECK(is_nstring(&a->items[j]));
    }
}

static void check_envelope(const struct node *x)
{
    CHECK(x->t == N_LIST && x->n_items == 10);
    CHECK(is_nstring(&x->items[0]) && is_nstring(&x->items[1]));
    for (size_t i = 2; i < 8; i++)
        check_address_list(&x->items[i]);
    CHECK(is_nstring(&x->items[8]) && is_nstring(&x->items[9]));
}

static void check_params(const struct node *x)
{
    if (x->t == N_NIL)
        return;
    CHECK(x->t == N_LIST && x->n_items >= 2 && x->n_items % 2 == 0);
    for (size_t i = 0; i < x->n_items; i++)
        CHECK(x->items[i].t == N_STRING);
}

static void check_disposition(const struct node *x)
{
    if (x->t == N_NIL)
        return;
    CHECK(x->t == N_LIST && x->n_items == 2 && x->items[0].t == N_STRING);
    check_params(&x->items[1]);
}

static void check_language(const struct node *x)
{
    if (is_nstring(x))
        return;
    CHECK(x->t == N_LIST && x->n_items > 0);
    for (size_t i = 0; i < x->n_items; i++)
        CHECK(x->items[i].t == N_STRING);
}

/* dsp, lang, loc at items[at..]: exactly those three. */
static void check_ext_tail(const struct node *x, size_t at)
{
    CHECK(x->n_items == at + 3);
    check_disposition(&x->items[at]);
    check_language(&x->items[at + 1]);
    CHECK(is_nstring(&x->items[at + 2]));
}

static void check_body(const struct node *x, bool ext, unsigned flags, size_t *leaves);

static void check_multipart(const struct node *x, bool ext, unsigned flags, size_t *leaves)
{
    size_t i = 0;
    while (i < x->n_items && x->items[i].t == N_LIST)
        check_body(&x->items[i++], ext, flags, leaves);
    CHECK(i >= 1 && i < x->n_items && x->items[i].t == N_STRING);
    i++;
    if (!ext) {
        CHECK(i == x->n_items);
        return;
    }
    CHECK(i < x->n_items);
    check_params(&x->items[i]);
    check_ext_tail(x, i + 1);
}

static void check_single(const struct node *x, bool ext, unsigned flags, size_t *leaves)
{
    CHECK(x->n_items >= 7);
    const struct node *it = x->items;
    CHECK(it[0].t == N_STRING && it[1].t == N_STRING);
    check_params(&it[2]);
    CHECK(is_nstring(&it[3]) && is_nstring(&it[4]) && it[5].t == N_STRING);
    CHECK(it[6].t == N_NUMBER);
    size_t i = 7;
    if (str_is(&it[0], "text")) {
        CHECK(i < x->n_items && it[i].t == N_NUMBER);
        i++;
    } else if (str_is(&it[0], "message") &&
               (str_is(&it[1], "rfc822") ||
                ((flags & IMAP_FMT_MESSAGE_GLOBAL) && str_is(&it[1], "global")))) {
        CHECK(i + 3 <= x->n_items);
        check_envelope(&it[i]);
        CHECK(it[i + 1].t == N_LIST);
        check_body(&it[i + 1], ext, flags, leaves);
        CHECK(it[i + 2].t == N_NUMBER);
        i += 3;
    }
    (*leaves)++;
    if (!ext) {
        CHECK(i == x->n_items);
        return;
    }
    CHECK(i < x->n_items && is_nstring(&it[i]));
    check_ext_tail(x, i + 1);
}

static void check_body(const struct node *x, bool ext, unsigned flags, size_t *leaves)
{
    CHECK(x->t == N_LIST && x->n_items > 0);
    if (x->items[0].t == N_LIST)
        check_multipart(x, ext, flags, leaves);
    else
        check_single(x, ext, flags, leaves);
}

/* ---- sections ---- */

static bool same_bytes(const struct buf *a, const char *b, size_t blen)
{
    return a->len == blen && (blen == 0 || memcmp(a->data, b, blen) == 0);
}

/* The CRLF form of msg[off..off+len), computed the simple way. */
static void crlf_of(const char *msg, size_t off, size_t len, struct buf *out)
{
    for (size_t i = off; i < off + len; i++) {
        if (msg[i] == '\n' && (i == off || msg[i - 1] != '\r'))
            buf_putc(out, '\r');
        buf_putc(out, msg[i] == '\0' ? (char)0x80 : msg[i]);
    }
}

static void check_crlf_text(const struct buf *b)
{
    for (size_t i = 0; i < b->len; i++) {
        CHECK(b->data[i] != '\0');
        CHECK(b->data[i] != '\n' || (i > 0 && b->data[i - 1] == '\r'));
    }
}

/* Open s, read it in slices of `slice`, check the invariants, and return the contents in
 * *whole (when OK). */
static enum imap_section_status read_section(const struct imap_message *m,
                                             const struct imap_section *s,
                                             enum imap_section_mode mode, size_t slice,
                                             uint8_t ctl, struct buf *whole)
{
    struct imap_section_reader *r;
    buf_reset(whole);
    enum imap_section_status st = imap_section_open(m, s, mode, &r);
    CHECK((st == IMAP_SECTION_OK) == (r != NULL));
    if (st != IMAP_SECTION_OK)
        return st;
    uint64_t size = imap_section_size(r);
    while (imap_section_read(r, slice, whole) > 0)
        ;
    CHECK(whole->len == size);
    if (mode == IMAP_SECTION_BODY)
        check_crlf_text(whole);
    else
        CHECK(imap_section_has_nul(r) == (memchr(whole->data, '\0', whole->len) != NULL));
    /* a partial from the controls, through seek */
    uint64_t start = size ? ctl % (size + 1) : 0, len = 1 + ctl / 8;
    struct buf part = BUF_INIT;
    imap_section_seek(r, start);
    imap_section_read(r, (size_t)len, &part);
    CHECK(same_bytes(&part, whole->data + start, start + len <= size ? len : size - start));
    buf_free(&part);
    imap_section_close(r);
    /* the whole as a partial <0.size> */
    struct buf again = BUF_INIT;
    uint64_t size2 = 0;
    CHECK(imap_section_fetch(m, s, mode, 0, size, &again, &size2) == IMAP_SECTION_OK);
    CHECK(size2 == size && same_bytes(&again, whole->data, size));
    buf_free(&again);
    return st;
}

static bool is_multipart(const struct mime_part *pt) { return !strcmp(pt->type, "multipart"); }

static bool is_message(const struct mime_part *pt)
{
    return !strcmp(pt->type, "message") &&
           (!strcmp(pt->subtype, "rfc822") || !strcmp(pt->subtype, "global"));
}

/* The part numbers that address part i's body (false when none does: the top-level
 * multipart, the multipart an attached message is). */
static bool part_path(const struct mime_part *parts, size_t i, uint32_t *path, size_t *n)
{
    if (i == 0) {
        *n = 0;
        if (is_multipart(&parts[0]))
            return false;
        path[(*n)++] = 1;
        return true;
    }
    size_t p = parts[i].parent;
    if (is_message(&parts[p])) { /* i is the message p holds */
        if (is_multipart(&parts[i]) || !part_path(parts, p, path, n))
            return false;
        path[(*n)++] = 1;
        return true;
    }
    /* p is a multipart: the path that lists p's parts, then i's position */
    size_t pp = parts[p].parent;
    if (p == 0)
        *n = 0;
    else if (!part_path(parts, is_message(&parts[pp]) ? pp : p, path, n))
        return false;
    uint32_t pos = 1;
    for (size_t c = parts[p].first_child; c != i; c = parts[c].next_sibling)
        pos++;
    path[(*n)++] = pos;
    return true;
}

static void expect_section(const struct imap_message *m, const char *msg,
                           const struct imap_section *s, size_t off, size_t len, uint8_t ctl)
{
    struct buf got = BUF_INIT, want = BUF_INIT;
    CHECK(read_section(m, s, IMAP_SECTION_BODY, 1 + ctl % 13, ctl, &got) == IMAP_SECTION_OK);
    crlf_of(msg, off, len, &want);
    CHECK(same_bytes(&got, want.data, want.len));
    buf_free(&got);
    buf_free(&want);
}

/* Every part (of the first 40) by its number. */
static void check_parts(const struct imap_message *m, const char *msg, uint8_t ctl)
{
    size_t n;
    const struct mime_part *parts = imap_message_parts(m, &n);
    uint32_t path[64];
    struct buf scratch = BUF_INIT;
    for (size_t i = 0; i < n && i < 40; i++) {
        const struct mime_part *pt = &parts[i];
        size_t np;
        if (pt->depth > 20 || !part_path(parts, i, path, &np))
            continue;
        struct imap_section s = { path, np, IMAP_SECTION_ALL, NULL, 0 };
        expect_section(m, msg, &s, pt->body_offset, pt->body_size, ctl);
        s.kind = IMAP_SECTION_MIME;
        expect_section(m, msg, &s, pt->header_offset, pt->header_size, ctl);
        if (is_message(pt) && pt->first_child != MIME_NONE) {
            const struct mime_part *in = &parts[pt->first_child];
            s.kind = IMAP_SECTION_HEADER;
            expect_section(m, msg, &s, in->header_offset, in->header_size, ctl);
            s.kind = IMAP_SECTION_TEXT;
            expect_section(m, msg, &s, in->body_offset, in->body_size, ctl);
        }
        s.kind = IMAP_SECTION_ALL;
        enum imap_section_status st =
            read_section(m, &s, IMAP_SECTION_BINARY, 1 + ctl % 7, ctl, &scratch);
        CHECK(st == IMAP_SECTION_OK || st == IMAP_SECTION_UNKNOWN_CTE);
    }
    buf_free(&scratch);
}

/* Random part numbers and the header subsets: whatever the status, the invariants hold. */
static void check_random_sections(const struct imap_message *m, const uint8_t *ctl)
{
    static const char *const names[] = { "from", "SUBJECT", "content-type", "x" };
    struct buf out = BUF_INIT;
    for (int k = 0; k < 4; k++) {
        uint32_t path[3];
        size_t n = ctl[k] % 4;
        for (size_t i = 0; i < n; i++)
            path[i] = (ctl[(k + i + 1) % 4] >> (2 * i)) % 4; /* 0 included: invalid */
        struct imap_section s = { path, n, (enum imap_section_kind)(ctl[k] / 4 % 6), names,
                                  1 + ctl[k] / 24 % 4 };
        read_section(m, &s, IMAP_SECTION_BODY, 1 + k, ctl[k], &out);
        read_section(m, &s, IMAP_SECTION_BINARY, 2 + k, ctl[k], &out);
    }
    buf_free(&out);
}

/* ---- SEARCH ---- */

struct search {
    struct text_match m;
    struct buf text; /* the current text, whole */
    const char *needle;
    size_t nlen;
};

static void finish_text(struct search *s)
{
    if (s->text.len == 0 && !text_match_found(&s->m))
        return;
    CHECK(text_match_found(&s->m) ==
          text_contains(s->text.data ? s->text.data : "", s->text.len, s->needle, s->nlen));
}

static bool on_chunk(void *ctx, const struct mail_text_chunk *c)
{
    struct search *s = ctx;
    CHECK(utf8_valid(c->data, c->len));
    if (c->start) {
        finish_text(s);
        text_match_restart(&s->m);
        buf_reset(&s->text);
    }
    buf_append(&s->text, c->data, c->len);
    text_match_feed(&s->m, c->data, c->len);
    return true;
}

static void check_search(const char *msg, size_t len, const struct mime_part *parts, size_t n,
                         uint8_t ctl)
{
    static const char *const needles[] = { "a", "\xc3\xa4", "=?", "Subject", "", "\xc3" };
    struct search s;
    s.needle = needles[ctl % 6];
    s.nlen = strlen(s.needle);
    text_match_init(&s.m, s.needle, s.nlen);
    buf_init(&s.text);
    CHECK(mail_text_walk(msg, len, parts, n, MAIL_TEXT_HEADERS | MAIL_TEXT_BODIES, on_chunk,
                         &s));
    finish_text(&s);
    text_match_free(&s.m);
    buf_free(&s.text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    const uint8_t *ctl = data;
    const char *msg = (const char *)data + 4;
    size_t len = size - 4;
    unsigned flags = ctl[0] & (IMAP_FMT_UTF8 | IMAP_FMT_MESSAGE_GLOBAL);
    struct imap_message *m = imap_message_new(msg, len);

    struct buf out = BUF_INIT;
    struct node x;
    size_t leaves_ext = 0, leaves = 0;
    imap_envelope(m, flags, &out);
    parse_all(&out, flags, &x);
    check_envelope(&x);
    node_free(&x);
    buf_reset(&out);
    imap_bodystructure(m, flags, &out);
    parse_all(&out, flags, &x);
    check_body(&x, true, flags, &leaves_ext);
    node_free(&x);
    buf_reset(&out);
    imap_body(m, flags, &out);
    parse_all(&out, flags, &x);
    check_body(&x, false, flags, &leaves);
    node_free(&x);
    CHECK(leaves == leaves_ext);

    /* BODY[] = HEADER + TEXT, RFC822.SIZE long */
    struct buf whole = BUF_INIT, header = BUF_INIT, text = BUF_INIT;
    struct imap_section s = { NULL, 0, IMAP_SECTION_ALL, NULL, 0 };
    CHECK(read_section(m, &s, IMAP_SECTION_BODY, 1 + ctl[1] % 64, ctl[2], &whole) == 0);
    CHECK(whole.len == imap_message_size(m));
    s.kind = IMAP_SECTION_HEADER;
    CHECK(read_section(m, &s, IMAP_SECTION_BODY, 4096, ctl[3], &header) == 0);
    s.kind = IMAP_SECTION_TEXT;
    CHECK(read_section(m, &s, IMAP_SECTION_BODY, 7, ctl[1], &text) == 0);
    CHECK(header.len + text.len == whole.len);
    CHECK(same_bytes(&header, whole.data, header.len));
    CHECK(same_bytes(&text, whole.data + header.len, text.len));
    buf_free(&whole);
    buf_free(&header);
    buf_free(&text);

    check_parts(m, msg, ctl[2]);
    check_random_sections(m, ctl);
    size_t n;
    const struct mime_part *parts = imap_message_parts(m, &n);
    check_search(msg, len, parts, n, ctl[3]);
    buf_free(&out);
    imap_message_free(m);
    return 0;
}
