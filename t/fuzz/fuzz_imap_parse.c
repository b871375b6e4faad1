/* fuzz_imap_parse.c - libFuzzer target: the IMAP command tokenizer, literal announcements
 * and sequence sets (lib/proto/imap_parse.h), fed as imapd feeds them: the whole input is one
 * command buffer. Invariants: a tokenised command's strings lie within their stated lengths
 * (every string NUL-terminated at len), a quoted string holds no CR or LF, a literal is never
 * longer than the input, lists nest at most IMAP_LIST_DEPTH_MAX deep, the tag holds only tag
 * characters; every atom that parses as a sequence set resolves to sorted, disjoint ranges
 * that contain each number they claim to. Mailbox names: the whole input as UTF-8 converted
 * to modified UTF-7 and back gives the input again, and the result is valid modified UTF-7;
 * the input read as modified UTF-7, when valid, converts to UTF-8 and back to itself. */
#include "fuzz_common.h"
#include "imap_parse.h"
#include "imap_utf7.h"

static size_t input_size;

static void check_args(const struct imap_arg *v, size_t n, unsigned depth)
{
    if (depth > IMAP_LIST_DEPTH_MAX)
        abort();
    for (size_t i = 0; i < n; i++) {
        const struct imap_arg *a = &v[i];
        if (a->type == IMAP_ARG_LIST) {
            check_args(a->list, a->n, depth + 1);
            continue;
        }
        if (a->len > input_size || a->str[a->len] != 0)
            abort();
        if (a->type == IMAP_ARG_QUOTED && (memchr(a->str, '\r', a->len) || memchr(a->str, '\n', a->len)))
            abort();
        if (a->type != IMAP_ARG_LITERAL && strlen(a->str) != a->len)
            abort();
        if (a->type != IMAP_ARG_ATOM)
            continue;
        struct imap_seqset s;
        if (!imap_seqset_parse(a->str, 1000, &s))
            continue;
        imap_seqset_resolve(&s, (uint32_t)a->len * 7);
        for (size_t k = 0; k < s.n; k++) {
            if (s.r[k].lo > s.r[k].hi || (k > 0 && s.r[k].lo <= s.r[k - 1].hi))
                abort();
            if (!imap_seqset_contains(&s, s.r[k].lo) || !imap_seqset_contains(&s, s.r[k].hi))
                abort();
        }
        imap_seqset_free(&s);
    }
}

static void check_names(const uint8_t *data, size_t size)
{
    char *m = imap_utf8_to_mutf7((const char *)data, size);
    if (m) {
        char *u = imap_mutf7_to_utf8(m);
        if (!u || strlen(u) != size || memcmp(u, data, size) != 0 || !imap_mutf7_valid(m))
            abort();
        free(u);
        free(m);
    }
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    char *u = strlen(s) == size ? imap_mutf7_to_utf8(s) : NULL;
    if (u) {
        char *back = imap_utf8_to_mutf7(u, strlen(u));
        if (!back || strcmp(back, s) != 0)
            abort();
        free(back);
        free(u);
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_names(data, size);
    input_size = size;
    struct imap_literal lit;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t first = nl ? (size_t)(nl - data) : size;
    if (first > 0 && data[first - 1] == '\r')
        first--;
    imap_literal_announced((const char *)data, first, &lit);
    struct imap_command cmd;
    const char *err;
    enum imap_parse_result r = imap_tokenize((const char *)data, size, &cmd, &err);
    if (r == IMAP_PARSE_OK) {
        if (!cmd.tag[0] || !cmd.name[0])
            abort();
        check_args(cmd.args, cmd.nargs, 0);
    } else if (!err) {
        abort();
    }
    for (const char *t = cmd.tag; *t; t++)
        if ((unsigned char)*t <= ' ' || strchr("(){%*\"\\+", *t))
            abort();
    imap_command_free(&cmd);
    return 0;
}
