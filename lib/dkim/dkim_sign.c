/* dkim_sign.c - the streaming DKIM signer (see dkim_sign.h). */
#include "dkim_sign.h"
#include "base64.h"
#include "dkim_canon.h"
#include "dkim_header.h"
#include "header.h"
#include "mem.h"
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define FOLD_WIDTH 78   /* RFC 5322 sec 2.1.1: lines SHOULD be at most 78 characters */
#define B64_PIECE 8     /* b= is folded between pieces of this many characters */

enum phase { HEADER, BODY, ENDED };

struct dkim_signer {
    const struct dkim_sign_opts *o;
    enum phase phase;
    struct buf header;  /* the header section (HEADER: what has come so far) */
    size_t searched;    /* header[0..searched) holds no empty line */
    bool too_large;
    struct header_field *fields;
    size_t nfields;
    bool parsed;
    char *domain;
    const char *why;    /* no domain: the reason */
    struct dkim_body_canon body;
    EVP_MD_CTX *body_hash;
    struct buf pending; /* canonical body bytes not yet hashed: one update per HASH_BATCH */
    struct buf bh;      /* base64 of the body hash, once ended */
};

#define HASH_BATCH 16384 /* the canonicalizer hands out word-sized pieces */

static void hash_pending(struct dkim_signer *s)
{
    EVP_DigestUpdate(s->body_hash, s->pending.data, s->pending.len);
    buf_reset(&s->pending);
}

static void hash_body(void *ctx, const char *data, size_t len)
{
    struct dkim_signer *s = ctx;
    buf_append(&s->pending, data, len);
    if (s->pending.len >= HASH_BATCH)
        hash_pending(s);
}

struct dkim_signer *dkim_signer_new(const struct dkim_sign_opts *o)
{
    struct dkim_signer *s = xcalloc(1, sizeof *s);
    s->o = o;
    s->body_hash = EVP_MD_CTX_new();
    if (!s->body_hash || EVP_DigestInit_ex(s->body_hash, EVP_sha256(), NULL) != 1)
        abort(); /* only on memory exhaustion, which is fatal everywhere (mem.h) */
    dkim_body_init(&s->body, hash_body, s);
    return s;
}

void dkim_signer_free(struct dkim_signer *s)
{
    if (!s)
        return;
    buf_free(&s->header);
    free(s->fields);
    free(s->domain);
    EVP_MD_CTX_free(s->body_hash);
    buf_free(&s->pending);
    buf_free(&s->bh);
    free(s);
}

/* The header section is header[0..len): split it into fields; a line that is neither a
 * field nor a continuation makes the section malformed (nothing is signed). */
static void parse_header(struct dkim_signer *s)
{
    struct header_iter it;
    struct header_field f;
    header_iter_init(&it, s->header.data ? s->header.data : "", s->header.len);
    while (header_iter_next(&it, &f)) {
        if (f.name_len == 0) {
            s->why = "the header section is malformed";
            return;
        }
        s->fields = xreallocarray(s->fields, s->nfields + 1, sizeof *s->fields);
        s->fields[s->nfields++] = f;
    }
    if (dkim_from_domain(s->fields, s->nfields, &s->domain, &s->why) < 0)
        s->domain = NULL;
}

/* The header section is over the limit: nothing will be signed, nothing more is kept. */
static void too_large(struct dkim_signer *s)
{
    s->too_large = true;
    s->why = "the header section is larger than dkim_header_size_limit";
    s->phase = BODY; /* the rest is not looked at */
    buf_free(&s->header);
}

static void header_feed(struct dkim_signer *s, const char *data, size_t len)
{
    buf_append(&s->header, data, len);
    size_t end;
    bool found = header_section_end_resume(s->header.data, s->header.len, s->searched, &end);
    if ((found ? end : s->header.len) > s->o->header_limit) {
        too_large(s);
        return;
    }
    if (found) {
        size_t body_start = end + 1; /* after the empty line */
        s->phase = BODY;
        dkim_body_feed(&s->body, s->header.data + body_start, s->header.len - body_start);
        buf_truncate(&s->header, end);
        parse_header(s);
        s->parsed = true;
        return;
    }
    s->searched = s->header.len;
}

void dkim_signer_feed(struct dkim_signer *s, const char *data, size_t len)
{
    if (s->phase == HEADER)
        header_feed(s, data, len);
    else if (s->phase == BODY && !s->too_large)
        dkim_body_feed(&s->body, data, len);
}

bool dkim_signer_header_done(const struct dkim_signer *s) { return s->phase != HEADER; }

