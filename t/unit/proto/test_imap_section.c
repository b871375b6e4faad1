/* test_imap_section.c - tests of BODY[section]<partial>, BINARY[section] and BINARY.SIZE
 * (lib/proto/imap_struct.h): every section of a mixed message with an attached message
 * (RFC 3501 sec 6.4.5's numbering: HEADER, TEXT, MIME, part numbers, the parts of a
 * message/rfc822 part); HEADER.FIELDS and .NOT (case, folding, the empty line, a header
 * without one); the part 1 of a message that is not multipart; a top-level message/rfc822;
 * a multipart without parts; missing and invalid sections; the CRLF form (LF, CRLF, mixed,
 * bare CR, NUL as 0x80); every partial range, including ones that cut a CR LF made from a
 * bare LF; readers read in small slices and sought back and forth; BINARY decoding base64
 * and quoted-printable, unknown encodings, NUL, partials; and a 50 MB message. */
#include "unit_test.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "imap_struct.h"
#include "mem.h"

static const char mixed_msg[] =
    "From: a@x.test\n"
    "Subject: test\n"
    "  folded\n"
    "To: b@x.test\n"
    "Content-Type: multipart/mixed; boundary=b1\n"
    "\n"
    "preamble\n"
    "--b1\n"
    "Content-Type: text/plain\n"
    "\n"
    "first part\n"
    "--b1\n"
    "Content-Type: application/octet-stream\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "AAECAwRoZWxsbw==\n"
    "--b1\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: c@x.test\n"
    "Subject: inner\n"
    "Content-Type: multipart/alternative; boundary=b2\n"
    "\n"
    "--b2\n"
    "Content-Type: text/plain; charset=iso-8859-1\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "caf=E9 soft=\n"
    "break  \n"
    "--b2\n"
    "Content-Type: text/html\n"
    "\n"
    "<p>x</p>\n"
    "--b2--\n"
    "--b1--\n"
    "epilogue\n";

/* Parse a section spec like "3.1.MIME", "HEADER.FIELDS (A B)", "" for the tests. */
static void parse_spec(const char *spec, struct imap_section *s, uint32_t *parts,
                       const char **fields, char *names)
{
    memset(s, 0, sizeof *s);
    s->part = parts;
    s->fields = fields;
    while (*spec >= '0' && *spec <= '9') {
        parts[s->n_part++] = (uint32_t)strtoul(spec, (char **)&spec, 10);
        if (*spec == '.')
            spec++;
    }
    if (strncmp(spec, "HEADER.FIELDS.NOT", 17) == 0)
        s->kind = IMAP_SECTION_HEADER_FIELDS_NOT;
    else if (strncmp(spec, "HEADER.FIELDS", 13) == 0)
        s->kind = IMAP_SECTION_HEADER_FIELDS;
    else if (strncmp(spec, "HEADER", 6) == 0)
        s->kind = IMAP_SECTION_HEADER;
    else if (strncmp(spec, "TEXT", 4) == 0)
        s->kind = IMAP_SECTION_TEXT;
    else if (strncmp(spec, "MIME", 4) == 0)
        s->kind = IMAP_SECTION_MIME;
    const char *open = strchr(spec, '(');
    if (open) {
        strcpy(names, open + 1);
        for (char *tok = strtok(names, " )"); tok; tok = strtok(NULL, " )"))
            fields[s->n_fields++] = tok;
    }
}

static enum imap_section_status fetch(const char *msg, size_t len, const char *spec,
                                      enum imap_section_mode mode, uint64_t start,
                                      uint64_t n, struct buf *out, uint64_t *size)
{
    struct imap_section s;
    uint32_t parts[16];
    const char *fields[16];
    char names[256];
    parse_spec(spec, &s, parts, fields, names);
    struct imap_message *m = imap_message_new(msg, len);
    buf_reset(out);
    enum imap_section_status st = imap_section_fetch(m, &s, mode, start, n, out, size);
    buf_cstr(out);
    imap_message_free(m);
    return st;
}

