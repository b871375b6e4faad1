/* base_subject.c - RFC 5256 sec 2.1 base subject extraction (see base_subject.h). The
 * ABNF of sec 5 the steps refer to:
 *   subj-refwd   = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
 *   subj-blob    = "[" *BLOBCHAR "]" *WSP        (BLOBCHAR: anything but "[" and "]")
 *   subj-leader  = (*subj-blob subj-refwd) / WSP
 *   subj-trailer = "(fwd)" / WSP
 *   subj-fwd-hdr = "[fwd:"   subj-fwd-trl = "]" */
#include "base_subject.h"
#include "header_span.h"
#include "rfc2047.h"
#include <string.h>
#include <strings.h>

struct text {
    const char *p;
    size_t b, e; /* the text left is p[b..e) */
    bool reply;
};

static bool starts_ci(const struct text *t, size_t at, const char *word)
{
    size_t n = strlen(word);
    return t->e - at >= n && strncasecmp(t->p + at, word, n) == 0;
}

/* A subj-blob at *at: move *at past it (and its white space). */
static bool blob_at(const struct text *t, size_t *at)
{
    size_t i = *at;
    if (i >= t->e || t->p[i] != '[')
        return false;
    for (i++; i < t->e && t->p[i] != ']' && t->p[i] != '['; i++)
        ;
    if (i >= t->e || t->p[i] != ']')
        return false;
    for (i++; i < t->e && t->p[i] == ' '; i++)
        ;
    *at = i;
    return true;
}

/* A subj-refwd at *at: move *at past its colon. */
static bool refwd_at(const struct text *t, size_t *at)
{
    size_t i = *at;
    if (starts_ci(t, i, "re"))
        i += 2;
    else if (starts_ci(t, i, "fwd"))
        i += 3;
    else if (starts_ci(t, i, "fw"))
        i += 2;
    else
        return false;
    while (i < t->e && t->p[i] == ' ')
        i++;
    blob_at(t, &i);
    if (i >= t->e || t->p[i] != ':')
        return false;
    *at = i + 1;
    return true;
}

/* Step 2: trailing "(fwd)" and white space. */
static void strip_trailers(struct text *t)
{
    for (;;) {
        if (t->e > t->b && t->p[t->e - 1] == ' ')
            t->e--;
        else if (t->e - t->b >= 5 && strncasecmp(t->p + t->e - 5, "(fwd)", 5) == 0) {
            t->e -= 5;
            t->reply = true;
        } else
            return;
    }
}

/* Step 3: every leading subj-leader; true when one was removed. */
static bool strip_leaders(struct text *t)
{
    bool any = false;
    for (;;) {
        if (t->b < t->e && t->p[t->b] == ' ') {
            t->b++;
            any = true;
            continue;
        }
        size_t i = t->b;
        while (blob_at(t, &i))
            ;
        if (!refwd_at(t, &i))
            return any;
        t->b = i;
        t->reply = any = true;
    }
}

/* Step 4: a leading subj-blob, when text is left after it. */
static bool strip_blob(struct text *t)
{
    size_t i = t->b;
    if (!blob_at(t, &i) || i >= t->e)
        return false;
    t->b = i;
    return true;
}

/* Step 6: "[fwd:" ... "]" around the whole text. */
static bool strip_fwd(struct text *t)
{
    if (t->e - t->b < 6 || !starts_ci(t, t->b, "[fwd:") || t->p[t->e - 1] != ']')
        return false;
    t->b += 5;
    t->e -= 1;
    t->reply = true;
    return true;
}

/* Step 1: RFC 2047 words decoded, then each run of white space (tabs, line ends of
 * continuation lines, several spaces) made one space. */
static void normalise(const char *value, size_t len, struct buf *out)
{
    struct buf unfolded = BUF_INIT, decoded = BUF_INIT;
    header_unfold(value, len, &unfolded);
    rfc2047_decode(unfolded.data ? unfolded.data : "", unfolded.len, &decoded);
    bool space = false;
    for (size_t i = 0; i < decoded.len; i++) {
        char c = decoded.data[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = true;
            continue;
        }
        if (space)
            buf_putc(out, ' ');
        space = false;
        buf_putc(out, c);
    }
    if (space)
        buf_putc(out, ' ');
    buf_free(&unfolded);
    buf_free(&decoded);
}

bool mail_base_subject(const char *value, size_t len, struct buf *out)
{
    struct buf norm = BUF_INIT;
    normalise(value, len, &norm);
    struct text t = {.p = norm.data ? norm.data : "", .b = 0, .e = norm.len};
    do {
        strip_trailers(&t);
        bool found;
        do { /* step 5: steps 3 and 4 until neither matches */
            found = strip_leaders(&t);
            found |= strip_blob(&t);
        } while (found);
    } while (strip_fwd(&t));
    buf_append(out, t.p + t.b, t.e - t.b);
    buf_free(&norm);
    return t.reply;
}
