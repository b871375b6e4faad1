/* addrlist.c - RFC 5322 address lists (see addrlist.h).
 *
 * A lexer turns the text into words (atoms, which here include '.', quoted strings, domain
 * literals) and specials, skipping white space and comments; the first comment of the
 * current address is kept as its fallback name. A recursive-descent parser over one token
 * of lookahead builds the entries. Every token is looked at once, so work is linear. */
#include "addrlist.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

enum tok { T_END, T_ATOM, T_QSTR, T_DLIT, T_SPECIAL };

struct token {
    enum tok t;
    char c;            /* T_SPECIAL: the character */
    size_t start, end; /* raw bytes; for T_QSTR without the quotes */
    bool space_before; /* white space or a comment came before it */
};

struct parser {
    const char *s;
    size_t n, i;
    struct token cur;
    struct buf comment; /* the first comment of the current address */
    bool have_comment;
    bool in_group;
    struct buf phrase, local, route, domain; /* scratch */
    struct addrlist *out;
    bool malformed;
};

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static bool is_special(char c) { return strchr("()<>[]:;@,\"", c) != NULL && c != '\0'; }

void addrlist_init(struct addrlist *l)
{
    l->v = NULL;
    l->n = l->cap = 0;
    l->malformed = false;
    buf_init(&l->pool);
}

void addrlist_free(struct addrlist *l)
{
    free(l->v);
    buf_free(&l->pool);
    addrlist_init(l);
}

const char *addrlist_str(const struct addrlist *l, struct addrlist_text t)
{
    return t.off == ADDRLIST_ABSENT ? NULL : l->pool.data + t.off;
}

/* ---- lexer ---- */

/* After "(": to the matching ")" (or the end), content with quoted pairs undone kept in
 * out when out is not NULL. */
static void lex_comment(struct parser *p, struct buf *out)
{
    size_t depth = 1;
    while (p->i < p->n) {
        char c = p->s[p->i++];
        if (c == '\\' && p->i < p->n)
            c = p->s[p->i++];
        else if (c == '(')
            depth++;
        else if (c == ')' && --depth == 0)
            return;
        if (out)
            buf_putc(out, c);
    }
    p->malformed = true; /* never closed */
}

static void skip_cfws(struct parser *p, bool *skipped)
{
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (is_space(c)) {
            p->malformed |= c == '\r' || c == '\n'; /* no line end in an unfolded field */
            p->i++;
        } else if (c == '(') {
            p->i++;
            bool keep = !p->have_comment;
            size_t mark = p->comment.len;
            lex_comment(p, keep ? &p->comment : NULL);
            if (keep) {
                /* trimmed; an empty comment does not count */
                size_t a = mark, b = p->comment.len;
                while (a < b && is_space(p->comment.data[a]))
                    a++;
                while (b > a && is_space(p->comment.data[b - 1]))
                    b--;
                if (b > a)
                    memmove(p->comment.data + mark, p->comment.data + a, b - a);
                buf_truncate(&p->comment, mark + (b - a));
                p->have_comment = p->comment.len > 0;
            }
        } else {
            return;
        }
        *skipped = true;
    }
}

/* After the opening '"' or '[': to the closing one (true) or the end (false). */
static bool lex_delimited(struct parser *p, char close)
{
    while (p->i < p->n) {
        char c = p->s[p->i++];
        if (c == '\\' && p->i < p->n)
            p->i++;
        else if (c == close)
            return true;
    }
    p->malformed = true;
    return false;
}

static void advance(struct parser *p)
{
    struct token *t = &p->cur;
    t->space_before = false;
    skip_cfws(p, &t->space_before);
    t->start = p->i;
    if (p->i >= p->n) {
        t->t = T_END;
        t->end = p->i;
        return;
    }
    char c = p->s[p->i];
    if (c == '"') {
        t->t = T_QSTR;
        t->start = ++p->i;
        t->end = lex_delimited(p, '"') ? p->i - 1 : p->i;
    } else if (c == '[') {
        t->t = T_DLIT;
        p->i++;
        lex_delimited(p, ']');
        t->end = p->i;
    } else if (is_special(c)) {
        t->t = T_SPECIAL;
        t->c = c;
        t->end = ++p->i;
    } else {
        t->t = T_ATOM;
        while (p->i < p->n && !is_space(p->s[p->i]) && !is_special(p->s[p->i])) {
            unsigned char b = (unsigned char)p->s[p->i];
            p->malformed |= b < 0x20 || b == 0x7f;
            p->i++;
        }
        t->end = p->i;
    }
}