/* BODY[spec] of msg must be want (want NULL: status st instead of OK). */
static void body_is(const char *msg, const char *spec, const char *want)
{
    struct buf out = BUF_INIT;
    uint64_t size = 0;
    enum imap_section_status st =
        fetch(msg, strlen(msg), spec, IMAP_SECTION_BODY, 0, UINT64_MAX, &out, &size);
    if (st != IMAP_SECTION_OK)
        fail_msg("BODY[%s]: status %d", spec, st);
    if (strcmp(out.data, want) != 0)
        fail_msg("BODY[%s]:\n got  \"%s\"\n want \"%s\"", spec, out.data, want);
    assert_int_equal(size, out.len);
    buf_free(&out);
}

static void status_is(const char *msg, const char *spec, enum imap_section_mode mode,
                      enum imap_section_status want)
{
    struct buf out = BUF_INIT;
    enum imap_section_status st =
        fetch(msg, strlen(msg), spec, mode, 0, UINT64_MAX, &out, NULL);
    if (st != want)
        fail_msg("[%s]: status %d, want %d", spec, st, want);
    buf_free(&out);
}

static void test_sections(void **state)
{
    const char *m = mixed_msg;
    body_is(m, "HEADER", "From: a@x.test\r\nSubject: test\r\n  folded\r\nTo: b@x.test\r\n"
                         "Content-Type: multipart/mixed; boundary=b1\r\n\r\n");
    body_is(m, "1", "first part");
    body_is(m, "1.MIME", "Content-Type: text/plain\r\n\r\n");
    body_is(m, "2", "AAECAwRoZWxsbw==");
    body_is(m, "2.MIME", "Content-Type: application/octet-stream\r\n"
                         "Content-Transfer-Encoding: base64\r\n\r\n");
    body_is(m, "3.MIME", "Content-Type: message/rfc822\r\n\r\n");
    body_is(m, "3.HEADER", "From: c@x.test\r\nSubject: inner\r\n"
                           "Content-Type: multipart/alternative; boundary=b2\r\n\r\n");
    body_is(m, "3.HEADER.FIELDS (SUBJECT)", "Subject: inner\r\n\r\n");
    body_is(m, "3.1", "caf=E9 soft=\r\nbreak  ");
    body_is(m, "3.1.MIME", "Content-Type: text/plain; charset=iso-8859-1\r\n"
                           "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    body_is(m, "3.2", "<p>x</p>");
    body_is(m, "3.TEXT", "--b2\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
                         "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                         "caf=E9 soft=\r\nbreak  \r\n--b2\r\nContent-Type: text/html\r\n\r\n"
                         "<p>x</p>\r\n--b2--");
    /* the part is the whole attached message; TEXT and HEADER make it up */
    struct buf whole = BUF_INIT, text = BUF_INIT, header = BUF_INIT;
    fetch(m, strlen(m), "3", IMAP_SECTION_BODY, 0, UINT64_MAX, &whole, NULL);
    fetch(m, strlen(m), "3.TEXT", IMAP_SECTION_BODY, 0, UINT64_MAX, &text, NULL);
    fetch(m, strlen(m), "3.HEADER", IMAP_SECTION_BODY, 0, UINT64_MAX, &header, NULL);
    buf_append(&header, text.data, text.len);
    assert_string_equal(whole.data, header.data);
    /* BODY[] is HEADER and TEXT, and RFC822.SIZE long */
    uint64_t size;
    fetch(m, strlen(m), "", IMAP_SECTION_BODY, 0, UINT64_MAX, &whole, &size);
    fetch(m, strlen(m), "TEXT", IMAP_SECTION_BODY, 0, UINT64_MAX, &text, NULL);
    fetch(m, strlen(m), "HEADER", IMAP_SECTION_BODY, 0, UINT64_MAX, &header, NULL);
    buf_append(&header, text.data, text.len);
    assert_string_equal(whole.data, header.data);
    struct imap_message *im = imap_message_new(m, strlen(m));
    assert_int_equal(imap_message_size(im), size);
    assert_int_equal(size, strlen(m) + 36);
    imap_message_free(im);
    buf_free(&whole);
    buf_free(&text);
    buf_free(&header);
}

static void test_header_fields(void **state)
{
    const char *m = mixed_msg;
    body_is(m, "HEADER.FIELDS (subject TO)", "Subject: test\r\n  folded\r\nTo: b@x.test\r\n\r\n");
    body_is(m, "HEADER.FIELDS (X-None)", "\r\n");
    body_is(m, "HEADER.FIELDS.NOT (From Content-Type)",
            "Subject: test\r\n  folded\r\nTo: b@x.test\r\n\r\n");
    /* all of each field, in message order, repeated fields too; CRLF kept */
    const char *h = "Received: a\r\nX: 1\r\nReceived: b\r\n c\r\nBad line\r\n\r\nbody";
    body_is(h, "HEADER.FIELDS (RECEIVED)", "Received: a\r\nReceived: b\r\n c\r\n\r\n");
    body_is(h, "HEADER.FIELDS.NOT (RECEIVED)", "X: 1\r\n\r\n");
    body_is(h, "HEADER", "Received: a\r\nX: 1\r\nReceived: b\r\n c\r\nBad line\r\n\r\n");
    /* no empty line: none added (RFC 3501: unless there is no body and no blank line) */
    body_is("Subject: only\nX: y", "HEADER.FIELDS (SUBJECT)", "Subject: only\r\n");
    body_is("Subject: only\nX: y", "HEADER", "Subject: only\r\nX: y");
    body_is("Subject: only\nX: y", "TEXT", "");
    body_is("Subject : obsolete\n\n", "HEADER.FIELDS (SUBJECT)", "Subject : obsolete\r\n\r\n");
    /* names that are prefixes of each other */
    const char *p = "X: 1\nX-A: 2\nReceived-SPF: 3\nReceived: 4\nXY: 5\n\n";
    body_is(p, "HEADER.FIELDS (x-a received xy)", "X-A: 2\r\nReceived: 4\r\nXY: 5\r\n\r\n");
    body_is(p, "HEADER.FIELDS.NOT (X RECEIVED-spf)", "X-A: 2\r\nReceived: 4\r\nXY: 5\r\n\r\n");
    body_is(p, "HEADER.FIELDS (RECEIVED-SPF-X RECEIVE X-)", "\r\n");
}

/* 5000 names against 5000 fields. */
static void test_many_fields(void **state)
{
    struct buf msg = BUF_INIT, want = BUF_INIT;
    char **names = calloc(5000, sizeof *names);
    for (int i = 0; i < 5000; i++) {
        buf_printf(&msg, "X-Field-%d: value %d\n", i, i);
        names[i] = xasprintf("x-field-%d", 4999 - i * 2);
    }
    buf_puts(&msg, "\nbody\n");
    for (int i = 1; i < 5000; i += 2)
        buf_printf(&want, "X-Field-%d: value %d\r\n", i, i);
    buf_puts(&want, "\r\n");
    struct imap_message *m = imap_message_new(msg.data, msg.len);
    struct imap_section s = { NULL, 0, IMAP_SECTION_HEADER_FIELDS, (const char *const *)names,
                              2500 };
    struct buf out = BUF_INIT;
    assert_int_equal(imap_section_fetch(m, &s, IMAP_SECTION_BODY, 0, UINT64_MAX, &out, NULL),
                     IMAP_SECTION_OK);
    assert_string_equal(out.data, want.data);
    imap_message_free(m);
    for (int i = 0; i < 5000; i++)
        free(names[i]);
    free(names);
    buf_free(&msg);
    buf_free(&want);
    buf_free(&out);
}

static void test_part_one(void **state)
{
    const char *m = "Subject: plain\n\nline 1\nline 2\n";
    body_is(m, "1", "line 1\r\nline 2\r\n");
    body_is(m, "TEXT", "line 1\r\nline 2\r\n");
    body_is(m, "1.MIME", "Subject: plain\r\n\r\n");
    status_is(m, "2", IMAP_SECTION_BODY, IMAP_SECTION_MISSING);
    status_is(m, "1.1", IMAP_SECTION_BODY, IMAP_SECTION_MISSING);
    status_is(m, "1.HEADER", IMAP_SECTION_BODY, IMAP_SECTION_INVALID);

    /* a message that is message/rfc822: part 1 is the attached message */
    const char *r = "Content-Type: message/rfc822\n\nSubject: in\n\nx\n";
    body_is(r, "1", "Subject: in\r\n\r\nx\r\n");
    body_is(r, "1.HEADER", "Subject: in\r\n\r\n");
    body_is(r, "1.TEXT", "x\r\n");
    body_is(r, "1.1", "x\r\n");
    body_is(r, "1.1.MIME", "Subject: in\r\n\r\n");
    status_is(r, "1.2", IMAP_SECTION_BODY, IMAP_SECTION_MISSING);

    /* a multipart without parts has an empty part 1 (as BODYSTRUCTURE shows it) */
    const char *e = "Content-Type: multipart/mixed\n\njunk\n";
    body_is(e, "1", "");
    body_is(e, "1.MIME", "");
    status_is(e, "2", IMAP_SECTION_BODY, IMAP_SECTION_MISSING);
    status_is(e, "1.1", IMAP_SECTION_BODY, IMAP_SECTION_MISSING);
    status_is(e, "1.TEXT", IMAP_SECTION_BODY, IMAP_SECTION_INVALID);
}

static void test_missing_and_invalid(void **state)
{
    const char *m = mixed_msg;
    status_is(m, "4", IMAP_SECTION_BODY, IMAP_SECTION_MISSING);
    status_is(m, "1.1", IMAP_SECTION_BODY, IMAP_SECTION_MISSING);
    status_is(m, "3.3", IMAP_SECTION_BODY, IMAP_SECTION_MISSING);
    status_is(m, "3.1.1", IMAP_SECTION_BODY, IMAP_SECTION_MISSING);
    status_is(m, "0", IMAP_SECTION_BODY, IMAP_SECTION_INVALID);
    status_is(m, "3.0", IMAP_SECTION_BODY, IMAP_SECTION_INVALID);
    status_is(m, "MIME", IMAP_SECTION_BODY, IMAP_SECTION_INVALID);
    status_is(m, "1.HEADER", IMAP_SECTION_BODY, IMAP_SECTION_INVALID);
    status_is(m, "1.TEXT", IMAP_SECTION_BODY, IMAP_SECTION_INVALID);
    status_is(m, "HEADER", IMAP_SECTION_BINARY, IMAP_SECTION_INVALID);
    status_is(m, "1.MIME", IMAP_SECTION_BINARY, IMAP_SECTION_INVALID);
    status_is(m, "4", IMAP_SECTION_BINARY, IMAP_SECTION_MISSING);
    /* a message/rfc822 part mime.h did not parse has no HEADER */
    const char *enc = "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nAA==\n";
    status_is(enc, "1.HEADER", IMAP_SECTION_BODY, IMAP_SECTION_MISSING);
    body_is(enc, "1", "AA==\r\n");
}

static void test_crlf_form(void **state)
{
    body_is("A: b\r\n\r\nx\r\ny\n", "", "A: b\r\n\r\nx\r\ny\r\n");
    body_is("A: b\n\nbare\rcr\r\r\n", "TEXT", "bare\rcr\r\r\n");
    body_is("\n\n", "", "\r\n\r\n");
    static const char nul[] = "A: b\n\nx\0y\n";
    struct buf out = BUF_INIT;
    uint64_t size;
    assert_int_equal(fetch(nul, sizeof nul - 1, "TEXT", IMAP_SECTION_BODY, 0, UINT64_MAX, &out,
                           &size), IMAP_SECTION_OK);
    assert_int_equal(size, 5);
    assert_memory_equal(out.data, "x\x80y\r\n", 5);
    buf_free(&out);
}

/* Every <start.len> of every section equals the substring of the whole. */
static void check_partials(const char *msg, size_t len, const char *spec,
                           enum imap_section_mode mode)
{
    struct buf whole = BUF_INIT, part = BUF_INIT;
    uint64_t size;
    assert_int_equal(fetch(msg, len, spec, mode, 0, UINT64_MAX, &whole, &size), 0);
    for (uint64_t start = 0; start <= size + 1; start++) {
        for (uint64_t n = 0; n <= size - (start < size ? start : size) + 1; n++) {
            fetch(msg, len, spec, mode, start, n, &part, NULL);
            uint64_t s = start < size ? start : size;
            uint64_t want = n < size - s ? n : size - s;
            if (part.len != want || memcmp(part.data, whole.data + s, want) != 0)
                fail_msg("[%s]<%llu.%llu>", spec, (unsigned long long)start,
                         (unsigned long long)n);
        }
    }
    buf_free(&whole);
    buf_free(&part);
}

static void test_partials(void **state)
{
    const char *m = "A: b\n\nx\ny\r\n\nz";
    check_partials(m, strlen(m), "", IMAP_SECTION_BODY);
    check_partials(m, strlen(m), "TEXT", IMAP_SECTION_BODY);
    check_partials(m, strlen(m), "HEADER.FIELDS (A)", IMAP_SECTION_BODY);
    const char *q = "Content-Transfer-Encoding: quoted-printable\n\na=3D\nb=\nc \n";
    check_partials(q, strlen(q), "1", IMAP_SECTION_BINARY);
    check_partials(mixed_msg, strlen(mixed_msg), "3.1", IMAP_SECTION_BODY);
    check_partials(mixed_msg, strlen(mixed_msg), "2", IMAP_SECTION_BINARY);
}

/* A reader read in slices of every size, and sought forwards and backwards. */
static void test_reader(void **state)
{
    struct imap_message *m = imap_message_new(mixed_msg, strlen(mixed_msg));
    struct imap_section s = { NULL, 0, IMAP_SECTION_ALL, NULL, 0 };
    struct buf whole = BUF_INIT, out = BUF_INIT;
    imap_section_fetch(m, &s, IMAP_SECTION_BODY, 0, UINT64_MAX, &whole, NULL);
    for (size_t slice = 1; slice < 40; slice++) {
        struct imap_section_reader *r;
        assert_int_equal(imap_section_open(m, &s, IMAP_SECTION_BODY, &r), IMAP_SECTION_OK);
        buf_reset(&out);
        while (imap_section_read(r, slice, &out) > 0)
            ;
        assert_int_equal(out.len, whole.len);
        assert_memory_equal(out.data, whole.data, whole.len);
        assert_int_equal(imap_section_read(r, slice, &out), 0);
        /* back to 1, then forward to 100, past the end */
        imap_section_seek(r, 100);
        buf_reset(&out);
        imap_section_read(r, slice, &out);
        assert_memory_equal(out.data, whole.data + 100, out.len);
        imap_section_seek(r, 1);
        buf_reset(&out);
        imap_section_read(r, slice, &out);
        assert_memory_equal(out.data, whole.data + 1, out.len);
        imap_section_seek(r, whole.len + 10);
        assert_int_equal(imap_section_read(r, slice, &out), 0);
        imap_section_close(r);
    }
    imap_message_free(m);
    buf_free(&whole);
    buf_free(&out);
}

static void binary_is(const char *msg, size_t len, const char *spec, const char *want,
                      size_t wantlen, bool nul)
{
    struct imap_message *m = imap_message_new(msg, len);
    struct imap_section s;
    uint32_t parts[16];
    const char *fields[16];
    char names[256];
    parse_spec(spec, &s, parts, fields, names);
    struct imap_section_reader *r;
    assert_int_equal(imap_section_open(m, &s, IMAP_SECTION_BINARY, &r), IMAP_SECTION_OK);
    assert_int_equal(imap_section_size(r), wantlen);
    assert_int_equal(imap_section_has_nul(r), nul);
    struct buf out = BUF_INIT;
    while (imap_section_read(r, 3, &out) > 0)
        ;
    if (out.len != wantlen || memcmp(out.data, want, wantlen) != 0)
        fail_msg("BINARY[%s]: \"%.*s\"", spec, (int)out.len, out.data);
    imap_section_close(r);
    imap_message_free(m);
    buf_free(&out);
}

static void test_binary(void **state)
{
    const char *m = mixed_msg;
    binary_is(m, strlen(m), "2", "\x00\x01\x02\x03\x04hello", 10, true);
    binary_is(m, strlen(m), "3.1", "caf\xe9 softbreak", 14, false);
    binary_is(m, strlen(m), "1", "first part", 10, false);
    binary_is(m, strlen(m), "3.2", "<p>x</p>", 8, false);
    /* BINARY[] is the whole message, nothing decoded */
    struct buf whole = BUF_INIT;
    fetch(m, strlen(m), "", IMAP_SECTION_BODY, 0, UINT64_MAX, &whole, NULL);
    binary_is(m, strlen(m), "", whole.data, whole.len, false);
    buf_free(&whole);
    /* quoted-printable: hard line ends in CRLF form, trailing white space gone */
    const char *q = "Content-Transfer-Encoding: Quoted-Printable\n\nl1  \nl2=\n+l3=0D=0A\n";
    binary_is(q, strlen(q), "1", "l1\r\nl2+l3\r\n\r\n", 13, false);
    /* identity encodings keep NUL, reported for literal8 */
    static const char raw[] = "Content-Transfer-Encoding: binary\n\na\0b";
    binary_is(raw, sizeof raw - 1, "1", "a\0b", 3, true);
    status_is("Content-Transfer-Encoding: x-uuencode\n\nbegin\n", "1", IMAP_SECTION_BINARY,
              IMAP_SECTION_UNKNOWN_CTE);
    status_is("Content-Transfer-Encoding: x-uuencode\n\nbegin\n", "1", IMAP_SECTION_BODY,
              IMAP_SECTION_OK);
    binary_is("Content-Type: multipart/mixed\n\nx", 32, "1", "", 0, false);
}

/* 50 MB: RFC822.SIZE, a partial near the end without reading what comes before, and the
 * whole read in slices, all in linear time. */
static void test_large(void **state)
{
    struct buf msg = BUF_INIT;
    buf_puts(&msg, "Subject: big\n\n");
    while (msg.len < 50u << 20)
        buf_puts(&msg, "a line of text that is 40 bytes long...\n");
    buf_puts(&msg, "THE END\n");
    clock_t t0 = clock();
    struct imap_message *m = imap_message_new(msg.data, msg.len);
    size_t lfs = 0;
    for (size_t i = 0; i < msg.len; i++)
        lfs += msg.data[i] == '\n';
    uint64_t size = imap_message_size(m);
    assert_int_equal(size, msg.len + lfs);
    struct imap_section s = { NULL, 0, IMAP_SECTION_TEXT, NULL, 0 };
    struct buf out = BUF_INIT;
    uint64_t text_size;
    for (int i = 0; i < 1000; i++) {
        buf_reset(&out);
        imap_section_fetch(m, &s, IMAP_SECTION_BODY, size - 16 - 9, 8, &out, &text_size);
    }
    assert_string_equal(out.data, "THE END\r");
    struct imap_section_reader *r;
    assert_int_equal(imap_section_open(m, &s, IMAP_SECTION_BODY, &r), IMAP_SECTION_OK);
    uint64_t total = 0;
    size_t n;
    while ((buf_reset(&out), n = imap_section_read(r, 65536, &out)) > 0)
        total += n;
    assert_int_equal(total, text_size);
    imap_section_close(r);
    imap_message_free(m);
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 20.0); /* quadratic: hours */
    buf_free(&out);
    buf_free(&msg);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_sections),
               cmocka_unit_test(test_header_fields),
               cmocka_unit_test(test_many_fields),
               cmocka_unit_test(test_part_one),
               cmocka_unit_test(test_missing_and_invalid),
               cmocka_unit_test(test_crlf_form),
               cmocka_unit_test(test_partials),
               cmocka_unit_test(test_reader),
               cmocka_unit_test(test_binary),
               cmocka_unit_test(test_large))
