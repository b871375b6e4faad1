/* fuzz_smtp_reply.c - libFuzzer target: the SMTP reply parser of lib/proto/smtp_reply.c fed
 * with a stream of server lines, as the SMTP client reads them (several pipelined replies in
 * a row). Invariants, besides never crashing or reading past a line:
 *  - the same result whether lines end in LF or CRLF, and whether each line sits in a buffer
 *    of exactly its length or inside the whole input;
 *  - every complete reply has a code 200..559, a status of its code's class (or none), at
 *    most SMTP_REPLY_LINES_MAX lines and text within its bound, free of control bytes;
 *  - a complete reply rebuilt from its result ("CODE-STATUS text" lines) parses to the same
 *    result;
 *  - read as an EHLO reply (lib/proto/smtp_ehlo), the host name is one word and the AUTH
 *    list and SIZE value come only with their keywords, all within bounds. */
#include "fuzz_common.h"
#include "buf.h"
#include "smtp_ehlo.h"
#include "smtp_reply.h"

/* How the lines of the input are handed to the parser. */
enum feed_mode { FEED_IN_PLACE, FEED_EXACT_COPY, FEED_CRLF };

static void check_reply(const struct smtp_reply *r)
{
    if (r->code < 200 || r->code > 559 || r->lines == 0 || r->lines > SMTP_REPLY_LINES_MAX)
        abort();
    if (r->text_len >= SMTP_REPLY_TEXT_MAX || strlen(r->text) != r->text_len)
        abort();
    if (r->status[0] && (smtp_status_parse(r->status, strlen(r->status)) != strlen(r->status) ||
                         r->status[0] != '0' + r->code / 100))
        abort();
    for (size_t i = 0; i < r->text_len; i++) {
        unsigned char c = (unsigned char)r->text[i];
        if ((c < 32 && c != '\t' && c != '\n') || c == 127)
            abort();
    }
    char out[128];
    smtp_reply_describe(r, out, sizeof out);
    if (strlen(out) >= sizeof out)
        abort();
    /* the same reply read as an EHLO answer (lib/proto/smtp_ehlo.h) */
    struct smtp_ehlo e;
    smtp_ehlo_parse(r, &e);
    if (strlen(e.auth) >= sizeof e.auth || strlen(e.host) >= sizeof e.host ||
        strpbrk(e.host, " \t\n") || (e.auth[0] && !(e.ext & SMTP_EXT_AUTH)) ||
        (e.size && !(e.ext & SMTP_EXT_SIZE)))
        abort();
}

/* Rebuild the reply as a server would send it and parse it again. */
static void check_roundtrip(const struct smtp_reply *r)
{
    if (r->truncated)
        return;
    struct smtp_reply again;
    const char *err;
    enum smtp_reply_step st = SMTP_REPLY_MORE;
    smtp_reply_init(&again);
    const char *p = r->text;
    for (unsigned i = 0; i < r->lines; i++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[SMTP_REPLY_LINE_MAX + SMTP_STATUS_MAX + 8];
        int n = snprintf(line, sizeof line, "%03d%c%s%s%.*s", r->code,
                         i + 1 == r->lines ? ' ' : '-', r->status, r->status[0] ? " " : "",
                         (int)len, p);
        if (n < 0 || (size_t)n > SMTP_REPLY_LINE_MAX)
            return; /* the added status would push the line over the bound */
        st = smtp_reply_feed(&again, line, (size_t)n, &err);
        if (st == SMTP_REPLY_ERROR)
            abort();
        p = nl ? nl + 1 : p + len;
    }
    if (st != SMTP_REPLY_DONE || again.code != r->code || strcmp(again.status, r->status) != 0 ||
        strcmp(again.text, r->text) != 0 || again.lines != r->lines)
        abort();
}

/* Parse every reply in data; append a summary of the results to out. */
static void parse_stream(const uint8_t *data, size_t size, enum feed_mode mode, struct buf *out)
{
    struct buf copy = BUF_INIT;
    if (mode == FEED_CRLF) { /* LF -> CRLF; the parser then gets the line without the CR */
        for (size_t i = 0; i < size; i++) {
            if (data[i] == '\n')
                buf_putc(&copy, '\r');
            buf_putc(&copy, (char)data[i]);
        }
        data = (const uint8_t *)copy.data;
        size = copy.len;
    }
    struct smtp_reply r;
    smtp_reply_init(&r);
    size_t start = 0;
    while (start < size) {
        const uint8_t *nl = memchr(data + start, '\n', size - start);
        size_t end = nl ? (size_t)(nl - data) : size;
        size_t len = end - start;
        if (mode == FEED_CRLF && nl && len > 0 && data[end - 1] == '\r')
            len--;
        const char *line = (const char *)data + start;
        char *exact = NULL;
        if (mode == FEED_EXACT_COPY) {
            exact = malloc(len ? len : 1); /* ASan catches a read past len */
            if (!exact)
                abort();
            memcpy(exact, line, len);
            line = exact;
        }
        const char *err = NULL;
        enum smtp_reply_step st = smtp_reply_feed(&r, line, len, &err);
        free(exact);
        if (st == SMTP_REPLY_ERROR) {
            if (!err)
                abort();
            buf_printf(out, "E:%s\n", err);
            break;
        }
        if (st == SMTP_REPLY_DONE) {
            check_reply(&r);
            check_roundtrip(&r);
            buf_printf(out, "R:%d:%s:%u:%d:%s\n", r.code, r.status, r.lines, r.truncated, r.text);
            smtp_reply_init(&r);
        }
        start = end + 1;
    }
    buf_free(&copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf a = BUF_INIT, b = BUF_INIT, c = BUF_INIT;
    parse_stream(data, size, FEED_IN_PLACE, &a);
    parse_stream(data, size, FEED_EXACT_COPY, &b);
    parse_stream(data, size, FEED_CRLF, &c);
    if (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0))
        abort();
    if (a.len != c.len || (a.len && memcmp(a.data, c.data, a.len) != 0))
        abort();
    buf_free(&a);
    buf_free(&b);
    buf_free(&c);
    return 0;
}
