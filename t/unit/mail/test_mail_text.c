/* test_mail_text.c - tests of lib/mail/mail_text and lib/mail/header_span: the SEARCH text
 * of a multipart message (headers decoded from RFC 2047, a base64 UTF-8 text part, a
 * quoted-printable Latin-1 HTML part, an attachment that is skipped, an attached message
 * with its own header and body), the walk stopped by the callback, a text part larger than
 * one slice, SEARCH HEADER matching; header_span over LF and CRLF headers, obsolete
 * white space before the colon, lines that are no field, and a last line without LF. */
#include "unit_test.h"
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "header_span.h"
#include "mail_text.h"
#include "mime.h"
#include "text_match.h"

static const char msg[] =
    "From: =?utf-8?q?J=C3=B6rg?= <j@example.test>\n"
    "Subject: =?ISO-8859-1?Q?Gr=FC=DFe?= aus Bern\n"
    "Content-Type: multipart/mixed; boundary=b\n"
    "\n"
    "--b\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "U2Now7ZuZW4gR3LDvMOfZQ==\n"
    "--b\n"
    "Content-Type: text/html; charset=iso-8859-1\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "<p>Z=FCrich Caf=E9</p>\n"
    "--b\n"
    "Content-Type: application/octet-stream\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "c2VjcmV0IGJpbmFyeQ==\n"
    "--b\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Subject: inner =?utf-8?b?w6Q=?=\n"
    "\n"
    "inner body\n"
    "--b--\n";

struct collect {
    struct buf headers, bodies;
    size_t starts, stop_after;
};

static bool collect(void *ctx, const struct mail_text_chunk *c)
{
    struct collect *col = ctx;
    struct buf *b = c->kind == MAIL_TEXT_HEADER ? &col->headers : &col->bodies;
    if (c->start) {
        col->starts++;
        buf_printf(b, "[%zu]", c->part);
    }
    buf_append(b, c->data, c->len);
    return col->stop_after == 0 || col->starts < col->stop_after;
}

static const struct mime_part *tree(const char *m, size_t len, struct mime_parser **p,
                                    size_t *n)
{
    const char *err = NULL;
    *p = mime_parser_new(NULL, &err);
    mime_feed(*p, m, len);
    return mime_finish(*p, n);
}

static void test_walk(void **state)
{
    struct mime_parser *p;
    size_t n;
    const struct mime_part *parts = tree(msg, strlen(msg), &p, &n);
    struct collect col = { BUF_INIT, BUF_INIT, 0, 0 };
    assert_true(mail_text_walk(msg, strlen(msg), parts, n, MAIL_TEXT_HEADERS | MAIL_TEXT_BODIES,
                               collect, &col));
    assert_string_equal(buf_cstr(&col.headers),
                        "[0]From: J\xc3\xb6rg <j@example.test>\n"
                        "Subject: Gr\xc3\xbc\xc3\x9f" "e aus Bern\n"
                        "Content-Type: multipart/mixed; boundary=b\n"
                        "[1]Content-Type: text/plain; charset=utf-8\n"
                        "Content-Transfer-Encoding: base64\n"
                        "[2]Content-Type: text/html; charset=iso-8859-1\n"
                        "Content-Transfer-Encoding: quoted-printable\n"
                        "[3]Content-Type: application/octet-stream\n"
                        "Content-Transfer-Encoding: base64\n"
                        "[4]Content-Type: message/rfc822\n"
                        "[5]Subject: inner \xc3\xa4\n");
    assert_string_equal(buf_cstr(&col.bodies), "[1]Sch\xc3\xb6nen Gr\xc3\xbc\xc3\x9f" "e"
                                               "[2]<p>Z\xc3\xbcrich Caf\xc3\xa9</p>"
                                               "[5]inner body");
    buf_free(&col.headers);
    buf_free(&col.bodies);

    /* bodies only, stopped after the first */
    struct collect one = { BUF_INIT, BUF_INIT, 0, 1 };
    assert_false(mail_text_walk(msg, strlen(msg), parts, n, MAIL_TEXT_BODIES, collect, &one));
    assert_int_equal(one.headers.len, 0);
    assert_string_equal(buf_cstr(&one.bodies), "[1]Sch\xc3\xb6nen Gr\xc3\xbc\xc3\x9f" "e");
    buf_free(&one.headers);
    buf_free(&one.bodies);
    mime_parser_free(p);
}

