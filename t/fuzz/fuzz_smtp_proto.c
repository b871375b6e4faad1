/* fuzz_smtp_proto.c - libFuzzer target: the SMTP command, path and parameter parsers of
 * lib/proto/smtp_proto.c and the xtext/UTF-8 checks they use, with invariants on what they accept (valid UTF-8, no control bytes,
 * ASCII unless flagged, source routes never left in the address, bounds respected). */
#include "fuzz_common.h"
#include "smtp_proto.h"
#include "utf8.h"
#include "xtext.h"

/* What decodes re-encodes as valid xtext that decodes to the same; valid xtext without
 * "+00" always decodes. */
static void check_xtext(const char *s, size_t size)
{
    char *dec = strlen(s) == size ? xtext_decode(s) : NULL;
    if (dec) {
        char *enc = xtext_encode(dec), *back = xtext_decode(enc);
        if (!back || strcmp(back, dec) != 0 || !xtext_valid(enc, strlen(enc)))
            abort();
        free(enc);
        free(back);
    } else if (strlen(s) == size && xtext_valid(s, size) && !strstr(s, "+00")) {
        abort();
    }
    free(dec);
}

static void check_path(const struct smtp_path *p)
{
    size_t n = strlen(p->addr);
    if (n >= SMTP_ADDR_MAX || !utf8_valid(p->addr, n))
        abort();
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p->addr[i];
        if (c < 32 || c == 127 || (c >= 0x80 && !p->utf8))
            abort();
    }
    if (p->null != (n == 0))
        abort();
    if (p->domain[0] && (p->domain[0] == '@' || (strchr(p->domain, ':') && p->domain[0] != '[')))
        abort(); /* a route must never survive in the domain */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    const char *args;
    (void)smtp_parse_command(s, &args);
    struct smtp_error e;
    struct smtp_mail m;
    if (smtp_parse_mail(s, &m, &e)) {
        check_path(&m.from);
        if (m.from.utf8 && !m.smtputf8)
            abort();
        if (!xtext_valid(m.envid, strlen(m.envid)))
            abort();
    } else if (e.code < 500 || e.code > 555 || !e.text) {
        abort();
    }
    struct smtp_rcpt r;
    if (smtp_parse_rcpt(s, size & 1, &r, &e)) {
        check_path(&r.to);
        if (r.to.null || (r.notify & SMTP_NOTIFY_NEVER && r.notify != SMTP_NOTIFY_NEVER))
            abort();
    }
    const char *p = s;
    struct smtp_path path;
    if (smtp_parse_path(&p, &path, &e)) {
        check_path(&path);
        if (p < s || p > s + size)
            abort();
    }
    unsigned long long n;
    bool last;
    (void)smtp_parse_bdat(s, &n, &last);
    (void)smtp_helo_valid(s);
    check_xtext(s, size);
    (void)utf8_valid(s, size);
    free(s);
    return 0;
}
