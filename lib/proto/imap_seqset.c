/* imap_seqset.c - resolved sequence sets as values (imap_parse.h): building one range by
 * range, intersection, difference, counting and writing. imapd's QRESYNC answers use them
 * (VANISHED (EARLIER) = the expunge log and the client's UID set; the fallback = the client's
 * UIDs minus those in the mailbox, RFC 7162 sec 3.2.5.2), always as ranges, so a set like
 * 1:4294967295 costs one range, never four billion numbers. */
#include "imap_parse.h"
#include "mem.h"

void imap_seqset_add(struct imap_seqset *set, uint32_t lo, uint32_t hi)
{
    if (set->n > 0) {
        struct imap_range *last = &set->r[set->n - 1];
        if (lo <= last->hi || (last->hi != UINT32_MAX && lo == last->hi + 1)) {
            if (hi > last->hi)
                last->hi = hi;
            return;
        }
    }
    /* grow by doubling: n is a power of two exactly when the array is full */
    if (set->n == 0 || (set->n & (set->n - 1)) == 0)
        set->r = xreallocarray(set->r, set->n ? set->n * 2 : 1, sizeof *set->r);
    set->r[set->n++] = (struct imap_range){lo, hi};
}

void imap_seqset_intersect(const struct imap_seqset *a, const struct imap_seqset *b,
                           struct imap_seqset *out)
{
    size_t i = 0, j = 0;
    while (i < a->n && j < b->n) {
        uint32_t lo = a->r[i].lo > b->r[j].lo ? a->r[i].lo : b->r[j].lo;
        uint32_t hi = a->r[i].hi < b->r[j].hi ? a->r[i].hi : b->r[j].hi;
        if (lo <= hi)
            imap_seqset_add(out, lo, hi);
        if (a->r[i].hi < b->r[j].hi)
            i++;
        else
            j++;
    }
}

void imap_seqset_subtract(const struct imap_seqset *a, const struct imap_seqset *b,
                          struct imap_seqset *out)
{
    size_t j = 0;
    for (size_t i = 0; i < a->n; i++) {
        uint64_t lo = a->r[i].lo; /* 64 bits: hi + 1 of UINT32_MAX must not wrap */
        uint64_t hi = a->r[i].hi;
        while (j < b->n && b->r[j].hi < lo)
            j++;
        for (size_t k = j; k < b->n && b->r[k].lo <= hi && lo <= hi; k++) {
            if (b->r[k].lo > lo)
                imap_seqset_add(out, (uint32_t)lo, b->r[k].lo - 1);
            lo = (uint64_t)b->r[k].hi + 1;
        }
        if (lo <= hi)
            imap_seqset_add(out, (uint32_t)lo, (uint32_t)hi);
    }
}

uint64_t imap_seqset_count(const struct imap_seqset *set)
{
    uint64_t n = 0;
    for (size_t i = 0; i < set->n; i++)
        n += (uint64_t)set->r[i].hi - set->r[i].lo + 1;
    return n;
}

void imap_seqset_write_set(struct buf *out, const struct imap_seqset *set)
{
    for (size_t i = 0; i < set->n; i++) {
        buf_printf(out, "%s%u", i ? "," : "", set->r[i].lo);
        if (set->r[i].hi > set->r[i].lo)
            buf_printf(out, ":%u", set->r[i].hi);
    }
}
