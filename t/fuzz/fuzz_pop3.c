/* fuzz_pop3.c - libFuzzer target: the POP3 command parser, the SASL decoders a login
 * process feeds with client data (base64, PLAIN), login name normalisation, and the
 * RETR/TOP output filter. Input: the first line is parsed as a command (and its arguments
 * decoded as SASL responses); the whole input is run through the filter as a message, in
 * chunks whose size comes from the first byte, with a TOP line count from the second. */
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

static void fuzz_filter(const uint8_t *data, size_t size)
{
    size_t step = size > 0 ? (size_t)data[0] % 64 + 1 : 1;
    long long top = size > 1 ? (long long)data[1] % 8 - 1 : -1;
    struct pop3_filter f;
    struct buf out = BUF_INIT;
    pop3_filter_init(&f, top);
    for (size_t off = 0; off < size && !pop3_filter_done(&f); off += step)
        pop3_filter_chunk(&f, (const char *)data + off, size - off < step ? size - off : step, &out);
    pop3_filter_end(&f, &out);
    /* Every line ends in CRLF and the body ends with the terminator. */
    if (out.len < 3 || memcmp(out.data + out.len - 3, ".\r\n", 3) != 0)
        abort();
    for (size_t i = 0; i < out.len; i++)
        if (out.data[i] == '\n' && (i == 0 || out.data[i - 1] != '\r'))
            abort();
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_dir(); /* quiet logging */
    fuzz_command(data, size);
    fuzz_filter(data, size);
    return 0;
}
