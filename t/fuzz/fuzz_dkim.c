/* fuzz_dkim.c - libFuzzer target: DKIM canonicalization and header handling (lib/dkim). The
 * first byte picks a chunk size; the rest is a message in the queue's form.
 *  - The relaxed body canonicalizer gives the same output fed whole and in chunks, and its
 *    output is canonical: CRLF line ends only, no HTAB, no run of spaces, no space before a
 *    line end, no empty line at the end, not empty unless the input has no visible byte.
 *  - Each header field of the message canonicalizes to one line: a lower-case name, no
 *    HTAB, no run of spaces, no space around the first ':' or at the end.
 *  - The streaming signer gives the same signing domain whole and in chunks, and when there
 *    is one, signs (with a fixed Ed25519 key: the signature is deterministic, so both runs
 *    must give the same field) a field that starts "DKIM-Signature:", ends in LF, has only
 *    TAB-indented continuation lines and lists "from" twice in h= when From is oversigned.
 * Any violation aborts. */
#include "buf.h"
#include "dkim_canon.h"
#include "dkim_key.h"
#include "dkim_sign.h"
#include "header.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond))                                                                           \
            abort();                                                                           \
    } while (0)

static void collect(void *ctx, const char *data, size_t len) { buf_append(ctx, data, len); }

static void body_canon(const char *in, size_t n, size_t chunk, struct buf *out)
{
    struct dkim_body_canon c;
    dkim_body_init(&c, collect, out);
    for (size_t at = 0; at < n; at += chunk)
        dkim_body_feed(&c, in + at, n - at < chunk ? n - at : chunk);
    dkim_body_finish(&c);
}

static void check_body(const char *in, size_t n, size_t chunk)
{
    struct buf whole = BUF_INIT, split = BUF_INIT;
    body_canon(in, n, n ? n : 1, &whole);
    body_canon(in, n, chunk, &split);
    CHECK(whole.len == split.len && (whole.len == 0 || memcmp(whole.data, split.data, whole.len) == 0));
    const char *o = whole.data;
    size_t len = whole.len;
    bool visible = false;
    for (size_t i = 0; i < n; i++)
        visible |= in[i] != ' ' && in[i] != '\t' && in[i] != '\n';
    CHECK(visible == (len > 0));
    for (size_t i = 0; i < len; i++) {
        CHECK(o[i] != '\t');
        CHECK(o[i] != '\n' || (i > 0 && o[i - 1] == '\r'));
        CHECK(!(o[i] == ' ' && i + 1 < len && (o[i + 1] == ' ' || (o[i + 1] == '\r' && i + 2 < len && o[i + 2] == '\n'))));
    }
    CHECK(len == 0 || (len >= 2 && o[len - 2] == '\r' && o[len - 1] == '\n'));
    CHECK(len < 4 || memcmp(o + len - 4, "\r\n\r\n", 4) != 0);
    buf_free(&whole);
    buf_free(&split);
}

static void check_header_fields(const char *in, size_t n)
{
    struct header_iter it;
    struct header_field f;
    header_iter_init(&it, in, n);
    while (header_iter_next(&it, &f)) {
        struct buf out = BUF_INIT;
        dkim_canon_header(f.text, f.len, true, &out);
        const char *o = buf_cstr(&out);
        const char *colon = memchr(o, ':', out.len); /* the input may hold NUL bytes */
        CHECK(colon && out.len >= 3 && memcmp(o + out.len - 2, "\r\n", 2) == 0);
        for (const char *p = o; p < colon; p++)
            CHECK(!(*p >= 'A' && *p <= 'Z'));
        size_t body = out.len - 2;
        for (size_t i = 0; i < body; i++) {
            CHECK(o[i] != '\t' && o[i] != '\n');
            CHECK(!(o[i] == ' ' && i + 1 < body && o[i + 1] == ' '));
        }
        CHECK(colon == o || colon[-1] != ' ');
        CHECK(colon[1] != ' ' && (body == 0 || o[body - 1] != ' ' || body == (size_t)(colon - o) + 1));
        buf_free(&out);
    }
}

static char *sign_names[] = {"From", "To", "Subject", "Date"};
static char *over_names[] = {"From"};

static char *sign(const struct dkim_key *key, const char *in, size_t n, size_t chunk,
                  const char **why)
{
    struct dkim_sign_opts o = {sign_names, 4, over_names, 1, 4096, 1700000000};
    struct dkim_signer *s = dkim_signer_new(&o);
    for (size_t at = 0; at < n; at += chunk)
        dkim_signer_feed(s, in + at, n - at < chunk ? n - at : chunk);
    dkim_signer_end(s);
    const char *domain = dkim_signer_domain(s, why);
    char *field = NULL;
    if (domain) {
        struct buf out = BUF_INIT;
        char *err = NULL;
        CHECK(dkim_signer_sign(s, key, "fuzz", &out, &err) == 0);
        field = buf_steal(&out);
    }
    dkim_signer_free(s);
    return field;
}

static void check_signature(const char *field)
{
    static const char head[] = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;";
    CHECK(strncmp(field, head, strlen(head)) == 0);
    size_t len = strlen(field);
    CHECK(len > 0 && field[len - 1] == '\n');
    for (const char *p = strchr(field, '\n'); p && p[1]; p = strchr(p + 1, '\n'))
        CHECK(p[1] == '\t');
    struct buf squeezed = BUF_INIT; /* h= may be folded around its colons */
    for (const char *p = field; *p; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n')
            buf_putc(&squeezed, *p);
    CHECK(strstr(buf_cstr(&squeezed), ";h=from:from") != NULL);
    CHECK(strstr(buf_cstr(&squeezed), ";d=") != NULL && strstr(buf_cstr(&squeezed), ";s=fuzz;") != NULL);
    buf_free(&squeezed);
}

static const struct dkim_key *fixed_key(void)
{
    /* A fixed Ed25519 key (32 bytes of 0x42): deterministic signatures. */
    static const char pem[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MC4CAQAwBQYDK2VwBCIEIEJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJC\n"
                              "-----END PRIVATE KEY-----\n";
    static struct dkim_key *key;
    if (!key) {
        char *err = NULL;
        key = dkim_key_from_pem(pem, strlen(pem), &err);
        CHECK(key != NULL);
    }
    return key;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)(data[0] % 64) + 1;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    check_body(in, n, chunk);
    check_header_fields(in, n);
    const char *why1 = NULL, *why2 = NULL;
    char *a = sign(fixed_key(), in, n, n ? n : 1, &why1);
    char *b = sign(fixed_key(), in, n, chunk, &why2);
    CHECK((a == NULL) == (b == NULL));
    if (a) {
        CHECK(strcmp(a, b) == 0);
        check_signature(a);
    } else {
        CHECK(why1 && why2 && strcmp(why1, why2) == 0);
    }
    free(a);
    free(b);
    return 0;
}
