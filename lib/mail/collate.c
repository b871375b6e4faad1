/* collate.c - sort keys for IMAP SORT and THREAD (see collate.h). */
#include "collate.h"
#include "text_match.h"
#include "utf8.h"
#include <string.h>

void mail_collate_key(const char *s, size_t len, size_t max, struct buf *out)
{
    struct buf folded = BUF_INIT;
    text_fold(s, len, &folded);
    size_t start = out->len;
    const unsigned char *p = (const unsigned char *)(folded.data ? folded.data : "");
    for (size_t i = 0; i < folded.len;) {
        size_t n = p[i] < 0x80 ? 1 : utf8_sequence_length(p + i, folded.len - i);
        if (n == 0)
            n = 1;
        if (max && out->len - start + n > max)
            break;
        if (n == 1 && p[i] != 0)
            buf_putc(out, (char)(p[i] >= 'a' && p[i] <= 'z' ? p[i] - 32 : p[i]));
        else if (n > 1)
            buf_append(out, p + i, n);
        i += n;
    }
    buf_cstr(out);
    buf_free(&folded);
}

int mail_collate_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}
