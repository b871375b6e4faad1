/* imap_parse.c - IMAP command tokenizer, literal announcements and sequence sets (see
 * imap_parse.h). */
#include "imap_parse.h"
#include "mem.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int imap_literal_announced(const char *line, size_t len, struct imap_literal *lit)
{
    if (len < 3 || line[len - 1] != '}')
        return 0;
    size_t end = len - 1;
    bool nonsync = line[end - 1] == '+';
    if (nonsync)
        end--;
    size_t start = end;
    while (start > 0 && isdigit((unsigned char)line[start - 1]))
        start--;
    if (start == 0 || line[start - 1] != '{')
        return 0;
    if (start == end || end - start > 19)
        return -1;
    uint64_t n = 0;
    for (size_t i = start; i < end; i++)
        n = n * 10 + (uint64_t)(line[i] - '0');
    *lit = (struct imap_literal){.size = n, .nonsync = nonsync,
                                 .binary = start >= 2 && line[start - 2] == '~'};
    return 1;
}

/* --- the tokenizer --- */

struct tok {
    const char *p, *end;
    char *out;        /* next free byte of cmd->strings */
    size_t nargs;
    const char *err;
};

static bool is_tag_char(unsigned char c)
{
    return c > ' ' && c < 0x7f && !strchr("(){%*\"\\+", c);
}

static char *store(struct tok *t, const char *s, size_t len)
{
    char *r = t->out;
    memcpy(r, s, len);
    r[len] = 0;
    t->out += len + 1;
    return r;
}

static bool fail(struct tok *t, const char *err)
{
    if (!t->err)
        t->err = err;
    return false;
}

static bool quoted(struct tok *t, struct imap_arg *a)
{
    char *r = t->out;
    size_t n = 0;
    for (t->p++; t->p < t->end && *t->p != '"'; t->p++) {
        unsigned char c = (unsigned char)*t->p;
        if (c == '\\') {
            if (++t->p >= t->end || (*t->p != '"' && *t->p != '\\'))
                return fail(t, "Bad escape in quoted string");
            c = (unsigned char)*t->p;
        } else if (c == '\r' || c == '\n' || c == 0) {
            return fail(t, "Line end or NUL in quoted string");
        }
        r[n++] = (char)c;
    }
    if (t->p >= t->end)
        return fail(t, "Unterminated quoted string");
    t->p++;
    r[n] = 0;
    t->out += n + 1;
    *a = (struct imap_arg){.type = IMAP_ARG_QUOTED, .str = r, .len = n};
    return true;
}

static bool literal(struct tok *t, struct imap_arg *a)
{
    bool binary = *t->p == '~';
    if (binary)
        t->p++;
    const char *q = ++t->p; /* after '{' */
    uint64_t n = 0;
    size_t digits = 0;
    while (q < t->end && isdigit((unsigned char)*q) && digits < 20)
        n = n * 10 + (uint64_t)(*q++ - '0'), digits++;
    if (digits == 0 || digits > 19)
        return fail(t, "Bad literal size");
    if (q < t->end && *q == '+')
        q++;
    if (q >= t->end || *q++ != '}')
        return fail(t, "Bad literal announcement");
    if (q < t->end && *q == '\r')
        q++;
    if (q >= t->end || *q++ != '\n')
        return fail(t, "Literal announcement not at the end of a line");
    if ((uint64_t)(t->end - q) < n)
        return fail(t, "Literal shorter than announced");
    *a = (struct imap_arg){.type = IMAP_ARG_LITERAL, .literal8 = binary,
                           .str = store(t, q, (size_t)n), .len = (size_t)n};
    t->p = q + n;
    return true;
}

/* An atom; a '[' inside it runs to its ']' whatever is between (BODY[HEADER.FIELDS (A)]). */
static bool atom(struct tok *t, struct imap_arg *a)
{
    const char *s = t->p;
    while (t->p < t->end) {
        unsigned char c = (unsigned char)*t->p;
        if (c == '[') {
            /* A section: up to its ']' whatever is between (but a line end). A '[' without a
             * ']' on the line is an ordinary atom character (a mailbox name may hold one). */
            const char *q = t->p + 1;
            while (q < t->end && *q != ']' && (unsigned char)*q >= ' ' && *q != 0x7f)
                q++;
            if (q < t->end && *q == ']') {
                t->p = q + 1;
                continue;
            }
        }
        if (c == ' ' || c == '(' || c == ')' || c == '\r' || c == '\n')
            break;
        if (c < ' ' || c == 0x7f || c == '"' || c == '{')
            return fail(t, "Invalid character in atom");
        t->p++;
    }
    size_t len = (size_t)(t->p - s);
    if (len == 0)
        return fail(t, "Empty argument");
    bool nil = len == 3 && strncasecmp(s, "NIL", 3) == 0;
    *a = (struct imap_arg){.type = nil ? IMAP_ARG_NIL : IMAP_ARG_ATOM, .str = store(t, s, len),
                           .len = len};
    return true;
}