struct finder {
    struct text_match m;
    size_t part;
};

static bool find(void *ctx, const struct mail_text_chunk *c)
{
    struct finder *f = ctx;
    if (c->start)
        text_match_restart(&f->m);
    if (text_match_feed(&f->m, c->data, c->len)) {
        f->part = c->part;
        return false;
    }
    return true;
}

/* A quoted-printable body over several slices; the needle straddles a slice boundary. */
static void test_large_part(void **state)
{
    struct buf m = BUF_INIT;
    buf_puts(&m, "Content-Type: text/plain; charset=iso-8859-1\n"
                 "Content-Transfer-Encoding: quoted-printable\n\n");
    size_t body = m.len;
    while (m.len - body < 3 * MAIL_TEXT_SLICE - 4)
        buf_puts(&m, "filler ");
    buf_truncate(&m, body + 3 * MAIL_TEXT_SLICE - 4);
    buf_puts(&m, "N=C4EDLE end\n");
    struct mime_parser *p;
    size_t n;
    const struct mime_part *parts = tree(m.data, m.len, &p, &n);
    struct finder f;
    text_match_init(&f.m, "n\xc3\xa4" "edle", 7);
    f.part = 99;
    assert_false(mail_text_walk(m.data, m.len, parts, n, MAIL_TEXT_BODIES, find, &f));
    assert_int_equal(f.part, 0);
    text_match_free(&f.m);
    mime_parser_free(p);
    buf_free(&m);
}

static void test_header_contains(void **state)
{
    size_t hdr = strstr(msg, "\n\n") - msg + 2;
    assert_true(mail_header_contains(msg, hdr, "subject", "GRÜSSE", 7) == false);
    assert_true(mail_header_contains(msg, hdr, "subject", "grüße", strlen("grüße")));
    assert_true(mail_header_contains(msg, hdr, "FROM", "jörg", strlen("jörg")));
    assert_true(mail_header_contains(msg, hdr, "from", "", 0));
    assert_false(mail_header_contains(msg, hdr, "cc", "", 0));
    assert_false(mail_header_contains(msg, hdr, "subject", "inner", 5));
}

static void test_header_span(void **state)
{
    static const char h[] = "A: one\r\n two\r\nB : x\r\nno field\r\n lead\nC:\tlast";
    struct header_span_iter it;
    struct header_span f;
    struct buf v = BUF_INIT;
    header_span_init(&it, h, sizeof h - 1);
    assert_true(header_span_next(&it, &f));
    assert_true(header_span_is(&f, "a"));
    header_unfold(f.value, f.value_len, &v);
    assert_string_equal(v.data, "one two");
    assert_int_equal(f.len, 14);
    assert_true(header_span_next(&it, &f));
    assert_true(header_span_is(&f, "B")); /* obsolete: white space before the colon */
    assert_true(header_span_next(&it, &f));
    assert_int_equal(f.name_len, 0);      /* a line that is no field, with its continuation */
    buf_reset(&v);
    header_unfold(f.value, f.value_len, &v);
    assert_string_equal(v.data, "no field lead");
    assert_true(header_span_next(&it, &f));
    assert_true(header_span_is(&f, "c")); /* the last line, without LF */
    buf_reset(&v);
    header_unfold(f.value, f.value_len, &v);
    assert_string_equal(v.data, "last");
    assert_false(header_span_next(&it, &f));

    header_span_init(&it, "X: y\n\nZ: w\n", 11);
    assert_true(header_span_next(&it, &f));
    assert_false(header_span_next(&it, &f)); /* stops at the empty line */
    header_span_init(&it, "\r\nX: y\n", 7);
    assert_false(header_span_next(&it, &f));
    buf_free(&v);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_walk),
               cmocka_unit_test(test_large_part),
               cmocka_unit_test(test_header_contains),
               cmocka_unit_test(test_header_span))
