/* fuzz_pop3.c - libFuzzer target: the POP3 command parser, the SASL decoders a login
 * process feeds with client data (base64, PLAIN), login name normalisation, and the
 * RETR/TOP output filter. Input: the first line is parsed as a command (and its arguments
 * decoded as SASL responses); the whole input is run through the filter as a message, in
 * chunks whose size comes from the first byte, with a TOP line count from the second, and
 * once more as RETR. Invariants: every line ends in CRLF; the body ends with the terminator;
 * a RETR body holds no CRLF.CRLF before its end and un-stuffing it gives back the input
 * (with LF line ends); a TOP body is a prefix of the RETR body, cut at a line end. */
#include "fuzz_common.h"
#include "auth_check.h"
#include "pop3_proto.h"
#include "sasl.h"

static void fuzz_command(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t len = nl ? (size_t)(nl - data) : size;
    char *line = malloc(len + 1);
    memcpy(line, data, len);
    struct pop3_command c;
    const char *err;
    if (pop3_parse(line, len, &c, &err) == POP3_PARSE_OK) {
        const char *args[2] = {c.arg, c.arg2};
        for (int i = 0; i < 2; i++) {
            if (!args[i])
                continue;
            struct buf b = BUF_INIT;
            if (base64_decode(args[i], strlen(args[i]), &b)) {
                struct sasl_creds cr = {0};
                if (sasl_plain_parse(b.data ? b.data : "", b.len, &cr))
                    free(auth_user_name(cr.authcid, "example.test"));
                sasl_creds_free(&cr);
            }
            buf_free(&b);
            free(auth_user_name(args[i], ""));
        }
    }
    free(line);
}

static void filter(const uint8_t *data, size_t size, size_t step, long long top, struct buf *out)
{
    struct pop3_filter f;
    pop3_filter_init(&f, top);
    for (size_t off = 0; off < size && !pop3_filter_done(&f); off += step)
        pop3_filter_chunk(&f, (const char *)data + off, size - off < step ? size - off : step, out);
    pop3_filter_end(&f, out);
    /* Every line ends in CRLF and the body ends with the terminator. */
    if (out->len < 3 || memcmp(out->data + out->len - 3, ".\r\n", 3) != 0)
        abort();
    if (out->len > 3 && memcmp(out->data + out->len - 5, "\r\n", 2) != 0)
        abort();
    for (size_t i = 0; i < out->len; i++)
        if (out->data[i] == '\n' && (i == 0 || out->data[i - 1] != '\r'))
            abort();
}

/* The client's side, written independently of lib/mail: split at CRLF, stop at the line
 * ".", drop one leading '.' of every other line, join with LF. */
static void unstuff(const struct buf *wire, struct buf *text)
{
    size_t pos = 0;
    for (;;) {
        const char *end = memmem(wire->data + pos, wire->len - pos, "\r\n", 2);
        if (!end)
            abort();
        size_t len = (size_t)(end - (wire->data + pos));
        const char *line = wire->data + pos;
        pos += len + 2;
        if (len == 1 && line[0] == '.') {
            if (pos != wire->len) /* CRLF.CRLF before the end */
                abort();
            return;
        }
        if (len > 0 && line[0] == '.')
            line++, len--;
        buf_append(text, line, len);
        buf_putc(text, '\n');
    }
}

/* What the mailbox file means: CR LF is one line end, and the last line gets one. */
static void expected_text(const uint8_t *data, size_t size, struct buf *want)
{
    for (size_t i = 0; i < size; i++)
        if (!(data[i] == '\r' && i + 1 < size && data[i + 1] == '\n'))
            buf_putc(want, (char)data[i]);
    if (want->len && want->data[want->len - 1] != '\n')
        buf_putc(want, '\n');
}

static void fuzz_filter(const uint8_t *data, size_t size)
{
    size_t step = size > 0 ? (size_t)data[0] % 64 + 1 : 1;
    long long top = size > 1 ? (long long)data[1] % 8 - 1 : -1;
    struct buf retr = BUF_INIT, part = BUF_INIT, text = BUF_INIT, want = BUF_INIT;
    filter(data, size, step, -1, &retr);
    unstuff(&retr, &text);
    expected_text(data, size, &want);
    if (text.len != want.len || (want.len && memcmp(text.data, want.data, want.len) != 0))
        abort();
    filter(data, size, step, top, &part);
    /* TOP: a prefix of the RETR body that ends at a line end (before the terminators). */
    size_t plen = part.len - 3, rlen = retr.len - 3;
    if (plen > rlen || (plen && memcmp(part.data, retr.data, plen) != 0))
        abort();
    if (top < 0 && plen != rlen)
        abort();
    buf_free(&retr), buf_free(&part), buf_free(&text), buf_free(&want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_dir(); /* quiet logging */
    fuzz_command(data, size);
    fuzz_filter(data, size);
    return 0;
}