static void free_args(struct imap_arg *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].type == IMAP_ARG_LIST)
            free_args(v[i].list, v[i].n);
    free(v);
}

static bool at_line_end(const struct tok *t)
{
    return t->p == t->end || (*t->p == '\r' && t->p + 2 == t->end && t->p[1] == '\n') ||
           (*t->p == '\n' && t->p + 1 == t->end);
}

/* Arguments up to the line end (depth 0) or the ')' closing this list. */
static bool args(struct tok *t, unsigned depth, struct imap_arg **out, size_t *count)
{
    struct imap_arg *v = NULL;
    size_t n = 0, cap = 0;
    bool first = true;
    for (;;) {
        if (depth == 0 ? at_line_end(t) : (t->p < t->end && *t->p == ')'))
            break;
        if (t->p >= t->end || *t->p == '\r' || *t->p == '\n') {
            fail(t, depth ? "Missing )" : "Unexpected line end");
            goto bad;
        }
        if (!first || depth == 0) {
            bool after_open = first && depth > 0;
            if (!after_open && *t->p != ' ') {
                fail(t, "Missing space between arguments");
                goto bad;
            }
            while (!after_open && t->p < t->end && *t->p == ' ')
                t->p++;
            if (depth == 0 ? at_line_end(t) : (t->p < t->end && *t->p == ')'))
                break; /* trailing spaces, which some clients send */
            if (t->p >= t->end || *t->p == '\r' || *t->p == '\n') {
                fail(t, depth ? "Missing )" : "Unexpected line end");
                goto bad;
            }
        }
        first = false;
        if (++t->nargs > IMAP_ARGS_MAX) {
            fail(t, "Too many arguments");
            goto bad;
        }
        if (n == cap)
            v = xreallocarray(v, cap = cap ? cap * 2 : 8, sizeof *v);
        struct imap_arg *a = &v[n];
        bool ok;
        if (*t->p == '(') {
            if (depth + 1 > IMAP_LIST_DEPTH_MAX) {
                fail(t, "Lists nested too deeply");
                goto bad;
            }
            t->p++;
            *a = (struct imap_arg){.type = IMAP_ARG_LIST};
            ok = args(t, depth + 1, &a->list, &a->n);
            if (ok)
                t->p++; /* ')' */
        } else if (*t->p == ')') {
            ok = fail(t, "Unexpected )");
        } else if (*t->p == '"') {
            ok = quoted(t, a);
        } else if (*t->p == '{' || (*t->p == '~' && t->p + 1 < t->end && t->p[1] == '{')) {
            ok = literal(t, a);
        } else {
            ok = atom(t, a);
        }
        if (!ok)
            goto bad;
        n++;
    }
    *out = v;
    *count = n;
    return true;
bad:
    free_args(v, n);
    return false;
}

static size_t word(struct tok *t, char *out, size_t size)
{
    size_t n = 0;
    while (t->p < t->end && isalnum((unsigned char)*t->p) && n + 1 < size)
        out[n++] = (char)toupper((unsigned char)*t->p++);
    out[n] = 0;
    return n;
}

static bool name(struct tok *t, struct imap_command *cmd)
{
    if (t->p >= t->end || *t->p != ' ')
        return fail(t, "Missing command");
    t->p++;
    if (!word(t, cmd->name, 17))
        return fail(t, "Missing command");
    if (strcmp(cmd->name, "UID") == 0 && t->p < t->end && *t->p == ' ') {
        t->p++;
        char sub[15];
        if (!word(t, sub, sizeof sub))
            return fail(t, "Missing command after UID");
        strcat(cmd->name, " ");
        strcat(cmd->name, sub);
    }
    if (t->p < t->end && isalnum((unsigned char)*t->p))
        return fail(t, "Command name too long");
    return true;
}

enum imap_parse_result imap_tokenize(const char *data, size_t len, struct imap_command *cmd,
                                     const char **err)
{
    memset(cmd, 0, sizeof *cmd);
    struct tok t = {.p = data, .end = data + len};
    cmd->strings = xmalloc(2 * len + 2);
    t.out = cmd->strings;
    size_t tl = 0;
    while (t.p < t.end && is_tag_char((unsigned char)*t.p) && tl < IMAP_TAG_MAX)
        cmd->tag[tl++] = *t.p++;
    cmd->tag[tl] = 0;
    if (tl == 0 || (t.p < t.end && *t.p != ' ' && !at_line_end(&t))) {
        cmd->tag[0] = 0;
        *err = "Invalid tag";
        return IMAP_PARSE_NO_TAG;
    }
    if (!name(&t, cmd) || !args(&t, 0, &cmd->args, &cmd->nargs)) {
        *err = t.err ? t.err : "Syntax error";
        return IMAP_PARSE_BAD;
    }
    *err = NULL;
    return IMAP_PARSE_OK;
}

void imap_command_free(struct imap_command *cmd)
{
    free_args(cmd->args, cmd->nargs);
    free(cmd->strings);
    cmd->args = NULL;
    cmd->nargs = 0;
    cmd->strings = NULL;
}

