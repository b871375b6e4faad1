/* test_dkim_sign.c - lib/dkim: the h= list (RFC 6376 sec 5.4.2: instances bottom up,
 * oversigning), the signing domain, the body hash of RFC 8463's example message, and
 * signatures: each field made by the signer, with its b= value taken out again as a
 * verifier does (sec 3.7), verifies with the key's public half (RSA and Ed25519), its
 * lines fit 78 columns, and a changed body or header no longer matches. (dkimpy checks
 * the same signatures independently: t/integration/test_dkim.py.) */
#include "unit_test.h"

#include "base64.h"
#include "dkim_canon.h"
#include "dkim_header.h"
#include "dkim_key.h"
#include "dkim_sign.h"
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

static const char message[] =
    "From: Joe SixPack <joe@football.example.com>\n"
    "To: Suzie Q <suzie@shopping.example.net>\n"
    "Subject: Is dinner ready?\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\n"
    "\n"
    "Hi.\n"
    "\n"
    "We lost the game.  Are you hungry yet?\n"
    "\n"
    "Joe.\n";

static char *sign_names[] = {"From", "To", "Subject", "Date", "Message-ID", "Reply-To"};
static char *over_names[] = {"from"};

static size_t fields_of(const char *text, struct header_field *f, size_t max)
{
    struct header_iter it;
    size_t n = 0;
    header_iter_init(&it, text, strlen(text));
    while (n < max && header_iter_next(&it, &f[n]))
        n++;
    return n;
}

static void test_hlist(void **state)
{
    const char *text = "From: a@x.test\nTo: one@x.test\nSubject: s\nTo: two@x.test\n"
                       "Received: r\n\nbody\n";
    struct header_field f[8];
    size_t n = fields_of(text, f, 8);
    assert_int_equal(n, 5);
    struct dkim_hlist h;
    dkim_hlist_make(f, n, sign_names, 6, over_names, 1, &h);
    struct buf b = BUF_INIT;
    dkim_hlist_format(&h, &b);
    assert_string_equal(buf_cstr(&b), "from:from:to:to:subject");
    buf_reset(&b);
    /* Instances bottom up: the second To first; the extra "from" adds nothing. */
    dkim_hlist_canon(f, n, &h, &b);
    assert_string_equal(buf_cstr(&b), "from:a@x.test\r\nto:two@x.test\r\nto:one@x.test\r\n"
                                      "subject:s\r\n");
    dkim_hlist_free(&h);
    /* An oversigned name absent from the message is still listed once. */
    char *over2[] = {"From", "Reply-To", "X-Extra"};
    dkim_hlist_make(f, n, sign_names, 6, over2, 3, &h);
    buf_reset(&b);
    dkim_hlist_format(&h, &b);
    assert_string_equal(buf_cstr(&b), "from:from:to:to:subject:reply-to:x-extra");
    dkim_hlist_free(&h);
    buf_free(&b);
}

static void test_from_domain(void **state)
{
    static const struct {
        const char *header, *domain;
    } t[] = {
        {"From: Alice <alice@Example.TEST>\n", "example.test"},
        {"From: bob@sub.example.test (Bob)\n", "sub.example.test"},
        {"From: \"A, B\" <ab@example.test>\n", "example.test"},
        {"From: <u@b\xc3\xbc""cher.test>\n", "xn--bcher-kva.test"},
        {"From: a@example.test\nFrom: b@example.test\n", NULL},
        {"From: a@example.test, b@example.test\n", NULL},
        {"From: undisclosed:;\n", NULL},
        {"From: root\n", NULL},
        {"From: u@[192.0.2.1]\n", NULL},
        {"Sender: s@example.test\n", NULL},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct header_field f[4];
        size_t n = fields_of(t[i].header, f, 4);
        char *d = NULL;
        const char *why = NULL;
        int rc = dkim_from_domain(f, n, &d, &why);
        if (t[i].domain ? rc != 0 || strcmp(d, t[i].domain) != 0 : rc == 0 || !why)
            fail_msg("%zu: %s", i, rc == 0 ? d : why);
        free(d);
    }
}

static struct dkim_signer *signed_message(const char *msg, size_t step, struct dkim_sign_opts *o)
{
    *o = (struct dkim_sign_opts){sign_names, 6, over_names, 1, 65536, 1528637909};
    struct dkim_signer *s = dkim_signer_new(o);
    size_t len = strlen(msg);
    for (size_t i = 0; i < len; i += step)
        dkim_signer_feed(s, msg + i, len - i < step ? len - i : step);
    dkim_signer_end(s);
    return s;
}