void dkim_signer_end(struct dkim_signer *s)
{
    if (s->phase == HEADER) { /* no empty line: all header, empty body */
        if (s->header.len && s->header.data[s->header.len - 1] != '\n')
            buf_putc(&s->header, '\n');
        parse_header(s);
        s->parsed = true;
    }
    dkim_body_finish(&s->body);
    hash_pending(s);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    EVP_DigestFinal_ex(s->body_hash, digest, &dlen);
    base64_encode(digest, dlen, &s->bh);
    s->phase = ENDED;
}

const char *dkim_signer_domain(struct dkim_signer *s, const char **why)
{
    if (!s->parsed && !s->too_large) {
        *why = "the header section is not complete";
        return NULL;
    }
    *why = s->why;
    return s->domain;
}

/* --- the DKIM-Signature field, folded --- */

struct fold {
    struct buf *out;
    size_t col;
};

/* Append sep and tok, or a line break instead of sep when tok would pass FOLD_WIDTH. */
static void fold_put(struct fold *f, const char *sep, const char *tok, size_t len)
{
    size_t slen = strlen(sep);
    if (f->col + slen + len > FOLD_WIDTH && f->col > 8) {
        buf_puts(f->out, "\n\t");
        f->col = 8;
    } else {
        buf_puts(f->out, sep);
        f->col += slen;
    }
    buf_append(f->out, tok, len);
    f->col += len;
}

/* " name=value;" */
static void fold_tag(struct fold *f, const char *name, const char *value)
{
    char *tok = xasprintf("%s=%s;", name, value);
    fold_put(f, " ", tok, strlen(tok));
    free(tok);
}

/* Everything up to and including "b=", the value left empty (sec 3.7). */
static void signature_head(struct dkim_signer *s, const struct dkim_key *key, const char *selector,
                           const struct dkim_hlist *h, struct fold *f)
{
    buf_puts(f->out, "DKIM-Signature:");
    f->col = strlen("DKIM-Signature:");
    char t[32];
    snprintf(t, sizeof t, "%lld", s->o->now);
    fold_tag(f, "v", "1");
    fold_tag(f, "a", dkim_alg_name(dkim_key_alg(key)));
    fold_tag(f, "c", "relaxed/relaxed");
    fold_tag(f, "d", s->domain);
    fold_tag(f, "s", selector);
    fold_tag(f, "t", t);
    for (size_t i = 0; i < h->n; i++) { /* FWS may stand around each ':' of h= */
        char *tok = xasprintf("%s%s%s", i ? ":" : "h=", h->names[i], i + 1 == h->n ? ";" : "");
        fold_put(f, i ? "" : " ", tok, strlen(tok));
        free(tok);
    }
    fold_tag(f, "bh", s->bh.data);
    fold_put(f, " ", "b=", 2);
}

/* The signature itself, in pieces that may be folded (never right after "b="). */
static void signature_value(struct fold *f, const struct buf *b64)
{
    for (size_t i = 0; i < b64->len; i += B64_PIECE) {
        size_t n = b64->len - i < B64_PIECE ? b64->len - i : B64_PIECE;
        if (i == 0) { /* a verifier may not expect white space right after "b=" */
            buf_append(f->out, b64->data, n);
            f->col += n;
        } else {
            fold_put(f, "", b64->data + i, n);
        }
    }
    buf_putc(f->out, '\n');
}

int dkim_signer_sign(struct dkim_signer *s, const struct dkim_key *key, const char *selector,
                     struct buf *out, char **err)
{
    if (s->phase != ENDED || !s->domain) {
        *err = xstrdup(s->why ? s->why : "the message has not ended");
        return -1;
    }
    struct dkim_hlist h;
    dkim_hlist_make(s->fields, s->nfields, s->o->sign_headers, s->o->nsign, s->o->oversign,
                    s->o->nover, &h);
    struct buf field = BUF_INIT, data = BUF_INIT, sig = BUF_INIT;
    struct fold f = {&field, 0};
    signature_head(s, key, selector, &h, &f);
    dkim_hlist_canon(s->fields, s->nfields, &h, &data);
    dkim_canon_header(field.data, field.len, false, &data);
    int rc = dkim_key_sign(key, data.data, data.len, &sig, err);
    if (rc == 0) {
        signature_value(&f, &sig);
        buf_append(out, field.data, field.len);
    }
    dkim_hlist_free(&h);
    buf_free(&field);
    buf_free(&data);
    buf_free(&sig);
    return rc;
}