/* --- argument helpers --- */

bool imap_arg_is_string(const struct imap_arg *a)
{
    return a->type == IMAP_ARG_QUOTED || a->type == IMAP_ARG_LITERAL;
}

bool imap_arg_is_astring(const struct imap_arg *a)
{
    return imap_arg_is_string(a) || a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_NIL;
}

bool imap_arg_atom_is(const struct imap_arg *a, const char *w)
{
    return (a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_NIL) && strcasecmp(a->str, w) == 0;
}

static bool digits(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    if (len == 0 || len > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]) || v > (max - (uint64_t)(s[i] - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

bool imap_arg_number(const struct imap_arg *a, uint32_t *out, bool nz)
{
    uint64_t v;
    if (a->type != IMAP_ARG_ATOM || !digits(a->str, a->len, UINT32_MAX, &v) || (nz && v == 0))
        return false;
    *out = (uint32_t)v;
    return true;
}

bool imap_arg_number64(const struct imap_arg *a, uint64_t *out)
{
    return a->type == IMAP_ARG_ATOM && digits(a->str, a->len, INT64_MAX, out);
}

/* --- sequence sets --- */

static bool seq_number(const char **p, uint32_t *out)
{
    if (**p == '*') { /* IMAP_SEQ_STAR is 0, which no number can be */
        (*p)++;
        *out = IMAP_SEQ_STAR;
        return true;
    }
    const char *s = *p;
    while (isdigit((unsigned char)**p))
        (*p)++;
    uint64_t v;
    if (!digits(s, (size_t)(*p - s), UINT32_MAX, &v) || v == 0)
        return false;
    *out = (uint32_t)v;
    return true;
}

bool imap_seqset_parse(const char *s, size_t max_ranges, struct imap_seqset *set)
{
    memset(set, 0, sizeof *set);
    if (strcmp(s, "$") == 0) {
        set->last_result = true;
        return true;
    }
    size_t cap = 0;
    for (const char *p = s;;) {
        struct imap_range r;
        if (!seq_number(&p, &r.lo))
            goto bad;
        r.hi = r.lo;
        if (*p == ':') {
            p++;
            if (!seq_number(&p, &r.hi))
                goto bad;
        }
        if (r.lo > r.hi && r.hi != IMAP_SEQ_STAR) {
            uint32_t x = r.lo;
            r.lo = r.hi;
            r.hi = x;
        }
        if (set->n == max_ranges)
            goto bad;
        if (set->n == cap)
            set->r = xreallocarray(set->r, cap = cap ? cap * 2 : 4, sizeof *set->r);
        set->r[set->n++] = r;
        if (*p == 0)
            return true;
        if (*p++ != ',')
            goto bad;
    }
bad:
    imap_seqset_free(set);
    return false;
}

void imap_seqset_free(struct imap_seqset *set)
{
    free(set->r);
    set->r = NULL;
    set->n = 0;
}

static int range_cmp(const void *a, const void *b)
{
    const struct imap_range *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void imap_seqset_resolve(struct imap_seqset *set, uint32_t star)
{
    for (size_t i = 0; i < set->n; i++) {
        struct imap_range *r = &set->r[i];
        if (r->lo == IMAP_SEQ_STAR)
            r->lo = star;
        if (r->hi == IMAP_SEQ_STAR)
            r->hi = star;
        if (r->lo > r->hi) { /* "5:*" with star 3 means 3:5 (RFC 9051 sec 9, seq-range) */
            uint32_t x = r->lo;
            r->lo = r->hi;
            r->hi = x;
        }
    }
    if (set->n == 0)
        return;
    qsort(set->r, set->n, sizeof *set->r, range_cmp);
    size_t w = 0;
    for (size_t i = 1; i < set->n; i++) {
        if (set->r[i].lo <= set->r[w].hi || (set->r[w].hi != UINT32_MAX && set->r[i].lo == set->r[w].hi + 1)) {
            if (set->r[i].hi > set->r[w].hi)
                set->r[w].hi = set->r[i].hi;
        } else {
            set->r[++w] = set->r[i];
        }
    }
    set->n = w + 1;
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t v)
{
    size_t lo = 0, hi = set->n; /* resolved sets are sorted and disjoint */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v < set->r[mid].lo)
            hi = mid;
        else if (v > set->r[mid].hi)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

bool imap_quotable(const char *s, size_t len, bool utf8)
{
    if (len > 1024)
        return false; /* long values go out as literals, as clients expect */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0 || c == '\r' || c == '\n' || (c >= 0x80 && !utf8))
            return false;
    }
    return true;
}

void imap_seqset_write(struct buf *out, const uint32_t *v, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && v[j + 1] == v[j] + 1)
            j++;
        buf_printf(out, "%s%u", i ? "," : "", v[i]);
        if (j > i)
            buf_printf(out, ":%u", v[j]);
        i = j + 1;
    }
}
