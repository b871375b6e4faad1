/* test_mime.c - tests of lib/mail/mime: the part tree, offsets, sizes and line counts of
 * plain, multipart (mixed, alternative inside mixed, digest), message/rfc822 messages;
 * missing closing delimiters, a boundary that is a prefix of another, transport padding,
 * CRLF and LF, Content-* fields with quotes, comments and folding, the depth, part and
 * header-line limits; and split invariance (every message fed whole, byte by byte and in
 * random chunk sizes must give the identical tree). */
#include "unit_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "buf.h"
#include "mime.h"

/* ---- helpers ---- */

/* A tiny deterministic generator, so a failing chunking can be reproduced. */
static uint32_t next_random(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 16;
}

/* Parse msg fed in chunks: chunk 0 feeds it whole; chunk SIZE_MAX picks random sizes from
 * 1 to 64 with the given seed; otherwise fixed-size chunks. */
static struct mime_parser *parse_chunked(const char *msg, const struct mime_limits *lim,
                                         size_t chunk, uint32_t seed)
{
    const char *err = NULL;
    struct mime_parser *p = mime_parser_new(lim, &err);
    assert_non_null(p);
    size_t len = strlen(msg), at = 0;
    while (at < len) {
        size_t n = chunk == 0 ? len : chunk == SIZE_MAX ? 1 + next_random(&seed) % 64 : chunk;
        if (n > len - at)
            n = len - at;
        mime_feed(p, msg + at, n);
        mime_feed(p, msg + at, 0); /* empty feeds change nothing */
        at += n;
    }
    return p;
}

static const struct mime_part *parse(const char *msg, const struct mime_limits *lim,
                                     struct mime_parser **pp, size_t *n)
{
    *pp = parse_chunked(msg, lim, 0, 0);
    return mime_finish(*pp, n);
}

static void dump_params(struct buf *out, const struct mime_param *params, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_printf(out, " [%s=%s]", params[i].name, params[i].value);
}

/* Every reported field of every part, one line each. */
static void dump_tree(struct buf *out, const struct mime_part *parts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct mime_part *pt = &parts[i];
        buf_printf(out, "%zu: parent %zd child %zd next %zd depth %u flags %u h %zu+%zu/%zu "
                   "b %zu+%zu/%zu %s/%s",
                   i, (ssize_t)pt->parent, (ssize_t)pt->first_child, (ssize_t)pt->next_sibling,
                   pt->depth, pt->flags, pt->header_offset, pt->header_size, pt->header_lines,
                   pt->body_offset, pt->body_size, pt->body_lines, pt->type, pt->subtype);
        dump_params(out, pt->params, pt->n_params);
        buf_printf(out, " cte=%s id=%s desc=%s disp=%s lang=%s",
                   pt->encoding ? pt->encoding : "-", pt->id ? pt->id : "-",
                   pt->description ? pt->description : "-",
                   pt->disposition ? pt->disposition : "-", pt->language ? pt->language : "-");
        dump_params(out, pt->disposition_params, pt->n_disposition_params);
        buf_putc(out, '\n');
    }
}

static char *dump_chunked(const char *msg, const struct mime_limits *lim, size_t chunk,
                          uint32_t seed)
{
    struct mime_parser *p = parse_chunked(msg, lim, chunk, seed);
    size_t n;
    const struct mime_part *parts = mime_finish(p, &n);
    struct buf out = BUF_INIT;
    dump_tree(&out, parts, n);
    mime_parser_free(p);
    return buf_steal(&out);
}

static void assert_span(const char *msg, size_t off, size_t len, const char *want)
{
    if (len != strlen(want) || memcmp(msg + off, want, len) != 0)
        fail_msg("span at %zu: \"%.*s\", want \"%s\"", off, (int)len, msg + off, want);
}

static void assert_body(const char *msg, const struct mime_part *pt, const char *want)
{
    assert_span(msg, pt->body_offset, pt->body_size, want);
}

static void assert_header(const char *msg, const struct mime_part *pt, const char *want)
{
    assert_span(msg, pt->header_offset, pt->header_size, want);
}

