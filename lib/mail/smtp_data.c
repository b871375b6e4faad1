/* smtp_data.c - DATA content decoder (see smtp_data.h). */
#include "smtp_data.h"
#include <string.h>

void smtp_data_init(struct smtp_data *d, enum smtp_bare_lf mode, bool prev_crlf)
{
    d->mode = mode;
    d->line_start = true;
    d->prev_crlf = prev_crlf;
}

/* At the start of a line beginning with '.': 1 end of data, 0 undecided (more input
 * needed), -1 an ordinary dot-stuffed line. */
static int dot_line(const struct smtp_data *d, const char *q, size_t n, bool eof)
{
    if (!eof && (n == 1 || (n == 2 && q[1] == '\r')))
        return 0;
    if (n >= 3 && q[1] == '\r' && q[2] == '\n' && d->prev_crlf)
        return 1;
    return -1;
}

enum smtp_data_status smtp_data_decode(struct smtp_data *d, const char *p, size_t len, bool eof,
                                       size_t *used_out, smtp_data_emit emit, void *ctx)
{
    size_t used = 0;
    enum smtp_data_status st = SMTP_DATA_MORE;
    while (used < len) {
        const char *q = p + used;
        size_t n = len - used;
        if (d->line_start && q[0] == '.') {
            int dl = dot_line(d, q, n, eof);
            if (dl == 0)
                break;
            used += dl == 1 ? 3 : 1; /* the end, or remove the stuffed dot */
            d->line_start = false;
            if (dl == 1) {
                st = SMTP_DATA_END;
                break;
            }
            continue;
        }
        d->line_start = false;
        const char *nl = memchr(q, '\n', n);
        if (!nl) {
            size_t take = (q[n - 1] == '\r' && !eof) ? n - 1 : n; /* CR may start a CRLF */
            if (take == 0)
                break;
            emit(ctx, q, take);
            used += take;
            continue;
        }
        size_t k = (size_t)(nl - q);
        bool crlf = k > 0 && q[k - 1] == '\r';
        if (!crlf && d->mode == SMTP_LF_REJECT) {
            used += k + 1;
            st = SMTP_DATA_BARE_LF;
            break;
        }
        used += k + 1;
        if (!crlf && d->mode == SMTP_LF_ALLOW) {
            emit(ctx, q, k + 1);
            continue;
        }
        emit(ctx, q, crlf ? k - 1 : k);
        emit(ctx, "\n", 1);
        d->line_start = true;
        d->prev_crlf = crlf;
    }
    *used_out = used;
    return st;
}
