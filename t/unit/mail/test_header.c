/* test_header.c - lib/mail/header: field names, the end of the header section (found,
 * missing, empty section, resumed search), iterating the fields of a message in memory
 * (folded lines unfolded, nameless lines, a missing end, a message without a body), and
 * the streaming scanner (any chunking gives the same fields, where it stops, bounds). */
#include "unit_test.h"

#include "header.h"
#include <stdio.h>
#include <string.h>

static void test_names(void **state)
{
    assert_int_equal(header_name_length("Subject: x", 10), 7);
    assert_int_equal(header_name_length("X-A:", 4), 3);
    assert_int_equal(header_name_length(": x", 3), 0);        /* empty name */
    assert_int_equal(header_name_length("Sub ject: x", 11), 0); /* space in the name */
    assert_int_equal(header_name_length("Subject", 7), 0);    /* no colon */
    assert_int_equal(header_name_length(" x: y", 5), 0);
    assert_int_equal(header_name_length("Subject: x", 7), 0); /* the colon is past len */
    assert_true(header_line_continues(" x", 2));
    assert_true(header_line_continues("\tx", 2));
    assert_false(header_line_continues("x", 1));
    assert_false(header_line_continues("", 0));
    struct header_field f = {"message-ID: <a@b>\n", 18, 10, false};
    assert_true(header_field_is(&f, "Message-Id"));
    assert_false(header_field_is(&f, "Message"));
    assert_false(header_field_is(&f, "Message-Id2"));
}

static void test_section_end(void **state)
{
    size_t end = 99;
    const char *m = "A: 1\nB: 2\n\nbody\n\nmore\n";
    assert_true(header_section_end(m, strlen(m), &end));
    assert_int_equal(end, 10);
    assert_true(header_section_end("\nbody\n\n", 7, &end)); /* empty header section */
    assert_int_equal(end, 0);
    assert_false(header_section_end("A: 1\nB: 2\n", 10, &end)); /* no body: no end */
    assert_false(header_section_end("A: 1\n", 5, &end));
    assert_false(header_section_end("", 0, &end));
    assert_false(header_section_end(m, 10, &end)); /* the empty line is past len */
    assert_true(header_section_end(m, 11, &end));
    assert_int_equal(end, 10);
    /* Resumed: the "\n\n" straddles what was searched and what was added. */
    assert_true(header_section_end_resume(m, strlen(m), 10, &end));
    assert_int_equal(end, 10);
    assert_false(header_section_end_resume("A: 1\nB", 6, 5, &end));
}

/* Iterate text; returns the fields as "name_len|value" lines joined in out. */
static void iterate(const char *text, char *out, size_t size, const char **stop)
{
    struct header_iter it;
    struct header_field f;
    size_t used = 0;
    out[0] = 0;
    header_iter_init(&it, text, strlen(text));
    while (header_iter_next(&it, &f)) {
        struct buf v = BUF_INIT;
        header_field_value(&f, &v);
        used += (size_t)snprintf(out + used, size - used, "%zu|%s;", f.name_len, buf_cstr(&v));
        buf_free(&v);
    }
    *stop = it.next;
}

static void test_iterate(void **state)
{
    char out[256];
    const char *stop;
    const char *folded = "Subject: one\n two\n\tthree\nTo: a@b\n\nbody: not a field\n";
    iterate(folded, out, sizeof out, &stop);
    assert_string_equal(out, "7| one two\tthree;2| a@b;");
    assert_string_equal(stop, "\nbody: not a field\n"); /* at the empty line */

    iterate("A: 1\nnot a field\nB: 2\n\n", out, sizeof out, &stop);
    assert_string_equal(out, "1| 1;0|not a field;1| 2;"); /* nameless, for the caller */

    iterate("A: 1\nB: 2\n", out, sizeof out, &stop); /* no body, no empty line */
    assert_string_equal(out, "1| 1;1| 2;");
    assert_string_equal(stop, "");

    iterate("A: 1\nB: 2", out, sizeof out, &stop); /* missing end: last line incomplete */
    assert_string_equal(out, "1| 1;");
    assert_string_equal(stop, "B: 2");

    iterate("A: 1\n cont\nB: 2\n half", out, sizeof out, &stop);
    assert_string_equal(out, "1| 1 cont;1| 2;"); /* an incomplete continuation is left out */

    iterate("\nbody\n", out, sizeof out, &stop);
    assert_string_equal(out, "");
}

