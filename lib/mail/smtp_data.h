/* smtp_data.h - the DATA content decoder (RFC 5321 sec 4.1.1.4, 4.5.2), as a pure streaming
 * state machine so smtpd and the fuzzer share it.
 *
 * The only end of data is <CRLF>.<CRLF>: a line that is exactly "." ending in CRLF, after a
 * line that also ended in CRLF. Bare LF handling (smtpd_forbid_bare_newline):
 *   SMTP_LF_NORMALIZE: a bare LF ends a line (emitted as a line end), but a line ending in a
 *                      bare LF can be neither the "." line nor the line before it;
 *   SMTP_LF_REJECT:    a bare LF anywhere stops decoding with SMTP_DATA_BARE_LF;
 *   SMTP_LF_ALLOW:     a bare LF is a byte of the line; no dot handling after it.
 * Bare CR bytes are data. Output has LF line ends and is dot-unstuffed. The result does not
 * depend on how the input is split into chunks (the fuzzer checks this). */
#ifndef POSTHORN_SMTP_DATA_H
#define POSTHORN_SMTP_DATA_H
#include <stdbool.h>
#include <stddef.h>

enum smtp_bare_lf { SMTP_LF_NORMALIZE, SMTP_LF_REJECT, SMTP_LF_ALLOW };

enum smtp_data_status {
    SMTP_DATA_MORE,   /* all usable input consumed; more is needed */
    SMTP_DATA_END,    /* the end-of-data line was consumed */
    SMTP_DATA_BARE_LF /* SMTP_LF_REJECT and a bare LF was seen */
};

struct smtp_data {
    enum smtp_bare_lf mode;
    bool line_start; /* at the start of a line */
    bool prev_crlf;  /* the previous line ended in CRLF */
};

typedef void (*smtp_data_emit)(void *ctx, const char *data, size_t len);

/* Start decoding; prev_crlf tells whether the DATA command line ended in CRLF. */
void smtp_data_init(struct smtp_data *d, enum smtp_bare_lf mode, bool prev_crlf);
/* Decode from p[0..len). *used is set to the bytes consumed; unconsumed bytes (a partial
 * "." line or a trailing CR) must be offered again with more input. eof: no more input will
 * come (the connection closed). */
enum smtp_data_status smtp_data_decode(struct smtp_data *d, const char *p, size_t len, bool eof,
                                       size_t *used, smtp_data_emit emit, void *ctx);

#endif