static bool at(const struct parser *p, char c)
{
    return p->cur.t == T_SPECIAL && p->cur.c == c;
}

static bool at_word(const struct parser *p)
{
    return p->cur.t == T_ATOM || p->cur.t == T_QSTR;
}

/* The current word's content appended to out (quoted pairs of a quoted string undone). */
static void word_content(const struct parser *p, struct buf *out)
{
    const char *w = p->s + p->cur.start;
    size_t n = p->cur.end - p->cur.start;
    if (p->cur.t != T_QSTR) {
        buf_append(out, w, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (w[i] == '\\' && i + 1 < n)
            i++;
        buf_putc(out, w[i]);
    }
}

/* ---- output ---- */

static struct addrlist_text pool_add(struct addrlist *l, const char *s, size_t n)
{
    struct addrlist_text t = { l->pool.len, n };
    buf_append(&l->pool, s, n);
    buf_putc(&l->pool, '\0');
    return t;
}

static struct addrlist_text pool_buf(struct addrlist *l, const struct buf *b)
{
    return pool_add(l, b->data ? b->data : "", b->len);
}

static const struct addrlist_text absent = { ADDRLIST_ABSENT, 0 };

static struct addrlist_entry *new_entry(struct addrlist *l, enum addrlist_kind kind)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->v = xreallocarray(l->v, l->cap, sizeof *l->v);
    }
    struct addrlist_entry *e = &l->v[l->n++];
    e->kind = kind;
    e->name = e->route = e->local = e->domain = absent;
    return e;
}

/* A mailbox; name NULL (or empty) falls back to the address's first comment. */
static void emit_mailbox(struct parser *p, const struct buf *name, bool with_route)
{
    struct addrlist *l = p->out;
    struct addrlist_entry *e = new_entry(l, ADDRLIST_MAILBOX);
    if (name && name->len > 0)
        e->name = pool_buf(l, name);
    else if (p->have_comment)
        e->name = pool_buf(l, &p->comment);
    if (with_route && p->route.len > 0)
        e->route = pool_buf(l, &p->route);
    e->local = pool_buf(l, &p->local);
    e->domain = pool_buf(l, &p->domain);
}

/* ---- parser ---- */

/* domain: words, domain literals and dots run together (obsolete CFWS between them). */
static void parse_domain(struct parser *p)
{
    buf_reset(&p->domain);
    bool first = true;
    while (p->cur.t == T_ATOM || p->cur.t == T_DLIT) {
        const char *w = p->s + p->cur.start;
        size_t n = p->cur.end - p->cur.start;
        bool joins = p->domain.len > 0 && p->domain.data[p->domain.len - 1] == '.';
        if (!first && !joins && w[0] != '.')
            break;
        buf_append(&p->domain, w, n);
        first = false;
        advance(p);
    }
}

/* A local part: words and dots joined without the white space between them. */
static void parse_local(struct parser *p)
{
    buf_reset(&p->local);
    while (at_word(p)) {
        word_content(p, &p->local);
        advance(p);
    }
}

/* obs-route: "@" domain *("," ["@" domain]) ":" - after it, p->route is "@a,@b". */
static void parse_route(struct parser *p)
{
    buf_reset(&p->route);
    while (at(p, '@') || at(p, ',')) {
        if (at(p, ',')) {
            advance(p);
            continue;
        }
        advance(p);
        parse_domain(p);
        if (p->route.len > 0)
            buf_putc(&p->route, ',');
        buf_putc(&p->route, '@');
        buf_append(&p->route, p->domain.data ? p->domain.data : "", p->domain.len);
    }
    if (at(p, ':'))
        advance(p);
}