/* The value of tag in the field (up to ';' or the end), white space removed. */
static char *tag_value(const char *field, const char *tag)
{
    char *pat = malloc(strlen(tag) + 2);
    sprintf(pat, "%s=", tag);
    const char *p = field;
    while ((p = strstr(p, pat)) && p != field && !strchr(" \t;", p[-1]))
        p++;
    free(pat);
    if (!p)
        return NULL;
    p += strlen(tag) + 1;
    struct buf v = BUF_INIT;
    for (; *p && *p != ';'; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n')
            buf_putc(&v, *p);
    return buf_steal(&v);
}

static void test_body_hash_rfc8463(void **state)
{
    struct dkim_sign_opts o;
    for (size_t step = 1; step < 40; step += 7) {
        struct dkim_signer *s = signed_message(message, step, &o);
        const char *why;
        assert_string_equal(dkim_signer_domain(s, &why), "football.example.com");
        struct dkim_key *k = dkim_key_generate(DKIM_ED25519_SHA256, 0, &(char *){NULL});
        struct buf out = BUF_INIT;
        char *err = NULL;
        assert_int_equal(dkim_signer_sign(s, k, "brisbane", &out, &err), 0);
        char *bh = tag_value(buf_cstr(&out), "bh");
        /* RFC 8463 appendix A.3 (relaxed body): */
        assert_string_equal(bh, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
        free(bh);
        buf_free(&out);
        dkim_key_free(k);
        dkim_signer_free(s);
    }
}

/* The public key of k from its DNS record. */
static EVP_PKEY *public_key(const struct dkim_key *k)
{
    struct buf rec = BUF_INIT, raw = BUF_INIT;
    char *err = NULL;
    assert_int_equal(dkim_key_record(k, &rec, &err), 0);
    const char *p = strstr(buf_cstr(&rec), "; p=");
    assert_non_null(p);
    assert_true(base64_decode(p + 4, strlen(p + 4), &raw));
    const unsigned char *der = (const unsigned char *)raw.data;
    EVP_PKEY *pk = dkim_key_alg(k) == DKIM_ED25519_SHA256
                       ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, raw.len)
                       : d2i_PUBKEY(NULL, &der, (long)raw.len);
    assert_non_null(pk);
    buf_free(&rec), buf_free(&raw);
    return pk;
}

/* Verify field (one DKIM-Signature) over msg as a verifier would: the listed headers bottom
 * up, then the field with b='s value removed, no CRLF (RFC 6376 sec 3.7). */
static bool verifies(const char *field, const char *msg, const struct dkim_key *k)
{
    const char *b = strstr(field, "\tb=") ? strstr(field, "\tb=") + 3 : strstr(field, " b=") + 3;
    struct buf stripped = BUF_INIT, data = BUF_INIT, sig = BUF_INIT;
    buf_append(&stripped, field, (size_t)(b - field));
    char *b64 = tag_value(field, "b"), *hl = tag_value(field, "h");
    assert_true(base64_decode(b64, strlen(b64), &sig));
    struct header_field f[16];
    size_t n = fields_of(msg, f, 16);
    struct dkim_hlist h = {0};
    for (char *name = strtok(hl, ":"); name; name = strtok(NULL, ":")) {
        h.names = realloc(h.names, (h.n + 1) * sizeof *h.names);
        h.names[h.n++] = strdup(name);
    }
    dkim_hlist_canon(f, n, &h, &data);
    dkim_canon_header(stripped.data, stripped.len, false, &data);
    EVP_PKEY *pk = public_key(k);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char hash[32];
    unsigned int hlen;
    int ok;
    if (dkim_key_alg(k) == DKIM_RSA_SHA256) {
        ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1 &&
             EVP_DigestVerify(ctx, (unsigned char *)sig.data, sig.len, (unsigned char *)data.data, data.len) == 1;
    } else {
        EVP_Digest(data.data, data.len, hash, &hlen, EVP_sha256(), NULL);
        ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1 &&
             EVP_DigestVerify(ctx, (unsigned char *)sig.data, sig.len, hash, hlen) == 1;
    }
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    dkim_hlist_free(&h);
    free(b64), free(hl);
    buf_free(&stripped), buf_free(&data), buf_free(&sig);
    return ok;
}

static void check_lines(const char *field)
{
    assert_true(strncmp(field, "DKIM-Signature: v=1; ", 21) == 0);
    for (const char *p = field; *p;) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl); /* every line ends in LF, the last one too */
        size_t cols = 0;
        for (const char *q = p; q < nl; q++)
            cols += *q == '\t' ? 8 : 1;
        if (cols > 78)
            fail_msg("line of %zu columns: %.*s", cols, (int)(nl - p), p);
        if (p != field && *p != '\t')
            fail_msg("continuation line without white space");
        p = nl + 1;
    }
}