struct collected {
    char text[512];
    size_t n;
};

static void collect(void *ctx, const struct header_field *f)
{
    struct collected *c = ctx;
    c->n++;
    snprintf(c->text + strlen(c->text), sizeof c->text - strlen(c->text), "[%zu%s:%.*s]",
             f->name_len, f->truncated ? "!" : "", (int)f->len, f->text);
}

/* Feed msg in chunks of step bytes; returns the header section's length. */
static size_t scan(const char *msg, size_t step, size_t max, struct collected *c, bool *done)
{
    struct header_scanner s;
    size_t len = strlen(msg), consumed = 0;
    memset(c, 0, sizeof *c);
    header_scanner_init(&s, max);
    for (size_t off = 0; off < len && !header_scanner_done(&s); off += step)
        consumed += header_scanner_feed(&s, msg + off, len - off < step ? len - off : step,
                                        collect, c);
    *done = header_scanner_done(&s);
    header_scanner_finish(&s, collect, c);
    header_scanner_free(&s);
    return consumed;
}

static void test_scanner(void **state)
{
    struct collected c, first;
    bool done;
    const char *msg = "Subject: one\n two\nTo: a@b\n\nBody: x\n";
    size_t n = scan(msg, strlen(msg), 4096, &first, &done);
    assert_true(done);
    assert_int_equal(n, 27); /* through the empty line */
    assert_string_equal(first.text, "[7:Subject: one\n two\n][2:To: a@b\n]");
    for (size_t step = 1; step < 8; step++) {
        scan(msg, step, 4096, &c, &done);
        assert_string_equal(c.text, first.text);
    }

    /* A line that is no header line ends the section and is body. */
    n = scan("A: 1\nnot a header\nB: 2\n", 3, 4096, &c, &done);
    assert_true(done);
    assert_int_equal(n, 18);
    assert_string_equal(c.text, "[1:A: 1\n]");

    /* A message without a body: the last field comes out at the end. */
    n = scan("A: 1\n folded\n", 5, 4096, &c, &done);
    assert_false(done);
    assert_int_equal(n, 13);
    assert_string_equal(c.text, "[1:A: 1\n folded\n]");

    /* An incomplete last line comes out truncated (whatever it holds is seen: a From
     * there must not escape a check); a leading continuation has no name. */
    scan(" orphan\nA: 1\nB: 2", 64, 4096, &c, &done);
    assert_string_equal(c.text, "[0: orphan\n][1:A: 1\n][1!:B: 2\n]");
    scan("A: 1\n two", 3, 4096, &c, &done);
    assert_string_equal(c.text, "[1!:A: 1\n two\n]");
}

static void test_scanner_bounds(void **state)
{
    struct collected c;
    bool done;
    /* max 8: a long line is cut to 7 bytes, a continuation that does not fit is left out;
     * both fields say so, the next one does not. */
    scan("Subj: abcdefgh\nX: 1\n 2\n 345678\nY: 1\n\n", 4, 8, &c, &done);
    assert_true(done);
    assert_string_equal(c.text, "[4!:Subj: a\n][1!:X: 1\n 2\n][1:Y: 1\n]");
    /* a cut line that starts a field marks that field, not the one before */
    scan("A: 1\nB: 234567890\n\n", 3, 8, &c, &done);
    assert_string_equal(c.text, "[1:A: 1\n][1!:B: 2345\n]");
}

UNIT_TEST_MAIN(cmocka_unit_test(test_names),
               cmocka_unit_test(test_section_end),
               cmocka_unit_test(test_iterate),
               cmocka_unit_test(test_scanner),
               cmocka_unit_test(test_scanner_bounds))