static void assert_type(const struct mime_part *pt, const char *type, const char *subtype)
{
    assert_string_equal(pt->type, type);
    assert_string_equal(pt->subtype, subtype);
}

/* ---- messages ---- */

static const char plain_msg[] = "From: a@example.test\n"
                                "Subject: hi\n"
                                "\n"
                                "Hello\n"
                                "World";

static const char mixed_msg[] =
    "From: a@example.test\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n"
    "\r\n"
    "This is the preamble.\r\n"
    "--XYZ\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "Body text\r\n"
    "\r\n"
    "--XYZ\r\n"
    "Content-Type: application/pdf; name=\"a.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"a.pdf\"\r\n"
    "Content-ID: <id1@example.test>\r\n"
    "Content-Description: the report\r\n"
    "Content-Language: en, de\r\n"
    "\r\n"
    "JVBERi0xLjQK\r\n"
    "--XYZ--\r\n"
    "Epilogue\r\n";

static const char alternative_msg[] =
    "Content-Type: multipart/mixed; boundary=outer\n"
    "\n"
    "--outer  \t\n"
    "Content-Type: multipart/alternative; boundary=inner\n"
    "\n"
    "--inner\n"
    "Content-Type: text/plain\n"
    "\n"
    "plain\n"
    "--inner\n"
    "Content-Type: text/html\n"
    "\n"
    "<p>html</p>\n"
    "--inner--\n"
    "--outer\n"
    "Content-Type: image/png\n"
    "\n"
    "PNG\n"
    "--outer--";

static const char rfc822_msg[] =
    "Content-Type: multipart/mixed; boundary=b1\n"
    "\n"
    "--b1\n"
    "\n"
    "see attached\n"
    "--b1\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: b@example.test\n"
    "Subject: inner\n"
    "Content-Type: multipart/alternative; boundary=b2\n"
    "\n"
    "--b2\n"
    "Content-Type: text/plain\n"
    "\n"
    "inner text\n"
    "--b2--\n"
    "--b1--\n";

static const char unterminated_msg[] =
    "Content-Type: multipart/mixed; boundary=out\n"
    "\n"
    "--out\n"
    "Content-Type: multipart/alternative; boundary=in\n"
    "\n"
    "--in\n"
    "\n"
    "first\n"
    "--out\n"
    "\n"
    "second\n";

static const char prefix_msg[] =
    "Content-Type: multipart/mixed; boundary=abc\n"
    "\n"
    "--abc\n"
    "Content-Type: multipart/mixed; boundary=abcdef\n"
    "\n"
    "--abcdef\n"
    "\n"
    "x\n"
    "--abcx\n"
    "--abc-- trailing\n"
    "--abcdef--\n"
    "--abc--\n";

static const char params_msg[] =
    "Content-Type: (comment) Text/HTML (another (nested \\) one)) ; CharSet = \"utf-8\" (c);\r\n"
    "\tname=\"a \\\"quoted\\\" name.txt\"; title*0*=us-ascii'en'This%20is;\r\n"
    " title*1*=%20fun; broken; x=; ; Format=flowed\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Transfer-Encoding: Base64 (comment)\r\n"
    "Content-Disposition: ATTACHMENT; FILENAME=\"x.txt\";\r\n"
    "  size=12\r\n"
    "Content-Description:   folded\r\n"
    "   description  \r\n"
    "\r\n"
    "PGh0bWw+\r\n";

/* ---- tests ---- */

static void test_plain(void **state)
{
    struct mime_parser *p;
    size_t n;
    const struct mime_part *parts = parse(plain_msg, NULL, &p, &n);
    assert_int_equal(n, 1);
    const struct mime_part *pt = &parts[0];
    assert_type(pt, "text", "plain");
    assert_true(pt->flags & MIME_PART_DEFAULT_TYPE);
    assert_int_equal(pt->parent, MIME_NONE);
    assert_int_equal(pt->first_child, MIME_NONE);
    assert_header(plain_msg, pt, "From: a@example.test\nSubject: hi\n\n");
    assert_int_equal(pt->header_lines, 3);
    assert_body(plain_msg, pt, "Hello\nWorld");
    assert_int_equal(pt->body_lines, 2);
    assert_null(pt->encoding);
    mime_parser_free(p);
}