/* After "<": [route] local-part ["@" domain] ">". */
static void parse_angle(struct parser *p, const struct buf *name)
{
    buf_reset(&p->route);
    if (at(p, '@') || at(p, ','))
        parse_route(p);
    parse_local(p);
    buf_reset(&p->domain);
    if (at(p, '@')) {
        advance(p);
        parse_domain(p);
    }
    while (p->cur.t != T_END && !at(p, '>') && !at(p, ',') && !at(p, ';')) {
        p->malformed = true;
        advance(p);
    }
    if (at(p, '>'))
        advance(p); /* comments after '>' are lexed now and may name the mailbox */
    else
        p->malformed = true;
    emit_mailbox(p, name, true);
}

static void new_address(struct parser *p)
{
    buf_reset(&p->comment);
    p->have_comment = false;
}

/* One address at the current token; true when it was the start of a group (the members
 * follow at once, no junk to skip). */
static bool parse_address(struct parser *p)
{
    buf_reset(&p->phrase);
    buf_reset(&p->local);
    size_t words = 0;
    bool multiword = false, quoted = false;
    while (at_word(p)) {
        bool dotted = p->cur.t == T_ATOM && (p->s[p->cur.start] == '.' ||
                                            (p->local.len > 0 &&
                                             p->local.data[p->local.len - 1] == '.'));
        if (words > 0 && p->cur.space_before) {
            buf_putc(&p->phrase, ' ');
            multiword = multiword || !dotted;
        }
        word_content(p, &p->phrase);
        word_content(p, &p->local);
        quoted = quoted || p->cur.t == T_QSTR;
        words++;
        advance(p);
    }
    if (at(p, ':')) {
        if (p->in_group)
            return false; /* no nested groups: junk */
        struct addrlist_entry *e = new_entry(p->out, ADDRLIST_GROUP_START);
        e->name = pool_buf(p->out, &p->phrase);
        p->in_group = true;
        new_address(p); /* a comment before the group name is not the member's */
        advance(p);
        return true;
    }
    if (at(p, '<')) {
        advance(p);
        parse_angle(p, words > 0 ? &p->phrase : NULL);
    } else if (at(p, '@')) {
        advance(p);
        parse_domain(p);
        emit_mailbox(p, NULL, false);
    } else if (words == 1 && !quoted) { /* "root": a local part alone */
        buf_reset(&p->domain);
        emit_mailbox(p, NULL, false);
    } else if (words > 0 && !multiword && !quoted) { /* "a.b" or "a . b" */
        buf_reset(&p->domain);
        emit_mailbox(p, NULL, false);
    } else if (words > 0) { /* a name without an address */
        buf_reset(&p->local);
        buf_reset(&p->domain);
        emit_mailbox(p, &p->phrase, false);
    }
    return false;
}

void addrlist_parse(struct addrlist *l, const char *s, size_t len)
{
    struct parser p = { .s = s, .n = len, .out = l };
    buf_init(&p.comment);
    buf_init(&p.phrase);
    buf_init(&p.local);
    buf_init(&p.route);
    buf_init(&p.domain);
    advance(&p);
    while (p.cur.t != T_END) {
        if (at(&p, ',') || at(&p, ';')) {
            if (at(&p, ';') && p.in_group) {
                new_entry(l, ADDRLIST_GROUP_END);
                p.in_group = false;
            }
            new_address(&p);
            advance(&p);
            continue;
        }
        if (parse_address(&p))
            continue;
        /* junk up to the next separator (which the loop then consumes) */
        while (p.cur.t != T_END && !at(&p, ',') && !at(&p, ';')) {
            p.malformed = true;
            advance(&p);
        }
    }
    if (p.in_group)
        new_entry(l, ADDRLIST_GROUP_END);
    l->malformed |= p.malformed;
    buf_free(&p.comment);
    buf_free(&p.phrase);
    buf_free(&p.local);
    buf_free(&p.route);
    buf_free(&p.domain);
}