static void sign_and_verify(enum dkim_alg alg, unsigned bits)
{
    char *err = NULL;
    struct dkim_key *k = dkim_key_generate(alg, bits, &err);
    assert_non_null(k);
    struct dkim_sign_opts o;
    struct dkim_signer *s = signed_message(message, 5, &o);
    struct buf out = BUF_INIT;
    assert_int_equal(dkim_signer_sign(s, k, "sel.2024", &out, &err), 0);
    const char *field = buf_cstr(&out);
    check_lines(field);
    char *a = tag_value(field, "a"), *h = tag_value(field, "h"), *t = tag_value(field, "t");
    assert_string_equal(a, dkim_alg_name(alg));
    assert_string_equal(h, "from:from:to:subject:date:message-id");
    assert_string_equal(t, "1528637909");
    assert_null(tag_value(field, "l"));
    assert_true(verifies(field, message, k));
    /* Another header value, or the signature of another message, does not verify. */
    char *changed = strdup(message);
    memcpy(strstr(changed, "dinner"), "supper", 6);
    assert_false(verifies(field, changed, k));
    free(changed);
    free(a), free(h), free(t);
    buf_free(&out);
    dkim_signer_free(s);
    dkim_key_free(k);
}

static void test_sign_ed25519(void **state) { sign_and_verify(DKIM_ED25519_SHA256, 0); }
static void test_sign_rsa(void **state) { sign_and_verify(DKIM_RSA_SHA256, 2048); }

static void test_no_domain(void **state)
{
    struct dkim_sign_opts o;
    struct dkim_signer *s = signed_message("Subject: no from\n\nbody\n", 3, &o);
    const char *why = NULL;
    assert_null(dkim_signer_domain(s, &why));
    assert_string_equal(why, "the message has no From field");
    dkim_signer_free(s);
    s = signed_message("From: a@example.test\nbroken line\n\nbody\n", 100, &o);
    assert_null(dkim_signer_domain(s, &why));
    assert_string_equal(why, "the header section is malformed");
    dkim_signer_free(s);
}

static void test_header_limit(void **state)
{
    struct buf big = BUF_INIT;
    buf_puts(&big, "From: a@example.test\n");
    while (big.len < 70000)
        buf_puts(&big, "X-Filler: 0123456789012345678901234567890123456789\n");
    buf_puts(&big, "\nbody\n");
    for (size_t step = 4096; step <= big.len; step = big.len) { /* in pieces, then whole */
        struct dkim_sign_opts o;
        struct dkim_signer *s = signed_message(buf_cstr(&big), step, &o);
        const char *why = NULL;
        assert_true(dkim_signer_header_done(s));
        assert_null(dkim_signer_domain(s, &why));
        assert_non_null(strstr(why, "dkim_header_size_limit"));
        dkim_signer_free(s);
        if (step == big.len)
            break;
    }
    buf_free(&big);
}

static void test_keys(void **state)
{
    char *err = NULL;
    assert_null(dkim_key_generate(DKIM_RSA_SHA256, 512, &err));
    free(err);
    struct dkim_key *k = dkim_key_generate(DKIM_RSA_SHA256, 1024, &err);
    struct buf pem = BUF_INIT, r1 = BUF_INIT, r2 = BUF_INIT;
    assert_int_equal(dkim_key_pem(k, &pem, &err), 0);
    assert_non_null(strstr(buf_cstr(&pem), "BEGIN PRIVATE KEY"));
    struct dkim_key *back = dkim_key_from_pem(pem.data, pem.len, &err);
    assert_non_null(back);
    assert_int_equal(dkim_key_bits(back), 1024);
    dkim_key_record(k, &r1, &err);
    dkim_key_record(back, &r2, &err);
    assert_string_equal(buf_cstr(&r1), buf_cstr(&r2));
    assert_true(strncmp(buf_cstr(&r1), "v=DKIM1; k=rsa; p=MI", 20) == 0);
    dkim_key_free(k), dkim_key_free(back);
    buf_reset(&r1);
    k = dkim_key_generate(DKIM_ED25519_SHA256, 0, &err);
    dkim_key_record(k, &r1, &err);
    assert_true(strncmp(buf_cstr(&r1), "v=DKIM1; k=ed25519; p=", 22) == 0);
    assert_int_equal(strlen(buf_cstr(&r1)), 22 + 44); /* 32 raw bytes in base64 */
    dkim_key_free(k);
    assert_null(dkim_key_from_pem("not a key", 9, &err));
    free(err);
    buf_free(&pem), buf_free(&r1), buf_free(&r2);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_hlist),
               cmocka_unit_test(test_from_domain),
               cmocka_unit_test(test_body_hash_rfc8463),
               cmocka_unit_test(test_sign_ed25519),
               cmocka_unit_test(test_sign_rsa),
               cmocka_unit_test(test_no_domain),
               cmocka_unit_test(test_header_limit),
               cmocka_unit_test(test_keys))