static void test_header_only_and_empty(void **state)
{
    struct mime_parser *p;
    size_t n;
    const struct mime_part *parts = parse("Subject: x\r\nX: y", NULL, &p, &n);
    assert_int_equal(n, 1);
    assert_true(parts[0].flags & MIME_PART_HEADER_UNTERMINATED);
    assert_int_equal(parts[0].header_size, 16);
    assert_int_equal(parts[0].header_lines, 2);
    assert_int_equal(parts[0].body_offset, 16);
    assert_int_equal(parts[0].body_size, 0);
    mime_parser_free(p);

    parts = parse("", NULL, &p, &n);
    assert_int_equal(n, 1);
    assert_int_equal(parts[0].header_size, 0);
    assert_int_equal(parts[0].header_lines, 0);
    assert_int_equal(parts[0].body_lines, 0);
    /* finishing twice gives the same tree */
    size_t n2;
    assert_ptr_equal(mime_finish(p, &n2), parts);
    assert_int_equal(n2, 1);
    mime_parser_free(p);
}

static void test_mixed_attachment(void **state)
{
    struct mime_parser *p;
    size_t n;
    const char *m = mixed_msg;
    const struct mime_part *parts = parse(m, NULL, &p, &n);
    assert_int_equal(n, 3);
    assert_type(&parts[0], "multipart", "mixed");
    assert_string_equal(mime_param_get(parts[0].params, parts[0].n_params, "BOUNDARY"), "XYZ");
    assert_int_equal(parts[0].flags, 0);
    assert_int_equal(parts[0].first_child, 1);
    assert_int_equal(parts[0].body_offset + parts[0].body_size, strlen(m));
    assert_int_equal(parts[0].header_lines, 4);
    assert_int_equal(parts[0].body_lines, 17);

    assert_int_equal(parts[1].parent, 0);
    assert_int_equal(parts[1].next_sibling, 2);
    assert_int_equal(parts[1].depth, 1);
    assert_header(m, &parts[1], "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
    assert_int_equal(parts[1].header_lines, 2);
    assert_body(m, &parts[1], "Body text\r\n"); /* the last CRLF belongs to the delimiter */
    assert_int_equal(parts[1].body_lines, 1);
    assert_string_equal(mime_param_get(parts[1].params, parts[1].n_params, "charset"),
                        "us-ascii");

    const struct mime_part *a = &parts[2];
    assert_int_equal(a->next_sibling, MIME_NONE);
    assert_type(a, "application", "pdf");
    assert_string_equal(mime_param_get(a->params, a->n_params, "name"), "a.pdf");
    assert_string_equal(a->encoding, "base64");
    assert_string_equal(a->disposition, "attachment");
    assert_string_equal(
        mime_param_get(a->disposition_params, a->n_disposition_params, "filename"), "a.pdf");
    assert_string_equal(a->id, "<id1@example.test>");
    assert_string_equal(a->description, "the report");
    assert_string_equal(a->language, "en, de");
    assert_body(m, a, "JVBERi0xLjQK");
    assert_int_equal(a->body_lines, 1);
    assert_int_equal(a->header_lines, 7);
    mime_parser_free(p);
}

static void test_alternative_in_mixed(void **state)
{
    struct mime_parser *p;
    size_t n;
    const char *m = alternative_msg;
    const struct mime_part *parts = parse(m, NULL, &p, &n);
    assert_int_equal(n, 5);
    assert_type(&parts[1], "multipart", "alternative");
    assert_int_equal(parts[1].parent, 0);
    assert_int_equal(parts[1].flags, 0);
    assert_int_equal(parts[1].first_child, 2);
    assert_int_equal(parts[1].next_sibling, 4);
    assert_body(m, &parts[1], "--inner\nContent-Type: text/plain\n\nplain\n--inner\n"
                              "Content-Type: text/html\n\n<p>html</p>\n--inner--");
    assert_type(&parts[2], "text", "plain");
    assert_int_equal(parts[2].depth, 2);
    assert_int_equal(parts[2].parent, 1);
    assert_body(m, &parts[2], "plain");
    assert_type(&parts[3], "text", "html");
    assert_body(m, &parts[3], "<p>html</p>");
    assert_type(&parts[4], "image", "png");
    assert_int_equal(parts[4].parent, 0);
    assert_body(m, &parts[4], "PNG");
    assert_int_equal(parts[0].flags, 0); /* closing delimiter without a line end counts */
    mime_parser_free(p);
}

static void test_rfc822_attached(void **state)
{
    struct mime_parser *p;
    size_t n;
    const char *m = rfc822_msg;
    const struct mime_part *parts = parse(m, NULL, &p, &n);
    assert_int_equal(n, 5);
    assert_true(parts[1].flags & MIME_PART_DEFAULT_TYPE);
    assert_int_equal(parts[1].header_size, 1); /* no header fields, just the empty line */
    assert_body(m, &parts[1], "see attached");
    const struct mime_part *msg = &parts[2];
    assert_type(msg, "message", "rfc822");
    assert_int_equal(msg->first_child, 3);
    const struct mime_part *inner = &parts[3];
    assert_int_equal(inner->parent, 2);
    assert_int_equal(inner->depth, 2);
    assert_int_equal(inner->header_offset, msg->body_offset);
    assert_int_equal(inner->body_offset + inner->body_size, msg->body_offset + msg->body_size);
    assert_header(m, inner, "From: b@example.test\nSubject: inner\n"
                            "Content-Type: multipart/alternative; boundary=b2\n\n");
    assert_type(inner, "multipart", "alternative");
    assert_int_equal(inner->header_lines, 4);
    assert_type(&parts[4], "text", "plain");
    assert_int_equal(parts[4].depth, 3);
    assert_body(m, &parts[4], "inner text");
    /* the epilogue of the inner multipart is empty: the message ends before "\n--b1--" */
    assert_body(m, inner, "--b2\nContent-Type: text/plain\n\ninner text\n--b2--");
    assert_int_equal(inner->body_lines, 5);
    assert_int_equal(inner->first_child, 4);
    assert_int_equal(parts[0].flags, 0);
    mime_parser_free(p);
}

static void test_missing_final_boundary(void **state)
{
    struct mime_parser *p;
    size_t n;
    const char *m = unterminated_msg;
    const struct mime_part *parts = parse(m, NULL, &p, &n);
    assert_int_equal(n, 4);
    /* the alternative is ended by the outer delimiter */
    assert_type(&parts[1], "multipart", "alternative");
    assert_true(parts[1].flags & MIME_PART_UNTERMINATED);
    assert_body(m, &parts[1], "--in\n\nfirst");
    assert_body(m, &parts[2], "first");
    assert_int_equal(parts[2].parent, 1);
    /* the outer one is ended by the end of the message */
    assert_int_equal(parts[3].parent, 0);
    assert_body(m, &parts[3], "second\n");
    assert_int_equal(parts[3].body_lines, 1);
    assert_true(parts[0].flags & MIME_PART_UNTERMINATED);
    assert_int_equal(parts[0].body_offset + parts[0].body_size, strlen(m));
    mime_parser_free(p);
}

static void test_boundary_prefix(void **state)
{
    struct mime_parser *p;
    size_t n;
    const char *m = prefix_msg;
    const struct mime_part *parts = parse(m, NULL, &p, &n);
    assert_int_equal(n, 3);
    assert_type(&parts[1], "multipart", "mixed");
    assert_int_equal(parts[1].flags, 0);
    assert_int_equal(parts[2].parent, 1);
    /* "--abcx" and "--abc-- trailing" are not delimiters of "abc" */
    assert_body(m, &parts[2], "x\n--abcx\n--abc-- trailing");
    assert_int_equal(parts[2].body_lines, 3);
    assert_int_equal(parts[0].flags, 0);
    mime_parser_free(p);
}

/* Parts cut short by a delimiter: a header without its empty line, an empty part, a part
 * that is only the empty line (whose line end cannot also belong to the delimiter). */
static void test_short_parts(void **state)
{
    const char *m = "Content-Type: multipart/mixed; boundary=z\r\n\r\n"
                    "--z\r\nA: b\r\n--z\r\n--z\r\n\r\n--z--\r\n";
    struct mime_parser *p;
    size_t n;
    const struct mime_part *parts = parse(m, NULL, &p, &n);
    assert_int_equal(n, 4);
    assert_true(parts[1].flags & MIME_PART_HEADER_UNTERMINATED);
    assert_header(m, &parts[1], "A: b");
    assert_int_equal(parts[1].header_lines, 1);
    assert_int_equal(parts[1].body_size, 0);
    assert_int_equal(parts[2].header_size, 0);
    assert_int_equal(parts[2].header_lines, 0);
    assert_true(parts[2].flags & MIME_PART_HEADER_UNTERMINATED);
    assert_header(m, &parts[3], "\r\n");
    assert_false(parts[3].flags & MIME_PART_HEADER_UNTERMINATED);
    assert_int_equal(parts[3].body_size, 0);
    assert_int_equal(parts[3].body_lines, 0);
    assert_int_equal(parts[0].flags, 0);
    mime_parser_free(p);
}

/* The same structure with LF and with CRLF: same tree, same line counts, sizes grow by one
 * byte per line end. */
static void test_crlf_and_lf(void **state)
{
    struct buf crlf = BUF_INIT;
    for (const char *s = alternative_msg; *s; s++) {
        if (*s == '\n')
            buf_putc(&crlf, '\r');
        buf_putc(&crlf, *s);
    }
    struct mime_parser *p1, *p2;
    size_t n1, n2;
    const struct mime_part *a = parse(alternative_msg, NULL, &p1, &n1);
    const struct mime_part *b = parse(buf_cstr(&crlf), NULL, &p2, &n2);
    assert_int_equal(n1, n2);
    for (size_t i = 0; i < n1; i++) {
        assert_string_equal(a[i].type, b[i].type);
        assert_string_equal(a[i].subtype, b[i].subtype);
        assert_int_equal(a[i].header_lines, b[i].header_lines);
        assert_int_equal(a[i].body_lines, b[i].body_lines);
        assert_int_equal(a[i].header_size + a[i].header_lines, b[i].header_size);
        assert_int_equal(a[i].flags, b[i].flags);
    }
    assert_body(buf_cstr(&crlf), &b[3], "<p>html</p>");
    mime_parser_free(p1);
    mime_parser_free(p2);
    buf_free(&crlf);
}

static void test_params_quotes_comments(void **state)
{
    struct mime_parser *p;
    size_t n;
    const struct mime_part *parts = parse(params_msg, NULL, &p, &n);
    assert_int_equal(n, 1);
    const struct mime_part *pt = &parts[0];
    assert_type(pt, "text", "html"); /* the first Content-Type counts */
    assert_int_equal(pt->flags, 0);
    assert_int_equal(pt->n_params, 5);
    assert_string_equal(pt->params[0].name, "charset");
    assert_string_equal(pt->params[0].value, "utf-8");
    assert_string_equal(pt->params[1].name, "name");
    assert_string_equal(pt->params[1].value, "a \"quoted\" name.txt");
    assert_string_equal(pt->params[2].name, "title*0*");
    assert_string_equal(pt->params[2].value, "us-ascii'en'This%20is");
    assert_string_equal(pt->params[3].name, "title*1*");
    assert_string_equal(pt->params[3].value, "%20fun");
    assert_string_equal(pt->params[4].name, "format");
    assert_string_equal(pt->params[4].value, "flowed");
    assert_null(mime_param_get(pt->params, pt->n_params, "broken"));
    assert_string_equal(pt->encoding, "base64");
    assert_string_equal(pt->disposition, "attachment");
    assert_int_equal(pt->n_disposition_params, 2);
    assert_string_equal(pt->disposition_params[0].name, "filename");
    assert_string_equal(pt->disposition_params[0].value, "x.txt");
    assert_string_equal(pt->disposition_params[1].value, "12");
    assert_string_equal(pt->description, "folded   description");
    assert_body(params_msg, pt, "PGh0bWw+\r\n");
    mime_parser_free(p);

    /* A base64-encoded multipart is opaque; a multipart without boundary is a leaf. */
    parts = parse("Content-Type: multipart/mixed; boundary=a\n"
                  "Content-Transfer-Encoding: base64\n\n--a\n\n--a--\n", NULL, &p, &n);
    assert_int_equal(n, 1);
    assert_true(parts[0].flags & MIME_PART_OPAQUE);
    mime_parser_free(p);
    parts = parse("Content-Type: multipart/mixed; charset=x\n\n--a\n\n--a--\n", NULL, &p, &n);
    assert_int_equal(n, 1);
    assert_true(parts[0].flags & MIME_PART_NO_BOUNDARY);
    mime_parser_free(p);
    parts = parse("Content-Type: text\n\nx\n", NULL, &p, &n);
    assert_true(parts[0].flags & MIME_PART_DEFAULT_TYPE);
    assert_type(&parts[0], "text", "plain");
    mime_parser_free(p);
}

static void test_digest_default(void **state)
{
    struct mime_parser *p;
    size_t n;
    const char *m = "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nbody\n"
                    "--d--\n";
    const struct mime_part *parts = parse(m, NULL, &p, &n);
    assert_int_equal(n, 3);
    assert_type(&parts[1], "message", "rfc822");
    assert_true(parts[1].flags & MIME_PART_DEFAULT_TYPE);
    assert_header(m, &parts[2], "Subject: one\n\n");
    assert_body(m, &parts[2], "body");
    mime_parser_free(p);
}

static const char deep_msg[] = "Content-Type: multipart/mixed; boundary=l0\n\n"
                               "--l0\n"
                               "Content-Type: multipart/mixed; boundary=l1\n\n"
                               "--l1\n"
                               "Content-Type: message/rfc822\n\n"
                               "Subject: deep\n\n"
                               "text\n"
                               "--l1--\n"
                               "--l0\n\nlast\n"
                               "--l0--\n";

static void test_depth_limit(void **state)
{
    struct mime_parser *p;
    size_t n;
    struct mime_limits lim = { 1, 100, 1000 };
    const struct mime_part *parts = parse(deep_msg, &lim, &p, &n);
    assert_int_equal(n, 3);
    assert_true(parts[1].flags & MIME_PART_OPAQUE);
    assert_int_equal(parts[1].first_child, MIME_NONE);
    assert_body(deep_msg, &parts[1], "--l1\nContent-Type: message/rfc822\n\nSubject: deep\n\n"
                                     "text\n--l1--");
    assert_body(deep_msg, &parts[2], "last");
    mime_parser_free(p);

    lim.max_depth = 2; /* the message/rfc822 at depth 2 cannot hold its message */
    parts = parse(deep_msg, &lim, &p, &n);
    assert_int_equal(n, 4);
    assert_true(parts[2].flags & MIME_PART_OPAQUE);
    assert_body(deep_msg, &parts[2], "Subject: deep\n\ntext");
    mime_parser_free(p);

    lim.max_depth = 0;
    parts = parse(deep_msg, &lim, &p, &n);
    assert_int_equal(n, 1);
    assert_true(parts[0].flags & MIME_PART_OPAQUE);
    mime_parser_free(p);

    lim.max_depth = 3;
    parts = parse(deep_msg, &lim, &p, &n);
    assert_int_equal(n, 5);
    assert_int_equal(parts[3].depth, 3);
    assert_body(deep_msg, &parts[3], "text");
    mime_parser_free(p);
}

static void test_part_limit(void **state)
{
    const char *m = "Content-Type: multipart/mixed; boundary=p\n\n"
                    "--p\n\none\n--p\n\ntwo\n--p\n\nthree\n--p\n\nfour\n--p--\nepilogue\n";
    struct mime_parser *p;
    size_t n;
    struct mime_limits lim = { 10, 3, 1000 };
    const struct mime_part *parts = parse(m, &lim, &p, &n);
    assert_int_equal(n, 3);
    assert_true(parts[0].flags & MIME_PART_TRUNCATED);
    assert_false(parts[0].flags & MIME_PART_UNTERMINATED);
    assert_body(m, &parts[1], "one");
    assert_body(m, &parts[2], "two");
    assert_int_equal(parts[0].body_offset + parts[0].body_size, strlen(m));
    mime_parser_free(p);

    lim.max_parts = 1;
    parts = parse(rfc822_msg, &lim, &p, &n);
    assert_int_equal(n, 1);
    assert_true(parts[0].flags & MIME_PART_TRUNCATED);
    mime_parser_free(p);

    lim.max_parts = 2; /* the message/rfc822 part at index 2 does not fit */
    parts = parse(rfc822_msg, &lim, &p, &n);
    assert_int_equal(n, 2);
    mime_parser_free(p);
    lim.max_parts = 3; /* it fits, its nested message does not */
    parts = parse(rfc822_msg, &lim, &p, &n);
    assert_int_equal(n, 3);
    assert_true(parts[2].flags & MIME_PART_TRUNCATED);
    assert_int_equal(parts[2].first_child, MIME_NONE);
    mime_parser_free(p);
}

static void test_header_line_limit(void **state)
{
    const char *m = "X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                    "Content-Type: multipart/mixed;\n boundary=\"0123456789012345678901234\"\n\n"
                    "--0123456789012345678901234\n\nx\n--0123456789012345678901234--\n";
    struct mime_parser *p;
    size_t n;
    struct mime_limits lim = { 10, 10, 80 };
    const struct mime_part *parts = parse(m, &lim, &p, &n);
    assert_int_equal(n, 2); /* a long field that is not Content-* does not matter */
    assert_int_equal(parts[0].flags, 0);
    mime_parser_free(p);

    lim.max_header_line = 40; /* now the unfolded Content-Type is too long: ignored */
    parts = parse(m, &lim, &p, &n);
    assert_int_equal(n, 1);
    assert_true(parts[0].flags & MIME_PART_LONG_FIELD);
    assert_true(parts[0].flags & MIME_PART_DEFAULT_TYPE);
    mime_parser_free(p);

    const char *err = NULL;
    lim.max_parts = 0;
    assert_null(mime_parser_new(&lim, &err));
    assert_non_null(err);
    lim.max_parts = 1;
    lim.max_depth = MIME_DEPTH_CAP + 1;
    assert_null(mime_parser_new(&lim, &err));
}

/* Every message, whole, byte by byte, in fixed and random chunks: identical dumps. */
static void test_split_invariance(void **state)
{
    static const char *const msgs[] = {
        plain_msg, mixed_msg, alternative_msg, rfc822_msg, unterminated_msg, prefix_msg,
        params_msg, deep_msg,
        "Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nA: b\r\n--z\r\n--z\r\n\r\n--z--",
        "Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n\r\nx\r\n--z--",
        "Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nA: b\r\n--z\r\n\r\n\r\n--z",
        "\r\n\r\n", "\n", "no header line at all", "",
    };
    static const struct mime_limits lims[] = { { 32, 10000, 16384 }, { 1, 3, 30 } };
    for (size_t l = 0; l < sizeof lims / sizeof lims[0]; l++) {
        for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
            char *whole = dump_chunked(msgs[i], &lims[l], 0, 0);
            char *bytes = dump_chunked(msgs[i], &lims[l], 1, 0);
            assert_string_equal(whole, bytes);
            free(bytes);
            for (uint32_t seed = 1; seed <= 20; seed++) {
                char *random = dump_chunked(msgs[i], &lims[l], SIZE_MAX, seed);
                if (strcmp(whole, random) != 0)
                    fail_msg("message %zu seed %u:\n%s\nvs\n%s", i, seed, whole, random);
                free(random);
            }
            free(whole);
        }
    }
}

UNIT_TEST_MAIN(cmocka_unit_test(test_plain),
               cmocka_unit_test(test_header_only_and_empty),
               cmocka_unit_test(test_mixed_attachment),
               cmocka_unit_test(test_alternative_in_mixed),
               cmocka_unit_test(test_rfc822_attached),
               cmocka_unit_test(test_missing_final_boundary),
               cmocka_unit_test(test_boundary_prefix),
               cmocka_unit_test(test_short_parts),
               cmocka_unit_test(test_crlf_and_lf),
               cmocka_unit_test(test_params_quotes_comments),
               cmocka_unit_test(test_digest_default),
               cmocka_unit_test(test_depth_limit),
               cmocka_unit_test(test_part_limit),
               cmocka_unit_test(test_header_line_limit),
               cmocka_unit_test(test_split_invariance))
